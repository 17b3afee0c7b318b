"""Profiling: progress per table, the columns as inferred, the quality score and the gate.

The Score tab has one row per dimension and the total; the Findings tab every
finding, dimension by dimension and most costly first, with the points it
costs (exempt ones cost 0 and say why): the same figures ``sdconsole profile``
prints. The operator may change a column's type (t) or date order (d) before
the clean, while the run waits at the quality gate; the change goes to the
run, which rewrites its plan (and, where it re-scores, its profile) in the
run dir; the row is marked as overridden. The date-order choice shows what
the values prove for each order, with examples.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, TabbedContent, TabPane

from sdconsole.engine.rules.values import TYPES
from sdconsole.engine.stages.profile import quality
from sdconsole.engine.steps import Gate
from sdconsole.tui.explain import Unavailable
from sdconsole.tui.format import count, percent, points
from sdconsole.tui.screens.base import ESCAPE, FlowScreen
from sdconsole.tui.screens.choice import ChoiceModal
from sdconsole.tui.screens.detail import Detail
from sdconsole.tui.screens.prompt import PromptModal
from sdconsole.tui.widgets.keyed_table import KeyedTable
from sdconsole.tui.widgets.table_progress import TableProgress

DATE_TYPES = ("timestamp", "date")
ORDERS = ["day-first", "month-first"]


class ProfileScreen(FlowScreen):
    TITLE = "Profile"
    ENTER_GOES_ON = True
    AUTO_FOCUS = "#column-table"
    BINDINGS = [
        Binding("enter", "continue", "Preview clean", id="continue", priority=True),
        Binding("o", "override", "Override gate", id="override"),
        Binding("t", "column_type", "Type", id="column_type"),
        Binding("d", "date_order", "Date order", id="date_order"),
        *ESCAPE,
        Binding("1", "tab('columns')", "Columns tab", id="tab_1", show=False),
        Binding("2", "tab('score')", "Score tab", id="tab_2", show=False),
        Binding("3", "tab('findings')", "Findings tab", id="tab_3", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[str, tuple[str, str]] = {}
        """Column table row key -> (table, column) as the source names them."""

    def compose_body(self) -> ComposeResult:
        yield TableProgress(self.console.clock, id="progress")
        with TabbedContent():
            with TabPane("1 Columns", id="columns"):
                yield KeyedTable(
                    [
                        ("column", "Column"),
                        ("type", "Type"),
                        ("conf", "Conf"),
                        ("missing", "Missing"),
                        ("issues", "Issues"),
                    ],
                    id="column-table",
                    wide="issues",
                )
            with TabPane("2 Score", id="score"):
                yield KeyedTable(
                    [
                        ("dimension", "Dimension"),
                        ("score", "Score"),
                        ("weight", "Weight"),
                        ("lost", "Lost"),
                        ("costliest", "Costliest finding"),
                    ],
                    id="score-table",
                    wide="costliest",
                )
            with TabPane("3 Findings", id="findings"):
                yield KeyedTable(
                    [
                        ("dimension", "Dimension"),
                        ("points", "Points"),
                        ("column", "Column"),
                        ("count", "Cells"),
                        ("message", "Finding"),
                    ],
                    id="finding-table",
                    wide="message",
                )

    @property
    def profile(self) -> Any:
        return self.files.profile() if "profile" in self.state.finished else None

    @property
    def gate(self) -> Any:
        return self.state.gates.get("quality")

    def sync_body(self) -> None:
        self.show_progress("profile")
        profile = self.profile
        if profile is not None:
            self._columns(profile)
            self.query_one("#score-table", KeyedTable).sync(score_rows(profile.score))
        self.query_one("#finding-table", KeyedTable).sync(self._findings())
        self._verdict()

    def _findings(self) -> list[tuple[str, tuple]]:
        """Every finding of the score (per dimension, costliest first), then the columns to
        review."""
        rows = []
        if self.profile is not None:
            for name, part in self.profile.score.dimensions.items():
                rows += [
                    (
                        f"{name}|{i}",
                        (name, points(f.cost), f"{f.table}.{f.column}", count(f.count), f.message),
                    )
                    for i, f in enumerate(part.findings)
                ]
        rows += [
            (
                f"review|{i}",
                ("review", "", f"{f.table}.{f.column}", count(f.count) or "", f.message),
            )
            for i, f in enumerate(self.state.findings)
            if f.dimension == "review"
        ]
        return rows

    def _plan(self, profile: Any) -> Any:
        """The plan with the operator's changes, as the run wrote it (else the profile's own)."""
        return self.files.plan() or profile.plan

    def _columns(self, profile: Any) -> None:
        plan = self._plan(profile)
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
                issues = override_note(column, chosen) or issues
                key = f"{table.name}.{column.name}"
                self._keys[key] = (table.name, column.name)
                rows.append(
                    (
                        key,
                        (
                            key,
                            kind,
                            percent(column.confidence),
                            count(column.missing),
                            issues.strip(),
                        ),
                    )
                )
        self.query_one("#column-table", KeyedTable).sync(rows)

    def detail(self, table: KeyedTable, key: str) -> Detail | None:
        profile = self.profile
        if table.id == "column-table" and profile is not None:
            name, column = self._keys[key]
            return column_detail(
                profile, self._plan(profile).table(name).column(column), name, column
            )
        if table.id == "score-table" and profile is not None:
            return dimension_detail(profile.score, key)
        dimension, _, index = key.partition("|")
        if table.id == "finding-table" and profile is not None and dimension != "review":
            finding = profile.score.dimensions[dimension].findings[int(index)]
            examples = ", ".join(repr(v) for v in finding.examples)
            return Detail(
                f"{dimension}: {finding.table}.{finding.column}",
                [*table.fields(key), *([("Examples", examples)] if examples else [])],
            )
        return super().detail(table, key)

    def _verdict(self) -> None:
        if self.say_stopping():
            return
        threshold = self.console.settings.quality_threshold
        gate = self.gate
        running = self.state.running
        if running == "profile":
            self.say("Profiling… the source is opened read-only.")
        elif running:
            self.say("The quality gate is passed; the run goes on.")
        elif gate is None or self.profile is None:
            self.say("")
        elif self.state.quality_passes():
            self.say(
                "[b]Quality $total/100[/b], threshold $threshold: passed. enter previews"
                " the clean.",
                "ok",
                total=self.profile.score.total,
                threshold=threshold,
            )
        else:
            self.say(
                "[b]Quality $total/100[/b], refused: $why. o overrides with a reason"
                " (recorded with the run).",
                "bad",
                total=self.profile.score.total,
                why=self._refusal(),
            )

    def _refusal(self) -> str:
        """Why the quality gate does not pass as it stands (re-scored by a column changed
        at the gate), in the engine's words."""
        profile = self.profile
        if profile is not None:
            why = quality.refusal(profile.score, self.console.settings)
            if why is not None:
                return why
        return self.gate.summary if self.gate is not None else ""

    def _column_under_cursor(self) -> tuple[str, str] | None:
        key = self.query_one("#column-table", KeyedTable).current_key
        return self._keys.get(key) if key is not None else None

    @on(DataTable.RowHighlighted)
    def _moved(self) -> None:
        self.refresh_bindings()

    def _planned(self) -> Any:
        found = self._column_under_cursor()
        plan = self.files.plan()
        if found is None or plan is None:
            return None
        return plan.table(found[0]).column(found[1])

    def why_not(self, action: str) -> Unavailable | None:
        gate, passes = self.gate, self.state.quality_passes()
        if action in ("continue", "override"):
            if not self.waits(Gate.QUALITY) or gate is None:
                return self.running() or Unavailable("the run is not at the quality gate")
            if action == "continue" and not passes:
                return Unavailable(
                    f"the quality gate refused: {self._refusal()}; o overrides it with a typed"
                    " reason"
                )
            if action == "override" and passes:
                return Unavailable("the quality gate passed: there is nothing to override")
        if action in ("column_type", "date_order"):
            return self._column_change(action)
        return super().why_not(action)

    def _column_change(self, action: str) -> Unavailable | None:
        """t and d change the column under the cursor of the Columns tab, before the clean."""
        if self.query_one(TabbedContent).active != "columns":
            return Unavailable("t and d change the column under the cursor: 1 shows the columns")
        planned = self._planned()
        if planned is None:
            return Unavailable("the profile is not done yet")
        if action == "date_order" and planned.type not in DATE_TYPES:
            return Unavailable(
                f"this column is loaded as {planned.type}: a date order applies"
                " to timestamp and date columns"
            )
        if not self.waits(Gate.QUALITY):
            return self.running(dimmed=True) or Unavailable(
                "columns change only while the run waits at the quality gate", dimmed=True
            )
        return None

    def action_continue(self) -> None:
        self.request("approve", gate=Gate.QUALITY)

    def action_override(self) -> None:
        self.app.push_screen(
            PromptModal(
                "Override the quality gate",
                f"The quality gate refused: {self._refusal()}. Why is it safe to go on?"
                " The reason is recorded with the run.",
                placeholder="e.g. known legacy dirt, accepted by the ops lead",
            ),
            lambda reason: self.request("override", reason=reason) if reason else None,
        )

    def action_column_type(self) -> None:
        found = self._column_under_cursor()
        if found is None:  # no column row under the cursor (its key is disabled then)
            return
        table, column = found
        current = self._planned().type
        self.app.push_screen(
            ChoiceModal(
                "Column type",
                f"{table}.{column} is loaded as {current}. Load it as:",
                list(TYPES),
                current,
            ),
            lambda kind: (
                self.request("set_column", table=table, column=column, type=kind)
                if kind and kind != current
                else None
            ),
        )

    def action_date_order(self) -> None:
        found = self._column_under_cursor()
        if found is None:  # no column row under the cursor (its key is disabled then)
            return
        table, column = found
        current = self._planned().date_order
        dates = self.profile.table(table).column(column).date_evidence
        evidence = f"\n{date_evidence(dates)}\n" if dates is not None else ""
        self.app.push_screen(
            ChoiceModal(
                "Date order",
                f"What the values of {table}.{column} prove:{evidence}Read them as:",
                ORDERS,
                current,
            ),
            lambda order: (
                self.request("set_column", table=table, column=column, date_order=order)
                if order and order != current
                else None
            ),
        )


