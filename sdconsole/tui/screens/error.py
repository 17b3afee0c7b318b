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
    """Dismisses with 'discard' when the operator drops the in-progress version, and with
    'read' when they want to read the step's screen behind it first."""

    BINDINGS = [
        Binding("d", "discard", "Discard version", id="discard"),
        Binding("v", "read", "Read the step", id="read"),
        Binding("escape", "close", "Close", id="back"),
    ]

    def __init__(
        self,
        step: str,
        message: str,
        *,
        outcome: str = "failed",
        discard: str = "",
        hint: str = "",
        readable: bool = False,
    ) -> None:
        super().__init__()
        self.step = step
        self.outcome = outcome
        self.message = message
        self.discard_what = discard
        self.hint = hint
        self.readable = readable  # v dismisses with 'read': the step's screen behind stays

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
            yield Static(
                "v read the step's screen · esc close" if self.readable else "esc close",
                classes="hint",
            )
        yield ConsoleFooter()

    def why_not(self, action: str) -> Unavailable | None:
        if action == "discard" and not self.discard_what:
            return Unavailable("no version was loaded: there is nothing to discard")
        if action == "read" and not self.readable:
            return Unavailable("there is no step screen behind this message")
        return None

    def action_read(self) -> None:
        self.dismiss("read")

    def action_discard(self) -> None:
        self.dismiss("discard")

    def action_close(self) -> None:
        self.dismiss(None)
