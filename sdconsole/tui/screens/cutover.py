"""Cutover confirmation: exactly what changes, the backup, the statements; type the name to go.

The plan is the one the run announced when it reached the cutover gate, so
a console attaching while the run waits shows the same confirmation. Every
statement is shown in full, numbered, wrapped under its number; the
list takes a quarter of the terminal's height at most (so the name field
stays on screen at 60x20, with a change of shape shown) and scrolls with
pgup/pgdn while the name is being typed.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from sdconsole.tui.format import labelled
from sdconsole.tui.state import CutoverView
from sdconsole.tui.widgets.footer import ConsoleFooter


class CutoverModal(ModalScreen[bool]):
    """Dismisses True only after the operator typed the new version's schema name."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="back"),
        Binding("pageup", "scroll_statements(-1)", "Statements up", id="statements_up", show=False),
        Binding(
            "pagedown", "scroll_statements(1)", "Statements down", id="statements_down", show=False
        ),
    ]

    def __init__(self, plan: CutoverView) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        plan = self.plan
        current = f"version {plan.from_version}" if plan.from_version else "nothing (first load)"
        with Vertical(classes="dialog wide cutover"):
            yield Static(f"Cutover of {plan.stable}", classes="dialog-title", markup=False)
            yield Static(
                f"{plan.stable} shows {current} now; after: version {plan.to_version}"
                f" ({plan.to_schema}).",
                markup=False,
            )
            yield Static(f"Backup first: {plan.backup_line()}", markup=False)
            shape = plan.shape_lines()
            if shape:
                yield Static(
                    "\n".join(shape), markup=False, classes="problem" if plan.breaking else ""
                )
            yield Static(
                f"{len(plan.statements)} statements, in one transaction (pgup/pgdn):",
                classes="label",
            )
            with VerticalScroll(classes="statements"):
                yield Static(
                    labelled((f"{i}.", statement) for i, statement in enumerate(plan.statements, 1))
                )
            yield Static(f"Type {plan.to_schema} and press enter to cut over:", markup=False)
            yield Input(placeholder="the new version's schema name")
            yield Static("", id="problem", classes="problem", markup=False)
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.plan.to_schema:
            self.dismiss(True)
        else:
            self.query_one("#problem", Static).update(
                f"That is not {self.plan.to_schema}; nothing was changed."
            )

    def action_scroll_statements(self, pages: int) -> None:
        statements = self.query_one(".statements", VerticalScroll)
        if pages < 0:
            statements.scroll_page_up()
        else:
            statements.scroll_page_down()

    def action_cancel(self) -> None:
        self.dismiss(False)
