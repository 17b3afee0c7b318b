"""A run: its id and directory, the events.jsonl journal, listeners, cancel and health checks.

Every stage receives a :class:`Run` and reports through it. ``emit`` stamps
each event, appends it to ``runs/<run_id>/events.jsonl`` and hands it to the
listeners (the console, the command line, the logger). ``progress`` is the
throttled way to report work, and the point where a stage notices a cancel
request or a health floor crossed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput, EngineError, HealthError, Interrupted

Listener = Callable[[ev.Event], None]

PROGRESS_INTERVAL = 0.1  # seconds between Progress events of one table
JOURNAL = "events.jsonl"  # a run's events, one JSON object a line
BLOCK = 64 * 1024  # bytes of a journal read at a time, from its end


def new_run_id() -> str:
    """Sortable (to the millisecond) and unique: UTC time plus a few random hex digits."""
    now = datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def runs_dir(workdir: Path) -> Path:
    return workdir / "runs"


class Run:
    """One run of one or more stages, journalled under ``workdir/runs/<run_id>/``."""

    def __init__(
        self,
        workdir: Path,
        *,
        run_id: str | None = None,
        listeners: list[Listener] | None = None,
        min_free_disk_mb: int = 0,
        min_free_memory_mb: int = 0,
    ) -> None:
        self.run_id = run_id or new_run_id()
        self.workdir = workdir
        self.dir = runs_dir(workdir) / self.run_id
        try:
            # Runs hold copies of customer data: private to the operator.
            runs_dir(workdir).mkdir(mode=0o700, parents=True, exist_ok=True)
            self.dir.mkdir(mode=0o700, exist_ok=True)
            journal = self.dir / JOURNAL
            self._seq = _last_seq(self.dir)  # a resumed run goes on numbering its journal
            self._journal = private_file(journal).open("a", encoding="utf-8")
            if self._seq and _torn(journal):
                self._journal.write("\n")  # a killed writer's torn line stays on its own
        except OSError as exc:
            raise BadInput(f"work dir {workdir} is not writable: {exc.strerror}") from None
        self.listeners: list[Listener] = list(listeners or [])
        self.cancel_requested = threading.Event()
        self.min_free_disk = min_free_disk_mb * 1024 * 1024
        self.min_free_memory = min_free_memory_mb * 1024 * 1024
        self._lock = threading.RLock()
        self._last_progress: dict[tuple[str, str], float] = {}
        self._table_started: dict[tuple[str, str], float] = {}

    @classmethod
    def for_settings(
        cls, settings: Any, *, run_id: str | None = None, listeners: list[Listener] | None = None
    ) -> Run:
        """A run in the settings' work dir, with their disk and memory floors."""
        return cls(
            settings.workdir,
            run_id=run_id,
            listeners=listeners,
            min_free_disk_mb=settings.min_free_disk_mb,
            min_free_memory_mb=settings.min_free_memory_mb,
        )

    # -- events ---------------------------------------------------------------

    def emit(self, event: ev.Event) -> ev.Event:
        """Stamp, journal and publish an event; return the stamped event.

        Stages may emit from several threads; listeners see one event at a
        time, in ``seq`` order.
        """
        with self._lock:
            self._seq += 1
            event = dataclasses.replace(event, run_id=self.run_id, seq=self._seq, ts=time.time())
            try:
                self._journal.write(json.dumps(event.to_dict(), default=str) + "\n")
                self._journal.flush()
            except OSError:
                pass  # a full disk must not hide the event from the operator
            for listener in self.listeners:
                listener(event)
        return event

    def progress(self, stage: str, table: str, done: int, total: int, unit: str = "rows") -> None:
        """Report work on a table, at most every 100 ms (always the first and last).

        Also the stage's safe point: raises Interrupted after a cancel request
        and HealthError when free disk or memory fall below the floor.
        """
        key = (stage, table)
        now = time.monotonic()
        started = self._table_started.setdefault(key, now)
        last = self._last_progress.get(key)
        if last is not None and done < total and now - last < PROGRESS_INTERVAL:
            return
        self._last_progress[key] = now
        self.check()
        rate = done / (now - started) if now > started else 0.0
        self.emit(
            ev.Progress(
                stage=stage, table=table, done=done, total=total, unit=unit, rate=round(rate, 1)
            )
        )

    def check(self) -> None:
        """Raise if the operator cancelled or a health floor is crossed."""
        if self.cancel_requested.is_set():
            raise Interrupted("cancelled by the operator")
        if self.min_free_disk:
            free = psutil.disk_usage(str(self.workdir)).free
            if free < self.min_free_disk:
                raise HealthError(
                    f"free disk in {self.workdir} is {free // 2**20} MB,"
                    f" below the floor of {self.min_free_disk // 2**20} MB"
                )
        if self.min_free_memory:
            available = psutil.virtual_memory().available
            if available < self.min_free_memory:
                raise HealthError(
                    f"available memory is {available // 2**20} MB,"
                    f" below the floor of {self.min_free_memory // 2**20} MB"
                )

    @contextlib.contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[StageSummary]:
        """Bracket a stage with StageStarted and StageFinished/StageFailed events.

        The body fills the yielded dict with its headline figures; after the
        block its ``seconds`` are the ones the StageFinished event reports.
        Errors are re-raised after the StageFailed event, as one line.
        """
        started = time.monotonic()
        summary = StageSummary()
        self.emit(ev.StageStarted(stage=name, detail=detail))
        try:
            yield summary
        except BaseException as exc:
            self.emit(
                ev.StageFailed(
                    stage=name, error=one_line(exc), seconds=round(time.monotonic() - started, 3)
                )
            )
            raise
        summary.seconds = round(time.monotonic() - started, 3)
        self.emit(ev.StageFinished(stage=name, summary=dict(summary), seconds=summary.seconds))

    def close(self) -> None:
        with self._lock:
            self._journal.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StageSummary(dict[str, Any]):
    """A stage's headline figures, and once it finished the seconds it took."""

    seconds: float = 0.0


