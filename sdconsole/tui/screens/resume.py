"""At start: a run stopped mid-stage last time. Resume it, discard it, or decide later."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from sdconsole.tui.widgets.footer import ConsoleFooter


class ResumeModal(ModalScreen[str | None]):
    """Dismisses with 'resume', 'discard' or None (later)."""

    BINDINGS = [
        Binding("r", "choose('resume')", "Resume", id="resume"),
        Binding("d", "choose('discard')", "Discard", id="discard"),
        Binding("escape", "choose(None)", "Later", id="back"),
    ]

    def __init__(self, run: Any) -> None:
        super().__init__()
        self.run = run

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("An interrupted run", classes="dialog-title")
            yield Static(
                f"Run {self.run.run_id} stopped during {self.run.stage}: {self.run.error}.",
                markup=False,
            )
            yield Static(
                "r resumes it in a run process of its own, from where it stopped (what it"
                " did stays done); d discards what it left"
                " in PostgreSQL. The active version is untouched either way.",
                markup=False,
            )
            yield Static("r resume · d discard · esc later", classes="hint")
        yield ConsoleFooter()

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
