"""Event output for the command line: readable lines
(:mod:`sdconsole.engine.runtime.render`) wrapped to 80 columns, or one JSON object per line.

A run's output ends with how it ended: its ``RunEnded`` event (outcome, exit
status, error), in JSON the last line, in text followed by a short summary
(outcome, sdconsole's version, the version cut over, rows, rejects, time and
the run dir). Inside :meth:`Printer.ending` the printer holds that event back
until the block is over, so it comes after what the run does while closing,
and makes one from the error when the run failed before it could say.
"""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from sdconsole import __version__
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import EngineError
from sdconsole.engine.runtime.render import describe
from sdconsole.engine.runtime.run import one_line, runs_dir

WIDTH = 80  # columns of a text line, where it can wrap
OUTCOMES = {7: "stopped", 10: "interrupted"}  # exit status -> outcome; others: failed


def ending_of(error: BaseException | None) -> tuple[str, int, str]:
    """How a run that raised ``error`` (None: it did not) ended: outcome, exit status and
    the error's one line, as the command line reports them."""
    if error is None:
        return "succeeded", 0, ""
    if isinstance(error, EngineError):
        return OUTCOMES.get(error.exit_code, "failed"), error.exit_code, str(error)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", 10, "interrupted"
    return "failed", 1, f"internal error: {one_line(error)}"


class Printer:
    """A Run listener printing events to a stream (stdout by default).

    ``workdir`` (when given) lets the summary say where the run dir is.
    """

    def __init__(
        self,
        as_json: bool = False,
        stream: TextIO | None = None,
        verbose: bool = False,
        workdir: Path | None = None,
    ) -> None:
        self.as_json = as_json
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.workdir = workdir
        self._holding = False
        self._ended: ev.RunEnded | None = None
        self._first_ts: float | None = None
        self._figures: dict[str, Any] = {}

    def __call__(self, event: ev.Event) -> None:
        if self._first_ts is None:
            self._first_ts = event.ts
        if isinstance(event, ev.StageFinished) and event.stage in ("load", "cutover"):
            self._figures.update(event.summary)
        if isinstance(event, ev.RunEnded):
            self._ended = event
            if not self._holding:
                self._print_end(event)
            return
        self._print(event)

    @contextlib.contextmanager
    def ending(self) -> Iterator[None]:
        """Print the run's end last: its RunEnded when the block is over, or, when none came,
        one made from the block's error (a run that failed before it began)."""
        self._holding = True
        try:
            yield
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)

    def _finish(self, error: BaseException | None) -> None:
        self._holding = False
        if self._ended is None:
            outcome, code, text = ending_of(error)
            self._ended = ev.RunEnded(stage="run", outcome=outcome, exit_code=code, error=text)
        self._print_end(self._ended)

    def _print(self, event: ev.Event) -> None:
        if self.as_json:
            self._line(json.dumps(event.to_dict(), default=str))
            return
        text = describe(event, self.verbose)
        if text is not None:
            self._line(wrap(text))

    def _print_end(self, event: ev.RunEnded) -> None:
        self._print(event)
        if not self.as_json:
            for text in self.summary(event):
                self._line(wrap(text))

    def summary(self, ended: ev.RunEnded) -> list[str]:
        """The closing lines of a text run: what it came to, and where to look."""
        figures = self._figures
        took = f" in {ended.ts - self._first_ts:,.1f}s" if self._first_ts and ended.ts else ""
        lines = [
            f"== summary: {ended.outcome} (exit {ended.exit_code}){took}, sdconsole {__version__}"
        ]
        if "to_version" in figures:
            lines.append(f"   version v{figures['to_version']} cut over")
        else:
            lines.append("   no version cut over")
        if "rows" in figures:
            lines.append(
                f"   {figures['rows']:,} rows loaded, {figures.get('rejects', 0):,}"
                " rejects (in _rejects)"
            )
        if self.workdir is not None and ended.run_id:
            lines.append(f"   run dir {runs_dir(self.workdir) / ended.run_id}")
        return lines

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def wrap(text: str, width: int = WIDTH) -> str:
    """``text`` in lines of at most ``width`` columns where it has spaces to break at (a path
    or a DSN stays whole), continued under its first word."""
    if len(text) <= width:
        return text
    indent = " " * (6 if text.startswith("   ") else 3)
    return textwrap.fill(
        text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )
