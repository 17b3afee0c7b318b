"""What every console screen shares: redrawing from state, the detail of a row, the filter,
tabs that hand the keys to their table; and for migration steps, breadcrumb and verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent

from sdconsole.engine.steps import Gate
from sdconsole.tui.explain import Explains, Unavailable
from sdconsole.tui.messages import Request
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.detail import Detail, DetailModal
from sdconsole.tui.stopping import stop_terms
from sdconsole.tui.widgets.breadcrumb import Breadcrumb
from sdconsole.tui.widgets.filter_bar import Filterable, FilterBar
from sdconsole.tui.widgets.footer import ConsoleFooter
from sdconsole.tui.widgets.keyed_table import KeyedTable
from sdconsole.tui.widgets.table_progress import TableProgress

if TYPE_CHECKING:
    from sdconsole.tui.app import ConsoleApp
    from sdconsole.tui.flow import Flow
    from sdconsole.tui.state import FlowState, RunFiles


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
        if target is not None and hasattr(target, "set_filter"):
            self.query_one(FilterBar).open_for(cast(Filterable, target))

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


ESCAPE = [
    Binding("escape", "back", "Stop run", id="back"),
    Binding("escape", "home", "Home", id="home"),  # instead, once the run has ended
]
"""esc on a step's screen, last in its BINDINGS (a screen's own bindings of a key replace
its base class's)."""


class FlowScreen(LiveScreen):
    """A step of the run: breadcrumb, body, filter, verdict line and footer.

    The screen renders the run's state only (:attr:`state`, :attr:`files`) and
    posts the operator's requests (:class:`~sdconsole.tui.messages.Request`).
    While a step runs, x stops the run at its next safe point after a y/n
    naming what is kept and discarded; esc does the same from any step.
    """

    BINDINGS = [
        Binding("x", "cancel", "Stop run", id="cancel", show=False),  # the footer shows esc
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

    @property
    def files(self) -> RunFiles:
        return self.flow.files

    def sync(self) -> None:
        self.query_one(Breadcrumb).show(self.state.steps, self.state.position)
        self.sync_body()
        ended = self.state.ended
        if ended is not None and ended.outcome != "succeeded":
            self.say(
                "[b]The run has ended ($outcome):[/b] $error esc goes back to Home.",
                "bad",
                outcome=ended.outcome,
                error=ended.error or ended.outcome,
            )

    def sync_body(self) -> None:
        """The body and the verdict, from the state and the run's files."""

    def request(self, op: str, **args: object) -> None:
        """Ask the App to send the run a command (it says why when it cannot)."""
        self.post_message(Request(op, **args))

    def say(self, markup: str, kind: str = "", **values: object) -> None:
        """Set the verdict line under the body: kind is '', 'ok', 'warn' or 'bad'."""
        verdict = self.query_one("#verdict", Static)
        verdict.update(Content.from_markup(markup, **{k: str(v) for k, v in values.items()}))
        verdict.set_classes(kind)

    def show_progress(self, stage: str) -> None:
        """The per-table bars of ``stage``."""
        self.query_one(TableProgress).show(
            self.state.progress.get(stage, {}), stopped=self.state.cancelling
        )

    def say_stopping(self) -> bool:
        """While the run stops after a cancel: say so (True), instead of the screen's verdict."""
        if not self.state.cancelling:
            return False
        self.say("Stopping run $run at its next safe point…", "warn", run=self.state.run_id)
        return True

    def waits(self, gate: Gate) -> bool:
        return self.state.waits_at(gate)

    def action_cancel(self) -> None:
        """x and esc: stop the run at its next safe point, after a y/n saying what stays."""
        step = self.state.running or (self.state.waiting.gate if self.state.waiting else "")
        stable = self.console.settings.stable_schema
        kept, discarded = stop_terms(self.state.running or "gate", stable, None)
        self.app.push_screen(
            ConfirmModal(
                "Stop the run",
                f"Stop run {self.state.run_id} ({step or 'starting'}) at its next safe point?",
                f"Kept: {kept}\nDiscarded: {discarded}\nAn interrupted run can be"
                " resumed (sdconsole resume) or discarded afterwards.",
            ),
            lambda yes: self.request("cancel") if yes else None,
        )

    def action_back(self) -> None:
        self.action_cancel()

    def action_home(self) -> None:
        self.console.leave_ended_run()

    def running(self, dimmed: bool = False) -> Unavailable | None:
        """Unavailable while a step runs (None when the run waits): the reason names it."""
        busy = self.state.running
        if not busy:
            return None
        return Unavailable(f"{busy} is running: wait for it to finish, or x stops the run", dimmed)

    def why_not(self, action: str) -> Unavailable | None:
        if action in ("cancel", "back") and self.state.ended is not None:
            return Unavailable("the run has ended")
        if action == "home" and self.state.ended is None:
            return Unavailable("")  # esc stops the run while it goes on
        if action in ("cancel", "back") and self.flow.watch:
            return Unavailable(
                "this console only watches: the console that controls the run can stop it"
            )
        return super().why_not(action)
