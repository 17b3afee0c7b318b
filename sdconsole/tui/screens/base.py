"""What every migration screen shares: breadcrumb, footer, and redrawing from state."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent

from sdconsole.tui.widgets.breadcrumb import Breadcrumb

if TYPE_CHECKING:
    from sdconsole.tui.app import ConsoleApp
    from sdconsole.tui.flow import Flow
    from sdconsole.tui.state import FlowState


class LiveScreen(Screen):
    """A screen the App redraws (:meth:`sync`) whenever what it knows changes."""

    @property
    def console(self) -> ConsoleApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.sync()

    def on_screen_resume(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Bring the widgets up to date with the App's state (cheap; called often)."""


class FlowScreen(LiveScreen):
    """A step of the migration: breadcrumb, body, verdict line and footer."""

    STEP: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield Breadcrumb()
        yield from self.compose_body()
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

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_cancel(self) -> None:
        self.flow.cancel()

    def action_back(self) -> None:
        self.flow.confirm_leave()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys of a stage screen are dimmed while a step runs; subclasses add their rules."""
        if action == "cancel":
            return bool(self.console.busy)
        return True