def score_rows(score: Any) -> list[tuple[str, tuple]]:
    """One row per dimension (its score, weight, the points its findings cost, the costliest
    of them), then the total."""
    rows = []
    for name, part in score.dimensions.items():
        lost = sum(f.cost for f in part.findings)
        worst = part.findings[0] if part.findings else None
        costliest = (
            f"{points(worst.cost)} {worst.table}.{worst.column}: {worst.message}"
            if worst
            else "nothing found"
        )
        rows.append(
            (
                name,
                (
                    name,
                    f"{part.score:.1f}",
                    f"{part.weight:.2f}",
                    f"{lost:.1f}" if lost else "0.0",
                    costliest,
                ),
            )
        )
    weight = sum(part.weight for part in score.dimensions.values())
    rows.append(
        (
            "total",
            (
                "total",
                f"{score.total}",
                f"{weight:.2f}",
                "",
                "the weighted mean of the dimensions, rounded down",
            ),
        )
    )
    return rows


def dimension_detail(score: Any, name: str) -> Detail:
    """How a dimension's score (or the total) adds up: every finding with its points."""
    if name == "total":
        weight = sum(part.weight for part in score.dimensions.values())
        mean = sum(part.score * part.weight for part in score.dimensions.values()) / weight
        terms = [
            (dim, f"{part.score:.1f} × {part.weight:.2f}") for dim, part in score.dimensions.items()
        ]
        return Detail(
            f"Quality score {score.total}/100",
            [*terms, ("Sum", f"÷ {weight:.2f} = {mean:.2f}, rounded down: {score.total}")],
        )
    part = score.dimensions[name]
    lost = sum(f.cost for f in part.findings)
    fields = [
        ("Score", f"{part.score:.1f} = 100 - {lost:.1f}" + (" (floor 0)" if lost > 100 else "")),
        ("Weight", f"{part.weight:.2f}"),
        ("Bad", f"{part.bad:,} of {part.eligible:,}"),
    ]
    fields += [(points(f.cost), f"{f.table}.{f.column}: {f.message}") for f in part.findings]
    return Detail(f"{name} {part.score:.1f}: what cost points", fields)


