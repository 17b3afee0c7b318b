"""What every console screen shares: redrawing from state, the detail of a row, the filter,
tabs that hand the keys to their table; and for migration steps, breadcrumb and verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent

from sdconsole.tui.explain import Explains, Unavailable
from sdconsole.tui.screens.detail import Detail, DetailModal
from sdconsole.tui.stopping import STOPS
from sdconsole.tui.widgets.breadcrumb import Breadcrumb
from sdconsole.tui.widgets.filter_bar import FilterBar
from sdconsole.tui.widgets.footer import ConsoleFooter
from sdconsole.tui.widgets.keyed_table import KeyedTable
from sdconsole.tui.widgets.table_progress import TableProgress

if TYPE_CHECKING:
    from sdconsole.tui.app import ConsoleApp
    from sdconsole.tui.flow import Flow
    from sdconsole.tui.state import FlowState


class LiveScreen(Explains, Screen):
    """A screen the App redraws (:meth:`sync`) whenever what it knows changes.

    enter or v on a table row opens its detail (:meth:`detail`); / filters the
    focused table (or log) through the screen's FilterBar. Where enter goes on
    to the next step (ENTER_GOES_ON), it never opens a detail: a blocked enter
    says why instead.
    """

    ENTER_GOES_ON: ClassVar[bool] = False

    BINDINGS = [
        Binding("v", "detail", "Detail", id="detail", show=False),
        Binding("slash", "filter", "Filter", id="filter", show=False),
    ]

    @property
    def console(self) -> ConsoleApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.sync()

    def on_screen_resume(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Bring the widgets up to date with the App's state (cheap; called often)."""

    # -- detail ----------------------------------------------------------------

    def detail(self, table: KeyedTable, key: str) -> Detail | None:
        """What enter / v shows for a row: each column's full value; screens say more."""
        fields = table.fields(key)
        return Detail(f"{self.title}: {fields[0][1]}", fields)

    def _focused_row(self) -> tuple[KeyedTable, str] | None:
        table = self.focused
        if isinstance(table, KeyedTable) and table.show_cursor and table.current_key:
            return table, table.current_key
        return None

    def action_detail(self) -> None:
        row = self._focused_row()
        detail = self.detail(*row) if row else None
        if detail is not None:
            self.app.push_screen(DetailModal(detail))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        """enter on a row: its detail, or on a step screen why enter cannot go on now."""
        event.stop()
        if not self.ENTER_GOES_ON:
            self.action_detail()
            return
        blocked = self.why_not("continue")
        if blocked is not None and blocked.reason:
            self.notify(blocked.reason, title="Not yet", severity="warning")

    # -- filter and tabs -------------------------------------------------------

    def action_filter(self) -> None:
        target = self.focused
        if hasattr(target, "set_filter"):
            self.query_one(FilterBar).open_for(target)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        """The keys go to the table of the tab now shown (arrows, t, d, v act on it)."""
        for table in event.pane.query(KeyedTable):
            if table.show_cursor:
                table.focus()
                break

    def why_not(self, action: str) -> Unavailable | None:
        if action == "continue" and isinstance(self.focused, FilterBar):
            return Unavailable("")  # enter ends the filter's typing, it does not go on
        if action == "detail" and self._focused_row() is None:
            return Unavailable("v shows the row under the cursor of a table: move to one first")
        if action == "filter" and not hasattr(self.focused, "set_filter"):
            return Unavailable("/ filters a table or the log: move to one first")
        return None


class FlowScreen(LiveScreen):
    """A step of the migration: breadcrumb, body, filter, verdict line and footer.

    While a step runs, x (and only x) is offered: it stops the step after a y/n
    naming what is kept and discarded; the screen then says so, r runs the step
    again and esc leaves.
    """

    STEP: ClassVar[str] = ""
    BINDINGS = [
        Binding("x", "cancel", "Stop step", id="cancel"),
        Binding("r", "retry", "Retry", id="retry"),
    ]

    def compose(self) -> ComposeResult:
        yield Breadcrumb()
        yield from self.compose_body()
        yield FilterBar()
        yield Static("", id="verdict")
        yield ConsoleFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def flow(self) -> Flow:
        return self.console.flow

    @property
    def state(self) -> FlowState:
        return self.flow.state

    def say(self, markup: str, kind: str = "", **values: object) -> None:
        """Set the verdict line under the body: kind is '', 'ok', 'warn' or 'bad'."""
        verdict = self.query_one("#verdict", Static)
        verdict.update(Content.from_markup(markup, **{k: str(v) for k, v in values.items()}))
        verdict.set_classes(kind)

    def show_progress(self, stage: str) -> None:
        """The per-table bars of ``stage``, marked stopped when the operator stopped it."""
        self.query_one(TableProgress).show(self.state.progress.get(stage, {}),
                                           stopped=self.state.stopped == stage)

    def say_stopped(self) -> bool:
        """While a step stops, and once it has: what happened and what r and esc do now."""
        if self.state.stopping and self.console.busy == self.state.stopping:
            self.say("Stopping $step at its next safe point…", "warn", step=self.state.stopping)
            return True
        step = self.state.stopped
        if not step or self.console.busy:
            return False
        kept, discarded = self.flow.stop_terms(step)
        self.say("[b]$title stopped.[/b] Kept: $kept. Discarded: $discarded. r runs $step"
                 " again; esc leaves this migration.", "warn", title=step.capitalize(),
                 step=step, kept=kept, discarded=discarded)
        return True

    def action_cancel(self) -> None:
        self.flow.confirm_stop()

    def action_retry(self) -> None:
        self.flow.retry()

    def action_back(self) -> None:
        self.flow.confirm_leave()

    def running(self, dimmed: bool = False) -> Unavailable | None:
        """Unavailable while a step runs (None when idle): the reason names the step."""
        busy = self.console.busy
        if not busy:
            return None
        stop = ", or x stops it" if busy in STOPS else ""
        return Unavailable(f"{busy} is running: wait for it to finish{stop}", dimmed)

    def why_not(self, action: str) -> Unavailable | None:
        """While a step runs only x is offered; after a stop, r; subclasses add their rules."""
        busy = self.console.busy
        if action == "cancel" and not busy:
            return Unavailable("nothing is running to stop")
        if action == "cancel" and busy not in STOPS:
            return Unavailable(f"{busy} cannot be stopped: it is what keeps the target"
                               " consistent, and ends by itself")
        if action == "retry" and (busy or not self.state.stopped):
            return Unavailable("r runs a step you stopped again: nothing was stopped")
        if action == "back":
            return self.running()
        return super().why_not(action)
