"""The footer: the keys that work now; below 80 columns compact and without the ctrl+p hint,
so that the keys themselves fit."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

NARROW = 80


class ConsoleFooter(Footer):
    def on_mount(self) -> None:
        self._fit(self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(self.app.size.width)

    def _fit(self, width: int) -> None:
        narrow = width < NARROW
        if narrow != self.compact:
            self.compact = narrow
            self.show_command_palette = not narrow
            self.refresh(recompose=True)