def override_note(column: Any, chosen: Any) -> str:
    """'' unless the operator changed the column: what the evidence made of it (the engine
    re-scores an override: the counts and the score are of what it is now)."""
    change = column.overridden
    if change is None:
        return ""
    if change.type is not None and change.type != change.was_type:
        return f"overridden (profiled as {change.was_type})"
    return f"overridden (profiled {change.was_date_order})"


def date_evidence(dates: Any) -> str:
    """One line per reading of a date column: how many values prove it, with examples."""

    def eg(kind: str) -> str:
        shown = dates.examples.get(kind, [])[:2]
        return f" (e.g. {', '.join(repr(v) for v in shown)})" if shown else ""

    return "\n".join(
        [
            f"day-first: {dates.day_first:,} values prove it{eg('day-first')}",
            f"month-first: {dates.month_first:,} values prove it{eg('month-first')}",
            f"either: {dates.ambiguous:,} values read both ways{eg('ambiguous')}",
            f"ISO: {dates.iso:,}; impossible in the order read now: {dates.impossible:,}"
            f"{eg('impossible')}",
        ]
    )


def column_detail(profile: Any, chosen: Any, table: str, name: str) -> Detail:
    """Everything the profile knows about one column, what it costs the score, and how it
    is loaded (the operator's change, if any)."""
    c = profile.table(table).column(name)
    kind = chosen.type
    if kind in DATE_TYPES:
        kind += f", {chosen.date_order}"
    if c.type != c.inferred_type:
        kind += f" (override of {c.inferred_type})"
    fields = [
        ("Loaded as", kind),
        ("Declared", c.declared_type or "(none)"),
        ("Confidence", f"{percent(c.confidence)} of the values are {c.inferred_type}"),
        ("Rows", c.rows),
        (
            "Missing",
            f"{c.missing:,} ({c.nulls:,} NULL, {c.empties:,} empty"
            + "".join(f", {n:,} {t!r}" for t, n in c.placeholders.items())
            + ")",
        ),
        ("Distinct", c.distinct),
    ]
    if c.min is not None:
        fields.append(("Range", f"{c.min} .. {c.max}"))
    for label, n in (
        ("Invalid", c.invalid),
        ("NUL bytes", c.nul_bytes),
        ("Padded", c.whitespace),
        ("BLOBs", c.blobs),
        ("Not UTF-8", c.invalid_utf8),
    ):
        if n:
            fields.append((label, n))
    if c.invalid_examples:
        fields.append(("Examples", ", ".join(repr(v) for v in c.invalid_examples)))
    if c.date_evidence is not None:
        fields.append(
            ("Dates", f"read {c.date_evidence.decision}\n{date_evidence(c.date_evidence)}")
        )
    for label, note in (
        ("Changed", override_note(c, chosen)),
        ("Review", c.flagged),
        ("Note", c.note),
        ("Flag", c.flag_evidence),
        ("Departure", c.departure),
    ):
        if note:
            fields.append((label, note))
    fields += [
        (points(f.cost), f"{dimension}: {f.message}")
        for dimension, part in profile.score.dimensions.items()
        for f in part.findings
        if (f.table, f.column) == (table, name)
    ]
    return Detail(f"{table}.{name}", fields)
