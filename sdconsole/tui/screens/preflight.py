"""Preflight: the checks appear as they run, each with its reason and, when not a pass, the fix."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from sdconsole.engine.runtime import events as ev
from sdconsole.tui.explain import Unavailable
from sdconsole.tui.format import labelled, status_cell
from sdconsole.tui.screens.base import FlowScreen
from sdconsole.tui.screens.detail import Detail
from sdconsole.tui.widgets.keyed_table import KeyedTable


class PreflightScreen(FlowScreen):
    TITLE = "Preflight"
    STEP = "preflight"
    ENTER_GOES_ON = True
    AUTO_FOCUS = "#checks"
    BINDINGS = [
        Binding("enter", "continue", "Profile", id="continue", priority=True),
        Binding("r", "rerun", "Re-run", id="rerun"),
        Binding("escape", "back", "Back", id="back"),
    ]

    def compose_body(self) -> ComposeResult:
        yield KeyedTable([("status", "Status"), ("check", "Check"), ("reason", "Reason")],
                         id="checks", wide="reason")
        yield Static("", id="fix", markup=False)

    @property
    def report(self):
        return self.state.result("preflight")

    def sync(self) -> None:
        self.query_one(KeyedTable).sync(
            (name, (status_cell(self.app, c.status), c.name, c.reason))
            for name, c in self.state.checks.items()
        )
        self._show_fix()
        report = self.report
        if self.say_stopped():
            return
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
            self.say("[b]$n check(s) failed.[/b] Fix them (v on a check shows its fix), then"
                     " r re-runs.", "bad", n=failed)

    @on(DataTable.RowHighlighted)
    def _show_fix(self) -> None:
        table = self.query_one(KeyedTable)
        check = self.state.checks.get(table.current_key or "")
        self.query_one("#fix", Static).update(labelled(check_fields(check)) if check else "")

    def detail(self, table: KeyedTable, key: str) -> Detail | None:
        check = self.state.checks[key]
        return Detail(f"Preflight check: {check.name}",
                      [("Status", check.status), *check_fields(check)])

    def why_not(self, action: str) -> Unavailable | None:
        report = self.report
        if action in ("continue", "rerun"):
            if self.running() or report is None:
                return Unavailable("preflight is still checking")
            if action == "continue" and not report.ok:
                failed = sum(c.status == "fail" for c in report.checks)
                return Unavailable(f"{failed} check(s) failed: fix them, then r re-runs"
                                   " (v shows a check with its fix)")
        return super().why_not(action)

    def action_continue(self) -> None:
        self.flow.to_profile()

    def action_rerun(self) -> None:
        self.flow.rerun_preflight()


def check_fields(check: ev.CheckResult) -> list[tuple[str, str]]:
    """A check's reason and, when it did not pass, its fix."""
    fields = [("Reason", check.reason)]
    if check.fix and check.status != "pass":
        fields.append(("Fix", check.fix))
    return fields
