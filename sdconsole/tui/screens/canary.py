"""Canary: a sample loaded through the real code path, compared with the source side by side.

The operator approves the full load, or stops (esc) with nothing left behind:
the canary schema is dropped by the engine either way.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import TabbedContent, TabPane

from sdconsole.tui.format import ok_cell, short
from sdconsole.tui.screens.base import FlowScreen
from sdconsole.tui.widgets.keyed_table import KeyedTable
from sdconsole.tui.widgets.table_progress import TableProgress


class CanaryScreen(FlowScreen):
    STEP = "canary"
    AUTO_FOCUS = "#metric-table"
    BINDINGS = [
        Binding("a", "approve", "Approve load", id="approve"),
        Binding("x", "cancel", "Cancel step", id="cancel"),
        Binding("escape", "back", "Stop", id="back"),
        Binding("1", "tab('metrics')", "Metrics", id="tab_1", show=False),
        Binding("2", "tab('queries')", "Queries", id="tab_2", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield TableProgress(self.console.clock)
        with TabbedContent():
            with TabPane("1 Metrics", id="metrics"):
                yield KeyedTable([("ok", "OK"), ("table", "Table"), ("metric", "Metric"),
                                  ("source", "Source"), ("canary", "Canary")], id="metric-table")
            with TabPane("2 Queries", id="queries"):
                yield KeyedTable([("ok", "OK"), ("query", "Dashboard query"), ("rows", "Rows"),
                                  ("error", "Error")], id="query-table")

    @property
    def report(self) -> Any:
        return self.state.result("canary")

    def sync(self) -> None:
        stage = "canary" if "canary" in self.state.progress else "clean"
        self.query_one(TableProgress).show(self.state.progress.get(stage, {}))
        self.query_one("#metric-table", KeyedTable).sync(
            (f"{m.table}.{m.metric}", (ok_cell(self.app, m.ok), short(m.table, 14),
                                       short(m.metric, 22), short(m.source, 14),
                                       short(m.canary, 14)))
            for m in self.state.metrics)
        report = self.report
        if report is not None:
            self.query_one("#query-table", KeyedTable).sync(
                (q.name, (ok_cell(self.app, q.ok), short(q.name, 34), q.rows, q.error or ""))
                for q in report.queries)
            for table in self.query(KeyedTable):
                table.sort("ok", key=lambda cell: cell.plain != "✗ fail")  # failures first
        busy = self.console.busy
        if busy == "clean":
            self.say("Cleaning the working copy (one transaction; the source is not touched)…")
        elif busy == "canary":
            self.say("Loading the canary sample and comparing it with the source…")
        elif report is None:
            self.say("")
        elif report.ok:
            self.say("[b]Canary passed:[/b] every metric agrees and every dashboard query ran."
                     " a approves the full load.", "ok")
        else:
            self.say("[b]Canary failed.[/b] esc stops here; nothing was loaded. $summary",
                     "bad", summary=report.summary.removeprefix("canary failed "))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        idle = not self.console.busy
        if action == "approve":
            return idle and self.report is not None and self.report.ok
        if action == "back":
            return True if idle else None
        return super().check_action(action, parameters)

    def action_approve(self) -> None:
        self.flow.approve_canary()
