"""Canary: a sample loaded through the real code path, compared with the source side by side.

The operator approves the full load, or stops (esc) with nothing left behind:
the canary schema is dropped by the engine either way.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import TabbedContent, TabPane

from sdconsole.engine.steps import Gate
from sdconsole.tui.explain import Unavailable
from sdconsole.tui.format import ok_cell
from sdconsole.tui.screens.base import ESCAPE, FlowScreen
from sdconsole.tui.widgets.keyed_table import KeyedTable
from sdconsole.tui.widgets.table_progress import TableProgress


class CanaryScreen(FlowScreen):
    TITLE = "Canary"
    AUTO_FOCUS = "#metric-table"
    BINDINGS = [
        Binding("a", "approve", "Approve load", id="approve"),
        *ESCAPE,
        Binding("1", "tab('metrics')", "Metrics tab", id="tab_1", show=False),
        Binding("2", "tab('queries')", "Queries tab", id="tab_2", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield TableProgress(self.console.clock)
        with TabbedContent():
            with TabPane("1 Metrics", id="metrics"):
                yield KeyedTable(
                    [
                        ("ok", "OK"),
                        ("table", "Table"),
                        ("metric", "Metric"),
                        ("source", "Source"),
                        ("canary", "Canary"),
                    ],
                    id="metric-table",
                    wide="metric",
                )
            with TabPane("2 Queries", id="queries"):
                yield KeyedTable(
                    [
                        ("ok", "OK"),
                        ("query", "Dashboard query"),
                        ("rows", "Rows"),
                        ("error", "Error"),
                    ],
                    id="query-table",
                    wide="error",
                )

    @property
    def report(self) -> Any:
        return self.state.canary_report

    def sync_body(self) -> None:
        self.show_progress("canary" if "canary" in self.state.progress else "clean")
        report = self.report
        metrics = self.state.metrics
        if report is not None:  # done: failures first (rows keep still while they arrive)
            metrics = sorted(metrics, key=lambda m: m.ok)
            self.query_one("#query-table", KeyedTable).sync(
                (q.name, (ok_cell(self.app, q.ok), q.name, q.rows, q.error or ""))
                for q in sorted(report.queries, key=lambda q: q.ok)
            )
        self.query_one("#metric-table", KeyedTable).sync(
            (
                f"{m.table}.{m.metric}",
                (ok_cell(self.app, m.ok), m.table, m.metric, m.source, m.canary),
            )
            for m in metrics
        )
        busy = self.state.running
        if self.say_stopping():
            return
        if busy == "clean":
            self.say("Cleaning the working copy (one transaction; the source is not touched)…")
        elif busy == "canary":
            self.say("Loading the canary sample and comparing it with the source…")
        elif self.state.ended is not None:
            self.say(
                "[b]$outcome:[/b] $error",
                "bad",
                outcome=self.state.ended.outcome,
                error=self.state.ended.error,
            )
        elif report is None:
            self.say("")
        elif report.ok:
            self.say(
                "[b]Canary passed:[/b] every metric agrees and every dashboard query ran."
                " a approves the full load.",
                "ok",
            )
        else:
            self.say(
                "[b]Canary failed.[/b] esc stops here; nothing was loaded. $summary",
                "bad",
                summary=report.summary.removeprefix("canary failed "),
            )

    def why_not(self, action: str) -> Unavailable | None:
        if action == "approve":
            if not self.waits(Gate.CANARY) or self.report is None:
                return Unavailable("the clean and the canary are not done yet")
            if not self.report.ok:
                return Unavailable("the canary failed: esc stops here (nothing was loaded)")
        return super().why_not(action)

    def action_approve(self) -> None:
        self.request("approve", gate=Gate.CANARY)
