"""``?``: the keys of the screen underneath, what each does, and why one does not work now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from sdconsole.tui.explain import screen_bindings
from sdconsole.tui.widgets.footer import ConsoleFooter
from sdconsole.tui.widgets.keyed_table import KeyedTable


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back", id="back"),
        Binding("question_mark", "close", "Back", id="help", show=False),
    ]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.under = screen

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(f"Keys: {self.under.title}", classes="dialog-title", markup=False)
            yield KeyedTable(
                [("key", "Key"), ("does", "Does"), ("now", "Now")],
                cursor_type="none",
                wide="now",
                wrap=True,
            )
            yield Static(
                "Arrows, pgup/pgdn move in tables; tab moves between panes; ctrl+p"
                " finds any action by name. Keys are remapped in sdconsole.toml"
                " ([keymap]; the runbook's Console page lists the ids).",
                classes="hint",
                markup=False,
            )
        yield ConsoleFooter()

    def on_mount(self) -> None:
        """One row per binding of the screen below and of the App (keymap applied)."""
        self.query_one(KeyedTable).sync(
            (
                binding.id,
                (
                    self.app.get_key_display(binding),
                    binding.description,
                    "yes" if blocked is None else f"not now: {blocked.reason}",
                ),
            )
            for _, binding, blocked in screen_bindings(self.under)
            if binding.id
        )

    def action_close(self) -> None:
        self.dismiss(None)
