"""Pick one of a few values (a column's type, a date order, a mode) with the arrow keys."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static

from sdconsole.tui.widgets.footer import ConsoleFooter


class ChoiceModal(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="back")]

    def __init__(
        self,
        title: str,
        question: str,
        choices: list[str],
        current: str | None = None,
        labels: list[str] | None = None,
        default: str | None = None,
    ) -> None:
        """``labels``, when given, are what the list shows for each of ``choices``. The
        cursor starts on the ``current`` value (a mode, a type), which says so in words, not
        only by the cursor (NO_COLOR); or on ``default``, the answer of a question."""
        super().__init__()
        self.title_text = title
        self.question = question
        self.choices = choices
        self.current = current
        self.start = current or default
        self.labels = labels or choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.question, markup=False)
            options = OptionList(
                *(
                    f"{label} (current)" if choice == self.current else label
                    for choice, label in zip(self.choices, self.labels, strict=True)
                )
            )
            if self.start in self.choices:
                options.highlighted = self.choices.index(self.start)
            yield options
            yield Static("↑↓ choose · enter select · esc cancel", classes="hint")
        yield ConsoleFooter()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
