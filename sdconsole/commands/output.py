"""Event output for the command line: readable lines
(:mod:`sdconsole.engine.runtime.render`), or one JSON object per line."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.render import describe


class Printer:
    """A Run listener printing events to a stream (stdout by default)."""

    def __init__(self, as_json: bool = False, stream: TextIO | None = None,
                 verbose: bool = False) -> None:
        self.as_json = as_json
        self.stream = stream or sys.stdout
        self.verbose = verbose

    def __call__(self, event: ev.Event) -> None:
        line: str | None  # None: nothing to print for this event
        if self.as_json:
            line = json.dumps(event.to_dict(), default=str)
        else:
            line = describe(event, self.verbose)
        if line is not None:
            print(line, file=self.stream, flush=True)