def one_line(exc: BaseException) -> str:
    """An exception as the single line an operator sees."""
    if isinstance(exc, EngineError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _last_seq(run_dir: Path) -> int:
    """The ``seq`` of a journal's last whole event (0 for none)."""
    last = next(journal_tail(run_dir), None)
    return last.seq if last is not None else 0


def journal_tail(run_dir: Path) -> Iterator[ev.Event]:
    """A journal's events, last first, read block by block from the end; a torn line (a
    killed writer's) is skipped."""
    try:
        fd = os.open(run_dir / JOURNAL, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        end = os.fstat(fd).st_size
        rest = b""  # the start of a line whose beginning is in an earlier block
        while end > 0:
            start = max(0, end - BLOCK)
            block = os.pread(fd, end - start, start) + rest
            end = start
            lines = block.split(b"\n")
            rest = lines.pop(0) if start > 0 else b""
            for line in reversed(lines):
                event = journal_event(line)
                if event is not None:
                    yield event
    finally:
        os.close(fd)


def journal_event(line: bytes | str) -> ev.Event | None:
    try:
        return ev.from_dict(json.loads(line))
    except (ValueError, KeyError, TypeError):
        return None


def _torn(journal: Path) -> bool:
    """Whether the journal's last line lacks its newline (its writer was killed mid-line)."""
    with journal.open("rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def read_journal(run_dir: Path) -> list[ev.Event]:
    """Events of a run, in order; a torn last line (killed writer) is skipped."""
    path = run_dir / JOURNAL
    result: list[ev.Event] = []
    if not path.exists():
        return result
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            result.append(ev.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue
    return result


def list_runs(workdir: Path) -> list[Path]:
    """Run directories, newest first."""
    root = runs_dir(workdir)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir()), reverse=True)


def fsync(path: Path) -> None:
    """Make a finished file (or a rename in a directory) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_file(path: Path) -> Path:
    """Create ``path`` (if need be) readable by its owner only, before anything is written
    to it: runs hold customer data. Returns the path."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)  # a file an older version made 0644
    return path


def write_json(path: Path, data: Any) -> None:
    """Write JSON complete or not at all (0600 temp file, fsync, rename): readers never see
    half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(
        os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8"
    ) as out:
        out.write(json.dumps(data, indent=2, default=str))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


RECORD = "run.json"  # a migration run's own record: see read_record


def read_record(run_dir: Path) -> dict[str, Any]:
    """What a migration run wrote about itself: source, mode and approvals when it took the
    lock, and outcome, error and whether it can be resumed when it closed ({} for other
    runs). A record without an outcome is a run that is running or was killed."""
    try:
        data = json.loads((run_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_record(run_dir: Path, **fields: Any) -> None:
    write_json(run_dir / RECORD, {**read_record(run_dir), **fields})
