"""History: every version (deployments), the recent runs, and the audit of switches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static, TabbedContent, TabPane

from sdconsole.tui.format import score, when, words
from sdconsole.tui.screens.base import LiveScreen
from sdconsole.tui.widgets.filter_bar import FilterBar
from sdconsole.tui.widgets.footer import ConsoleFooter
from sdconsole.tui.widgets.keyed_table import KeyedTable

DEPLOYMENT_COLUMNS = [
    ("version", "Version"),
    ("status", "Status"),
    ("score", "Score"),
    ("rows", "Rows"),
    ("operator", "By"),
    ("activated", "Activated"),
]


def deployment_rows(deployments: Iterable[Any]) -> Iterator[tuple[str, tuple]]:
    """Rows for a KeyedTable with DEPLOYMENT_COLUMNS, keyed by version."""
    for d in deployments:
        yield (
            str(d.version),
            (
                f"v{d.version}",
                words(d.status),
                score(d.quality_score),
                d.rows,
                d.operator or "",
                when(d.activated_at),
            ),
        )


class HistoryScreen(LiveScreen):
    TITLE = "History"
    AUTO_FOCUS = "#deployments"
    BINDINGS = [
        Binding("escape", "close", "Back", id="back"),
        Binding("1", "tab('versions')", "Versions tab", id="tab_1", show=False),
        Binding("2", "tab('runs')", "Runs tab", id="tab_2", show=False),
        Binding("3", "tab('audit')", "Audit tab", id="tab_3", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static("History", classes="title")
        with TabbedContent():
            with TabPane("1 Versions", id="versions"):
                yield KeyedTable(DEPLOYMENT_COLUMNS, id="deployments")
            with TabPane("2 Runs", id="runs"):
                yield KeyedTable(
                    [
                        ("started", "Started"),
                        ("outcome", "Outcome"),
                        ("operator", "By"),
                        ("score", "Score"),
                        ("error", "Note"),
                    ],
                    id="run-table",
                    wide="error",
                )
            with TabPane("3 Audit", id="audit"):
                yield KeyedTable(
                    [
                        ("at", "At"),
                        ("action", "Action"),
                        ("from", "From"),
                        ("to", "To"),
                        ("operator", "By"),
                        ("detail", "Detail"),
                    ],
                    id="audit-table",
                    wide="detail",
                )
        yield FilterBar()
        yield ConsoleFooter()

    def sync(self) -> None:
        status = self.console.status
        if status is None:  # a re-read failed: keep what is shown
            return
        self.query_one("#deployments", KeyedTable).sync(deployment_rows(status.deployments))
        self.query_one("#run-table", KeyedTable).sync(
            (
                r.run_id,
                (
                    when(r.started_at),
                    words(r.outcome) or "unfinished",
                    r.operator or "",
                    score(r.quality_score),
                    r.error
                    or (f"override: {r.gate_override_reason}" if r.gate_override_reason else ""),
                ),
            )
            for r in status.runs
        )
        self.query_one("#audit-table", KeyedTable).sync(
            (
                str(i),
                (
                    when(a["at"]),
                    words(a["action"]),
                    _version(a["from_version"]),
                    _version(a["to_version"]),
                    a["operator"] or "",
                    a["detail"] or "",
                ),
            )
            for i, a in enumerate(status.audit)
        )

    def action_close(self) -> None:
        self.dismiss()


def _version(value: int | None) -> str:
    return f"v{value}" if value is not None else ""
