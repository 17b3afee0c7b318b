"""Cutover confirmation: exactly what changes, the backup, the statements; type the name to go."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static


class CutoverModal(ModalScreen[bool]):
    """Dismisses True only after the operator typed the new version's schema name."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="back")]

    def __init__(self, plan: Any) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        current = f"version {plan.from_version}" if plan.from_version else "nothing (first load)"
        with Vertical(classes="dialog wide"):
            yield Static(f"Cutover of {plan.stable}", classes="dialog-title", markup=False)
            yield Static(f"{plan.stable} shows {current} now; after: version {plan.to_version}"
                         f" ({plan.to_schema}).", markup=False)
            yield Static(f"Backup first: {plan.backup or 'none (no version is active yet)'}",
                         markup=False)
            shape = plan.shape_lines()
            if shape:
                yield Static("\n".join(shape), markup=False,
                             classes="problem" if plan.shape.breaking else "")
            yield Static(f"{len(plan.statements)} statements, in one transaction:",
                         classes="label")
            with VerticalScroll(classes="statements"):
                yield Static("\n".join(plan.statements), markup=False)
            yield Static(f"Type {plan.to_schema} and press enter to cut over:", markup=False)
            yield Input(placeholder="the new version's schema name")
            yield Static("", id="problem", classes="problem", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.plan.to_schema:
            self.dismiss(True)
        else:
            self.query_one("#problem", Static).update(
                f"That is not {self.plan.to_schema}; nothing was changed.")

    def action_cancel(self) -> None:
        self.dismiss(False)
