"""A yes/no question for anything destructive: y confirms, n or esc declines."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from sdconsole.tui.widgets.footer import ConsoleFooter


class ConfirmModal(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="yes"),
        Binding("n", "answer(False)", "No", id="no"),
        Binding("escape", "answer(False)", "No", id="back", show=False),
    ]

    def __init__(self, title: str, question: str, detail: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.question, markup=False)
            if self.detail:
                yield Static(self.detail, classes="detail", markup=False)
            yield Static("y yes · n no", classes="hint")
        yield ConsoleFooter()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
