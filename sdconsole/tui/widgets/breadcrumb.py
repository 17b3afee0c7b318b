"""Where the run is: the steps of its mode (Preflight > Profile > Clean > ... > Cutover)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from sdconsole.engine.steps import Step


def breadcrumb(steps: Sequence[Step], current: Step | None) -> Content:
    """Done steps ticked, the current one highlighted, the rest dimmed."""
    at = steps.index(current) if current in steps else -1
    parts = []
    for index, step in enumerate(steps):
        label = step.value.capitalize()
        if index < at:
            parts.append(Content.from_markup("[$success]✓ $label[/]", label=label))
        elif index == at:
            parts.append(Content.from_markup("[b $accent]▶ $label[/]", label=label))
        else:
            parts.append(Content.from_markup("[$text-muted]$label[/]", label=label))
    return Content(" › ").join(parts)


class Breadcrumb(Static):
    """The run's steps; its screen calls :meth:`show` when it redraws."""

    DEFAULT_CSS = """
    Breadcrumb { height: 1; padding: 0 1; background: $panel; }
    """

    def show(self, steps: Sequence[Step], current: Step | None) -> None:
        self.update(breadcrumb(steps, current))
