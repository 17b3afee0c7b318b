"""Preflight: the checks appear as they run, each with its reason and, when not a pass, the fix."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from sdconsole.engine.runtime import events as ev
from sdconsole.tui.format import labelled, status_cell
from sdconsole.tui.screens.base import ESCAPE, FlowScreen
from sdconsole.tui.screens.detail import Detail
from sdconsole.tui.widgets.keyed_table import KeyedTable


class PreflightScreen(FlowScreen):
    TITLE = "Preflight"
    AUTO_FOCUS = "#checks"
    BINDINGS = [
        *ESCAPE,
    ]

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(
            [("status", "Status"), ("check", "Check"), ("reason", "Reason")],
            id="checks",
            wide="reason",
        )
        yield Static("", id="fix", markup=False)

    def sync_body(self) -> None:
        self.query_one(KeyedTable).sync(
            (name, (status_cell(self.app, c.status), c.name, c.reason))
            for name, c in self.state.checks.items()
        )
        self._show_fix()
        if self.say_stopping():
            return
        failed = sum(c.status == "fail" for c in self.state.checks.values())
        if "preflight" not in self.state.finished:
            self.say("Checking… ($n so far)", n=len(self.state.checks))
        elif failed:
            self.say(
                "[b]$n check(s) failed.[/b] Fix them (v on a check shows its fix), then"
                " start the migration again.",
                "bad",
                n=failed,
            )
        else:
            warned = sum(c.status == "warn" for c in self.state.checks.values())
            self.say(
                "[b]Ready.[/b] Nothing failed$w; profiling follows.",
                "ok",
                w=f" ({warned} warning{'s' * (warned != 1)})" if warned else "",
            )

    @on(DataTable.RowHighlighted)
    def _show_fix(self) -> None:
        table = self.query_one(KeyedTable)
        check = self.state.checks.get(table.current_key or "")
        self.query_one("#fix", Static).update(labelled(check_fields(check)) if check else "")

    def detail(self, table: KeyedTable, key: str) -> Detail | None:
        check = self.state.checks[key]
        return Detail(
            f"Preflight check: {check.name}", [("Status", check.status), *check_fields(check)]
        )


def check_fields(check: ev.CheckResult) -> list[tuple[str, str]]:
    """A check's reason and, when it did not pass, its fix."""
    fields = [("Reason", check.reason)]
    if check.fix and check.status != "pass":
        fields.append(("Fix", check.fix))
    return fields
