"""Profiling: progress per table, the columns as inferred, the quality score and the gate.

The operator may change a column's type (t) or date order (d) before the
clean; the change goes to the engine's plan and the row is patched in place.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, TabbedContent, TabPane

from sdconsole.engine.values import TYPES
from sdconsole.tui.format import count, percent, short
from sdconsole.tui.screens.base import FlowScreen
from sdconsole.tui.screens.choice import ChoiceModal
from sdconsole.tui.screens.prompt import PromptModal
from sdconsole.tui.widgets.keyed_table import KeyedTable
from sdconsole.tui.widgets.table_progress import TableProgress

DATE_TYPES = ("timestamp", "date")
ORDERS = ["day-first", "month-first"]


class ProfileScreen(FlowScreen):
    STEP = "profile"
    AUTO_FOCUS = "#column-table"
    BINDINGS = [
        Binding("enter", "continue", "Preview clean", id="continue", priority=True),
        Binding("o", "override", "Override gate", id="override"),
        Binding("t", "column_type", "Type", id="column_type"),
        Binding("d", "date_order", "Date order", id="date_order"),
        Binding("x", "cancel", "Cancel step", id="cancel"),
        Binding("escape", "back", "Back", id="back"),
        Binding("1", "tab('columns')", "Columns", id="tab_1", show=False),
        Binding("2", "tab('score')", "Score", id="tab_2", show=False),
        Binding("3", "tab('findings')", "Findings", id="tab_3", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[str, tuple[str, str]] = {}
        """Column table row key -> (table, column) as the source names them."""

    def compose_body(self) -> ComposeResult:
        yield TableProgress(self.console.clock, id="progress")
        with TabbedContent():
            with TabPane("1 Columns", id="columns"):
                yield KeyedTable([("column", "Column"), ("type", "Type"), ("conf", "Conf"),
                                  ("missing", "Missing"), ("issues", "Issues")], id="column-table")
            with TabPane("2 Score", id="score"):
                yield KeyedTable([("dimension", "Dimension"), ("score", "Score"),
                                  ("weight", "Weight"), ("findings", "What cost points")],
                                 id="score-table")
            with TabPane("3 Findings", id="findings"):
                yield KeyedTable([("dimension", "Dimension"), ("column", "Column"),
                                  ("count", "Cells"), ("message", "Finding")],
                                 id="finding-table")

    @property
    def profile(self) -> Any:
        return self.state.result("profile")

    @property
    def gate(self) -> Any:
        return self.state.gates.get("quality")

    def sync(self) -> None:
        self.query_one(TableProgress).show(self.state.progress.get("profile", {}))
        self.query_one("#finding-table", KeyedTable).sync(
            (f"{i}", (f.dimension, short(f"{f.table}.{f.column}", 30), count(f.count) or "",
                      f.message))
            for i, f in enumerate(self.state.findings))
        profile = self.profile
        if profile is not None:
            self._columns(profile)
            self._score(profile.score)
        self._verdict()

    def _columns(self, profile: Any) -> None:
        plan = self.flow.migration.plan if self.flow.migration else profile.plan
        rows = []
        for table in profile.tables:
            planned = plan.table(table.name)
            for column in table.columns:
                chosen = planned.column(column.name)
                kind = chosen.type
                if kind in DATE_TYPES:
                    kind += " " + ("d/m" if chosen.date_order == "day-first" else "m/d")
                issues = chosen.flagged or column.note
                if column.invalid:
                    issues = f"{column.invalid:,} invalid " + issues
                key = f"{table.name}.{column.name}"
                self._keys[key] = (table.name, column.name)
                rows.append((key,
                             (short(f"{table.name}.{column.name}", 30), kind,
                              percent(column.confidence), count(column.missing),
                              issues.strip())))
        self.query_one("#column-table", KeyedTable).sync(rows)

    def _score(self, score: Any) -> None:
        self.query_one("#score-table", KeyedTable).sync(
            (name, (name, f"{part.score:.0f}", f"{part.weight:.2f}",
                    "; ".join(f.message for f in part.findings[:2]) or "nothing"))
            for name, part in score.dimensions.items())

    def _verdict(self) -> None:
        threshold = self.console.settings.quality_threshold
        gate = self.gate
        if self.console.busy == "profile":
            self.say("Profiling… the source is opened read-only.")
        elif self.console.busy in ("gate", "override"):
            self.say("Checking the quality gate…")
        elif gate is None or self.profile is None:
            self.say("")
        elif gate.passed:
            self.say("[b]Quality $total/100[/b], threshold $threshold: passed. enter previews"
                     " the clean.", "ok", total=self.profile.score.total, threshold=threshold)
        else:
            self.say("[b]Quality $total/100[/b] is below the threshold $threshold: refused."
                     " o overrides with a reason (recorded with the run).", "bad",
                     total=self.profile.score.total, threshold=threshold)

    def _column_under_cursor(self) -> tuple[str, str] | None:
        key = self.query_one("#column-table", KeyedTable).current_key
        return self._keys.get(key) if key is not None else None

    @on(DataTable.RowHighlighted)
    def _moved(self) -> None:
        self.refresh_bindings()

    def _planned(self) -> Any:
        found = self._column_under_cursor()
        plan = self.flow.migration.plan if self.flow.migration else None
        if found is None or plan is None:
            return None
        return plan.table(found[0]).column(found[1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        idle = not self.console.busy
        gate = self.gate
        if action == "continue":
            return idle and gate is not None and gate.passed
        if action == "override":
            return idle and gate is not None and not gate.passed
        if action == "column_type":
            return None if not idle or self._planned() is None else True
        if action == "date_order":
            planned = self._planned()
            if planned is None or planned.type not in DATE_TYPES:
                return False
            return True if idle else None
        if action == "back":
            return True if idle else None
        return super().check_action(action, parameters)

    def action_continue(self) -> None:
        self.flow.to_preview()

    def action_override(self) -> None:
        total = self.profile.score.total
        threshold = self.console.settings.quality_threshold
        self.app.push_screen(
            PromptModal("Override the quality gate",
                        f"The quality score {total} is below the threshold {threshold}. Why is"
                        " it safe to go on? The reason is recorded with the run.",
                        placeholder="e.g. known legacy dirt, accepted by the ops lead"),
            lambda reason: self.flow.override_gate(reason) if reason else None)

    def action_column_type(self) -> None:
        table, column = self._column_under_cursor()
        current = self._planned().type
        self.app.push_screen(
            ChoiceModal("Column type", f"{table}.{column} is loaded as {current}. Load it as:",
                        list(TYPES), current),
            lambda kind: self.flow.set_column(table, column, type=kind)
            if kind and kind != current else None)

    def action_date_order(self) -> None:
        table, column = self._column_under_cursor()
        current = self._planned().date_order
        self.app.push_screen(
            ChoiceModal("Date order", f"Read the dates of {table}.{column} as:", ORDERS,
                        current),
            lambda order: self.flow.set_column(table, column, date_order=order)
            if order and order != current else None)
