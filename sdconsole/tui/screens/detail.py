"""The detail of a selected row: every field in full, wrapped under its label; c copies it.

Tables cut what does not fit with "…"; enter or v on a row opens this, so
nothing is ever only half readable. Values come as plain text, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from sdconsole.tui.format import labelled, readable
from sdconsole.tui.widgets.footer import ConsoleFooter


@dataclass(frozen=True)
class Detail:
    """A title and (label, value) fields; a value may run to many lines."""

    title: str
    fields: Sequence[tuple[str, Any]]

    def as_text(self) -> str:
        """The detail as plain lines, for the clipboard."""
        return "\n".join(
            [self.title, *(f"{label}: {readable(value).plain}" for label, value in self.fields)]
        )


class DetailModal(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="back"),
        Binding("enter", "close", "Close", id="close_detail", show=False),
        Binding("c", "copy", "Copy", id="copy"),
    ]

    def __init__(self, detail: Detail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog detail"):
            yield Static(self.detail.title, classes="dialog-title", markup=False)
            with VerticalScroll():
                yield Static(labelled(self.detail.fields))
            yield Static("↑↓ pgup pgdn scroll · c copy · esc close", classes="hint")
        yield ConsoleFooter()

    def action_copy(self) -> None:
        """Copy through the terminal (OSC 52): works over SSH where the terminal allows it."""
        self.app.copy_to_clipboard(self.detail.as_text())
        self.notify(
            "The detail is on the clipboard (if the terminal allows OSC 52).", title="Copied"
        )

    def action_close(self) -> None:
        self.dismiss(None)
