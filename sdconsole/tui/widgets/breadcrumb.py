"""Where the run is: Preflight > Profile > Clean > Canary > Load > Cutover."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from sdconsole.tui.state import STEPS


def breadcrumb(step: str) -> Content:
    """Done steps ticked, the current one highlighted, the rest dimmed."""
    current = STEPS.index(step) if step in STEPS else -1
    parts = []
    for index, name in enumerate(STEPS):
        label = name.capitalize()
        if index < current:
            parts.append(Content.from_markup("[$success]✓ $label[/]", label=label))
        elif index == current:
            parts.append(Content.from_markup("[b $accent]▶ $label[/]", label=label))
        else:
            parts.append(Content.from_markup("[$text-muted]$label[/]", label=label))
    return Content(" › ").join(parts)


class Breadcrumb(Static):
    """Follows the App's ``step`` reactive."""

    DEFAULT_CSS = """
    Breadcrumb { height: 1; padding: 0 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "step", self._show)

    def _show(self, step: str) -> None:
        self.update(breadcrumb(step))
