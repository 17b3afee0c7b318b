"""Load and validation: progress per table with rows/s and ETA, then the validation verdict.

Every value that does not fit its column lands in the version's _rejects
table; the Rejects tab counts them per column and shows the values the
clean could not convert there. When the run waits at the cutover gate its
confirmation opens; c opens it again after esc closed it.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, TabbedContent, TabPane

from sdconsole.engine.steps import Gate
from sdconsole.tui.explain import Unavailable
from sdconsole.tui.format import count, ok_cell, rate
from sdconsole.tui.screens.base import ESCAPE, FlowScreen
from sdconsole.tui.widgets.keyed_table import KeyedTable
from sdconsole.tui.widgets.table_progress import TableProgress


class LoadScreen(FlowScreen):
    TITLE = "Load and validation"
    AUTO_FOCUS = "#table-checks"
    BINDINGS = [
        Binding("c", "cutover", "Cutover", id="cutover"),
        *ESCAPE,
        Binding("1", "tab('tables')", "Tables tab", id="tab_1", show=False),
        Binding("2", "tab('rejects')", "Rejects tab", id="tab_2", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield TableProgress(self.console.clock)
        with TabbedContent():
            with TabPane("1 Tables", id="tables"):
                yield KeyedTable(
                    [
                        ("ok", "OK"),
                        ("table", "Table"),
                        ("rows", "Rows"),
                        ("rejects", "Rejects"),
                        ("rate", "Speed"),
                        ("detail", "Problems"),
                    ],
                    id="table-checks",
                    wide="detail",
                )
            with TabPane("2 Rejects", id="rejects"):
                yield KeyedTable(
                    [
                        ("column", "Column"),
                        ("rejects", "Rejects"),
                        ("source", "Source values"),
                        ("target", "Loaded"),
                    ],
                    id="reject-table",
                    wide="column",
                )
                yield KeyedTable(
                    [("row", "Row"), ("value", "Value"), ("reason", "Reason")],
                    id="reject-values",
                    wide="reason",
                )

    @property
    def validation(self) -> Any:
        return self.files.validation() if "validate" in self.state.finished else None

    def sync_body(self) -> None:
        self.show_progress("load")
        validation = self.validation
        loaded = self.files.load() if "load" in self.state.finished else None
        if validation is not None:
            self.query_one("#table-checks", KeyedTable).sync(
                (
                    ident,
                    (
                        ok_cell(self.app, check.ok),
                        ident,
                        f"{check.target_rows:,}/{check.source_rows:,}",
                        count(sum(c.rejects for c in check.columns)),
                        rate(loaded.tables.get(ident, {}).get("rate")) if loaded else "",
                        "; ".join(check.problems()) or "checksums match",
                    ),
                )
                for ident, check in validation.tables.items()
            )
            self.query_one("#reject-table", KeyedTable).sync(
                (
                    f"{ident}.{c.column}",
                    (
                        f"{ident}.{c.column}",
                        count(c.rejects),
                        count(c.source_values),
                        count(c.target_values),
                    ),
                )
                for ident, check in validation.tables.items()
                for c in check.columns
                if c.rejects
            )
            self._reject_values()
        self._verdict(validation)

    def _verdict(self, validation: Any) -> None:
        if self.say_stopping():
            return
        busy = self.state.running
        if busy in ("clean", "load"):
            self.say("Loading the new version… the active version is untouched.")
        elif busy == "validate":
            self.say("Validating: row counts, values per column, row checksums…")
        elif busy == "cutover":
            self.say("Cutting over…")
        elif validation is None:
            self.say("")
        elif validation.ok:
            self.say(
                "[b]Validated.[/b] $summary. c opens the cutover.",
                "ok",
                summary=validation.summary.removeprefix("validation of "),
            )
        else:
            self.say(
                "[b]Validation failed:[/b] cutover is blocked. esc stops and drops this"
                " version. $summary",
                "bad",
                summary=validation.summary,
            )

    @on(DataTable.RowHighlighted, "#reject-table")
    def _reject_values(self) -> None:
        """The values the clean could not convert in the highlighted column."""
        key = self.query_one("#reject-table", KeyedTable).current_key
        table = self.query_one("#reject-values", KeyedTable)
        table.clear()
        clean, plan = self.files.clean(), self.files.plan()
        if key is None or clean is None or plan is None:
            return
        ident, _, column_ident = key.partition(".")
        names = {(t.ident, c.ident): (t.name, c.name) for t in plan.tables for c in t.columns}
        wanted = names.get((ident, column_ident))
        table.sync(
            (str(i), (f"rowid {cell.rowid}", repr(cell.value), cell.reason))
            for i, cell in enumerate(clean.unconvertible)
            if (cell.table, cell.column) == wanted
        )

    def why_not(self, action: str) -> Unavailable | None:
        if action == "cutover":
            if self.validation is not None and not self.validation.ok:
                return Unavailable("validation failed: cutover is blocked")
            if not self.waits(Gate.CUTOVER):
                return Unavailable("the load and its validation are not done yet")
        return super().why_not(action)

    def action_cutover(self) -> None:
        self.console.offer_cutover()
