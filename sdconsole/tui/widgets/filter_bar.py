"""``/``: a line under a table or the log that shows only what contains the typed text.

The screen opens it for the widget that had the focus (its *target*); the
target filters as the operator types. enter goes back to the target with the
filter kept (the bar stays, saying so); esc clears the filter and closes it.
"""

from __future__ import annotations

from typing import Any, Protocol

from textual import on
from textual.binding import Binding
from textual.widgets import Input


class Filterable(Protocol):
    """A widget that can show only what contains a text."""

    filter_text: str

    def set_filter(self, text: str) -> None: ...

    def focus(self, scroll_visible: bool = True) -> Any: ...


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar, FilterBar:focus { display: none; height: 1; border: none; padding: 0 1; }
    FilterBar.-open { display: block; }
    """
    BINDINGS = [Binding("escape", "clear", "Clear filter", id="clear_filter")]

    def __init__(self) -> None:
        super().__init__(placeholder="filter: type to show only what contains it")
        self.target: Filterable | None = None

    def open_for(self, target: Filterable) -> None:
        """Show the bar with ``target``'s filter and take the keys."""
        self.target = target
        self.value = target.filter_text
        self.add_class("-open")
        self.focus()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self.target is not None:
            self.target.set_filter(event.value)

    @on(Input.Submitted)
    def _done(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value:
            self.remove_class("-open")
        if self.target is not None:
            self.target.focus()

    def action_clear(self) -> None:
        self.value = ""
        self.remove_class("-open")
        if self.target is not None:
            self.target.set_filter("")
            self.target.focus()
