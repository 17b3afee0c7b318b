"""Ask for a line of text (an override reason, a source path); enter submits, esc cancels."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from sdconsole.tui.widgets.footer import ConsoleFooter


class PromptModal(ModalScreen[str | None]):
    """``check`` returns a one-line problem with the answer, or '' when it is acceptable."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="back")]

    def __init__(
        self,
        title: str,
        question: str,
        *,
        placeholder: str = "",
        check: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.placeholder = placeholder
        self.check = check or (lambda text: "" if text.strip() else "an answer is required")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.question, markup=False)
            yield Input(placeholder=self.placeholder)
            yield Static("", id="problem", classes="problem", markup=False)
            yield Static("enter submit · esc cancel", classes="hint")
        yield ConsoleFooter()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        problem = self.check(event.value)
        if problem:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(event.value.strip())

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
