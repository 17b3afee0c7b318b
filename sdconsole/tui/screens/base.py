"""What every console screen shares: redrawing from state, the detail of a row, the filter,
tabs that hand the keys to their table; and for migration steps, breadcrumb and verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent

from sdconsole.tui.explain import Explains, Unavailable
from sdconsole.tui.screens.detail import Detail, DetailModal
from sdconsole.tui.widgets.breadcrumb import Breadcrumb
from sdconsole.tui.widgets.filter_bar import FilterBar
from sdconsole.tui.widgets.keyed_table import KeyedTable

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
        if action == "detail" and self._focused_row() is None:
            return Unavailable("v shows the row under the cursor of a table: move to one first")
        if action == "filter" and not hasattr(self.focused, "set_filter"):
            return Unavailable("/ filters a table or the log: move to one first")
        return None


class FlowScreen(LiveScreen):
    """A step of the migration: breadcrumb, body, filter, verdict line and footer."""

    STEP: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield Breadcrumb()
        yield from self.compose_body()
        yield FilterBar()
        yield Static("", id="verdict")
        yield Footer()

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

    def action_cancel(self) -> None:
        self.flow.cancel()

    def action_back(self) -> None:
        self.flow.confirm_leave()

    def running(self, dimmed: bool = False) -> Unavailable | None:
        """Unavailable while a step runs (None when idle): the reason names the step."""
        busy = self.console.busy
        if not busy:
            return None
        return Unavailable(f"{busy} is running: wait for it to finish, or x stops it", dimmed)

    def why_not(self, action: str) -> Unavailable | None:
        """While a step runs: esc is dimmed, cancel shown; subclasses add their rules."""
        if action == "cancel" and not self.console.busy:
            return Unavailable("nothing is running to stop")
        if action == "back":
            return self.running(dimmed=True)
        return super().why_not(action)
