"""``?``: the keys of the screen underneath, what each does, and why one does not work now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from sdconsole.tui.explain import Explains
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
            yield KeyedTable([("key", "Key"), ("does", "Does"), ("id", "Keymap id"),
                              ("now", "Now")], cursor_type="none", wide="now", wrap=True)
            yield Static("Arrows, pgup/pgdn move in tables; tab moves between panes; ctrl+p"
                         " finds any action by name. Remap a key with [keymap] in"
                         " sdconsole.toml: id = \"key\".", classes="hint", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        """One row per binding of the screen below and of the App (keymap applied)."""
        rows, seen = [], set()
        for node, bindings in self.under._modal_binding_chain:  # private: see App.on_key
            if node is not self.under and node is not self.app:
                continue
            for _, binding in bindings:
                if not binding.id or binding.id in seen:
                    continue
                seen.add(binding.id)
                action = binding.action.partition("(")[0]
                blocked = node.why_not(action) if isinstance(node, Explains) else None
                rows.append((binding.id, (self.app.get_key_display(binding),
                                          binding.description or action, binding.id,
                                          "yes" if blocked is None else
                                          f"not now: {blocked.reason}")))
        self.query_one(KeyedTable).sync(rows)

    def action_close(self) -> None:
        self.dismiss(None)
