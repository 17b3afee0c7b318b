"""Clean preview: what each rule would change, with before/after samples; approve or go back.

Nothing is written yet: the preview is the engine's dry run. Values no rule
can convert are listed; the load puts them in the version's _rejects table.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, TabbedContent, TabPane

from sdconsole.engine.steps import Gate
from sdconsole.tui.explain import Unavailable
from sdconsole.tui.format import count
from sdconsole.tui.screens.base import ESCAPE, FlowScreen
from sdconsole.tui.screens.detail import Detail
from sdconsole.tui.widgets.keyed_table import KeyedTable


class CleanScreen(FlowScreen):
    TITLE = "Clean preview"
    AUTO_FOCUS = "#rule-table"
    BINDINGS = [
        Binding("a", "approve", "Apply clean", id="approve"),
        *ESCAPE,
        Binding("1", "tab('rules')", "Rules tab", id="tab_1", show=False),
        Binding("2", "tab('unconvertible')", "Unconvertible tab", id="tab_2", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        with TabbedContent():
            with TabPane("1 Rules", id="rules"):
                yield KeyedTable(
                    [("rule", "Rule"), ("cells", "Cells"), ("column", "Column")],
                    id="rule-table",
                    wide="column",
                )
                yield KeyedTable(
                    [("before", "Before"), ("after", "After")],
                    id="samples",
                    cursor_type="none",
                    wide="after",
                )
            with TabPane("2 Unconvertible", id="unconvertible"):
                yield KeyedTable(
                    [
                        ("column", "Column"),
                        ("row", "Row"),
                        ("value", "Value"),
                        ("reason", "Reason"),
                    ],
                    id="bad-values",
                    wide="reason",
                )

    @property
    def preview(self) -> Any:
        """The preview's report, once the run waits at the clean gate with it written."""
        report = self.files.clean() if self.waits(Gate.CLEAN) else None
        return report if report is not None and report.dry_run else None

    def _rules(self) -> dict[str, Any]:
        """Rule results by row key: the preview's once it is done, the live events before."""
        preview = self.preview
        results = preview.rules if preview is not None else self.state.diffs
        return {f"{r.rule}|{r.table}|{r.column}": r for r in results}

    def sync_body(self) -> None:
        self.query_one("#rule-table", KeyedTable).sync(
            (key, (r.rule, count(r.changed), f"{r.table}.{r.column}"))
            for key, r in self._rules().items()
        )
        self._samples()
        preview = self.preview
        if preview is not None:
            self.query_one("#bad-values", KeyedTable).sync(unconvertible_rows(preview))
        if self.say_stopping():
            return
        if self.state.running == "preview":
            self.say("Previewing the clean (dry run; nothing is written)…")
        elif preview is not None:
            bad = sum(preview.unconvertible_counts.values())
            if not (preview.cells_changed or bad):
                self.say(
                    "Cleaning changes no cell, and every value converts to its column's"
                    " type. a goes on, esc stops the run.",
                    "ok",
                )
                return
            self.say(
                "$rules rule/column pairs change $cells cells; $bad values cannot be"
                " converted (they will be rejects). a applies, esc stops the run.",
                "warn" if bad else "ok",
                rules=len(preview.rules),
                cells=f"{preview.cells_changed:,}",
                bad=f"{bad:,}",
            )

    @on(DataTable.RowHighlighted, "#rule-table")
    def _samples(self) -> None:
        key = self.query_one("#rule-table", KeyedTable).current_key
        result = self._rules().get(key) if key is not None else None
        samples = result.samples if result is not None else ()
        table = self.query_one("#samples", KeyedTable)
        table.clear()
        table.sync(
            (str(i), (repr(before), repr(after))) for i, (before, after) in enumerate(samples)
        )

    def detail(self, table: KeyedTable, key: str) -> Detail | None:
        rule = self._rules().get(key) if table.id == "rule-table" else None
        if rule is None:
            return super().detail(table, key)
        samples = [
            (f"e.g. {i}", f"{before!r} → {after!r}")
            for i, (before, after) in enumerate(rule.samples, 1)
        ]
        return Detail(
            f"{rule.rule} on {rule.table}.{rule.column}",
            [("Cells", f"{rule.changed:,} change"), *samples],
        )

    def why_not(self, action: str) -> Unavailable | None:
        if action == "approve" and self.preview is None:
            return Unavailable("the preview is not done yet")
        return super().why_not(action)

    def action_approve(self) -> None:
        self.request("approve", gate=Gate.CLEAN)


def unconvertible_rows(preview: Any):
    """(key, (column, row, value, reason)) for every value the clean leaves for the rejects;
    the row is the source's rowid."""
    for i, item in enumerate(preview.unconvertible):
        yield (
            str(i),
            (f"{item.table}.{item.column}", f"rowid {item.rowid}", repr(item.value), item.reason),
        )
