"""``?``: the keys of the screen underneath, with the ones that work right now marked."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

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
            yield Static(f"Keys: {self.under.__class__.__name__.removesuffix('Screen')}",
                         classes="dialog-title", markup=False)
            yield KeyedTable([("key", "Key"), ("does", "Does"), ("now", "Now")],
                             cursor_type="none")
            yield Static("Arrows, pgup/pgdn move in tables; tab moves between panes."
                         " Remap a key with [keymap] in sdconsole.toml: id = \"key\".",
                         classes="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        rows = []
        seen = set()
        for active in self.under.active_bindings.values():
            binding = active.binding
            own = active.node is self.under or active.node is self.app
            if not own or not binding.id or (binding.action, binding.id) in seen:
                continue
            seen.add((binding.action, binding.id))
            description = binding.description or binding.action
            rows.append((
                self.app.get_key_display(binding),
                f"{description} ({binding.id})" if binding.id else description,
                "yes" if active.enabled else "not now",
            ))
        table = self.query_one(KeyedTable)
        table.sync((f"{i}", row) for i, row in enumerate(rows))

    def action_close(self) -> None:
        self.dismiss(None)
