"""Preflight: the checks appear as they run, each with its reason and, when not a pass, the fix."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from sdconsole.tui.format import short, status_cell
from sdconsole.tui.screens.base import FlowScreen
from sdconsole.tui.widgets.keyed_table import KeyedTable


class PreflightScreen(FlowScreen):
    STEP = "preflight"
    AUTO_FOCUS = "#checks"
    BINDINGS = [
        Binding("enter", "continue", "Profile", id="continue", priority=True),
        Binding("r", "rerun", "Re-run", id="rerun"),
        Binding("x", "cancel", "Cancel step", id="cancel"),
        Binding("escape", "back", "Back", id="back"),
    ]

    def compose_body(self) -> ComposeResult:
        yield KeyedTable([("status", "Status"), ("check", "Check"), ("reason", "Reason")],
                         id="checks")
        yield Static("", id="fix", markup=False)

    @property
    def report(self):
        return self.state.result("preflight")

    def sync(self) -> None:
        self.query_one(KeyedTable).sync(
            (name, (status_cell(self.app, c.status), short(c.name, 20), short(c.reason, 48)))
            for name, c in self.state.checks.items()
        )
        self._show_fix()
        report = self.report
        if self.console.busy in ("open", "preflight"):
            self.say("Checking… ($n so far)", n=len(self.state.checks))
        elif report is None:
            self.say("")
        elif report.ok:
            warned = sum(c.status == "warn" for c in report.checks)
            self.say("[b]Ready.[/b] Nothing failed$w. enter profiles the source.", "ok",
                     w=f" ({warned} warning{'s' * (warned != 1)})" if warned else "")
        else:
            failed = sum(c.status == "fail" for c in report.checks)
            self.say("[b]$n check(s) failed.[/b] Fix them (see the fix under the table), then"
                     " r re-runs.", "bad", n=failed)

    @on(DataTable.RowHighlighted)
    def _show_fix(self) -> None:
        table = self.query_one(KeyedTable)
        check = self.state.checks.get(table.current_key or "")
        text = ""
        if check is not None:
            text = f"{check.name}: {check.reason}"
            if check.fix and check.status != "pass":
                text += f"\nFix: {check.fix}"
        self.query_one("#fix", Static).update(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        idle = not self.console.busy
        report = self.report
        if action == "continue":
            return idle and report is not None and report.ok
        if action == "rerun":
            return idle and report is not None
        if action == "back":
            return True if idle else None
        return super().check_action(action, parameters)

    def action_continue(self) -> None:
        self.flow.to_profile()

    def action_rerun(self) -> None:
        self.flow.rerun_preflight()
