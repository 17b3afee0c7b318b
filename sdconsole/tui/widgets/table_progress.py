"""Per-table progress: a bar with the ETA, done/total, and the engine's rows per second.

The ETA is measured by the bar on the App's clock (frozen in snapshot tests);
the rate is the one the engine reports, shown while the table is under way.
When the operator stops the step, an unfinished table says "stopped" instead
of an ETA that would never come.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.clock import Clock
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, ProgressBar

from sdconsole.engine.runtime import events as ev
from sdconsole.tui.format import rate, short


class TableProgressRow(Horizontal):
    """One table's line."""

    DEFAULT_CSS = """
    TableProgressRow { height: 1; }
    TableProgressRow > .name { width: 14; }
    TableProgressRow ProgressBar { width: auto; }
    TableProgressRow Bar { width: 16; }
    TableProgressRow > .figures { width: 1fr; padding-left: 1; color: $text-muted; }
    TableProgressRow.-stopped ETAStatus { display: none; }
    TableProgressRow.-stopped > .figures { color: $warning; }
    """

    def __init__(self, progress: ev.Progress, clock: Clock) -> None:
        super().__init__()
        self.progress = progress
        self.clock = clock
        self.stopped = False

    def compose(self) -> ComposeResult:
        yield Label(short(self.progress.table, 13), classes="name")
        yield ProgressBar(show_eta=True, clock=self.clock)
        yield Label("", classes="figures")

    def on_mount(self) -> None:
        self._draw()

    def show(self, progress: ev.Progress, stopped: bool = False) -> None:
        self.progress, self.stopped = progress, stopped
        if self.is_mounted:
            self._draw()

    def _draw(self) -> None:
        p = self.progress
        self.query_one(ProgressBar).update(total=max(p.total, 1), progress=p.done)
        if p.done >= p.total:
            speed = "done"
        else:
            speed = "stopped" if self.stopped else rate(p.rate, p.unit)
        self.set_class(self.stopped and p.done < p.total, "-stopped")
        self.query_one(".figures", Label).update(f"{p.done:,}/{p.total:,} {speed}".rstrip())


class TableProgress(VerticalScroll):
    """One row per table, added as tables start reporting; at most a third of the screen
    (a source of many tables scrolls here, and the table under way is kept in view), so the
    step's own table below keeps its room."""

    can_focus = False
    DEFAULT_CSS = """
    TableProgress { height: auto; max-height: 33%; }
    """

    def __init__(self, clock: Clock, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.rows: dict[str, TableProgressRow] = {}

    def show(self, progress: dict[str, ev.Progress], stopped: bool = False) -> None:
        """Bring the rows up to date; ``stopped``: the operator stopped this stage."""
        for table, event in progress.items():
            row = self.rows.get(table)
            if row is None:
                row = self.rows[table] = TableProgressRow(event, self.clock)
                self.mount(row)
            elif row.progress is not event or row.stopped != stopped:
                row.show(event, stopped)
        working = [row for row in self.rows.values() if row.progress.done < row.progress.total]
        if working:
            self.scroll_to_widget(working[0], animate=False)
