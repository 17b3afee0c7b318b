"""The event log's lines: one per engine event worth reading, progress folded, and the
console's own notices.

Progress arrives up to ten times a second per table; the log keeps none of
those in between. A table's progress becomes one line when it completes, or
when its stage ends first (the last figure reached), saying how many updates
it folds. Lines are only ever appended, so a log view can grow without
re-rendering what it shows. The run's journal (events.jsonl) keeps every event.
A toast goes after a few seconds; its words stay here (kind ``notice``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.render import describe

LOG_LINES = 5000
"""Lines kept in memory."""


@dataclass(frozen=True)
class LogLine:
    """One line of the log: when, which stage, what kind (event, progress, sql) and the text."""

    number: int
    ts: float
    stage: str
    kind: str
    text: str

    @property
    def stamp(self) -> str:
        """The time of day, local, as the log shows it."""
        return datetime.fromtimestamp(self.ts).strftime("%H:%M:%S") if self.ts else ""

    @property
    def moment(self) -> str:
        """Date, time and zone, as the detail shows it."""
        return (
            datetime.fromtimestamp(self.ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
            if self.ts
            else ""
        )


class EventLines:
    """The last LOG_LINES lines of the log, built from the events in order."""

    def __init__(self) -> None:
        self.lines: deque[LogLine] = deque(maxlen=LOG_LINES)
        self._progress: dict[tuple[str, str], tuple[ev.Progress, int]] = {}
        self._count = 0

    def add(self, event: ev.Event) -> list[LogLine]:
        """The lines ``event`` adds (none, one, or a stage's folded progress and its end)."""
        if isinstance(event, ev.Progress):
            key = (event.stage, event.table)
            updates = self._progress.pop(key, (event, 0))[1] + 1
            if event.done < event.total:
                self._progress[key] = (event, updates)
                return []
            return self._line(event, "progress", updates)
        added = []
        if isinstance(event, (ev.StageFinished, ev.StageFailed)):
            for key in [k for k in self._progress if k[0] == event.stage]:
                progress, updates = self._progress.pop(key)
                added += self._line(progress, "progress", updates)
        return added + self._line(event, "sql" if isinstance(event, ev.SqlExecuted) else "event")

    def notice(self, title: str, text: str, ts: float) -> LogLine:
        """A notice the console showed as a toast, kept."""
        self._count += 1
        line = LogLine(self._count, ts, "console", "notice", f"{title}: {text}" if title else text)
        self.lines.append(line)
        return line

    def _line(self, event: ev.Event, kind: str, updates: int = 0) -> list[LogLine]:
        """The event's line, kept ([] for an event the log does not show)."""
        text = describe(event, verbose=True)
        if text is None:
            return []
        if updates > 1:
            text += f" · {updates} updates folded"
        self._count += 1
        line = LogLine(self._count, event.ts, event.stage, kind, text)
        self.lines.append(line)
        return [line]
