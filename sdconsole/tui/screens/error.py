"""An engine step failed: the one-line message, and what the operator can do next."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from sdconsole.tui.explain import Explains, Unavailable
from sdconsole.tui.widgets.footer import ConsoleFooter


class ErrorModal(Explains, ModalScreen[str | None]):
    """Dismisses with 'discard' when the operator drops the in-progress version."""

    BINDINGS = [
        Binding("d", "discard", "Discard version", id="discard"),
        Binding("escape", "close", "Close", id="back"),
    ]

    def __init__(
        self, step: str, message: str, *, outcome: str = "failed", discard: str = "", hint: str = ""
    ) -> None:
        super().__init__()
        self.step = step
        self.outcome = outcome
        self.message = message
        self.discard_what = discard
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error"):
            yield Static(f"{self.step} {self.outcome}", classes="dialog-title", markup=False)
            yield Static(self.message, classes="message", markup=False)
            if self.discard_what:
                yield Static(
                    f"d drops {self.discard_what}; the active version stays as it is.", markup=False
                )
            if self.hint:
                yield Static(self.hint, markup=False)
            yield Static("esc close", classes="hint")
        yield ConsoleFooter()

    def why_not(self, action: str) -> Unavailable | None:
        if action == "discard" and not self.discard_what:
            return Unavailable("no version was loaded: there is nothing to discard")
        return None

    def action_discard(self) -> None:
        self.dismiss("discard")

    def action_close(self) -> None:
        self.dismiss(None)
