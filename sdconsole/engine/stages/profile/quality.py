"""The 0-100 quality score of a profiled source, and the gate in front of mutating stages.

Five dimensions, each starting at 100 and losing POINTS_PER_PERCENT points
for every 1% bad, down to 0 (100 when nothing is eligible): 1% of the
column's values for validity, of the table's rows for uniqueness, of the
relation's references for integrity -- so a fault in one table is not
diluted by the size of the others -- and 1% of all cells (or present cells)
for completeness and consistency, whose gaps and noise spread over many
columns. The total is their average weighted by the ``quality_weights``
setting, rounded down, so 100 means nothing was found.
The score charges for faults, not for what a real export is by design:

* completeness: missing cells (NULL, empty, placeholder token) among all
  cells. A *required* column -- the key (declared, or inferred) or the
  table's main date column -- is charged on its own rows: each 1% of it
  missing costs 5 points, so one required column with gaps is never hidden
  among optional ones. A column at most OPTIONAL_SHARE (20%) filled is
  *optional by design* and costs nothing (Deequ proposes a completeness
  constraint only for columns more than 20% complete); so do
  ``sparse_columns``. Both are listed, with why.
* validity: present cells of typed columns that will not convert
  (impossible dates, ``abc`` in a number column), plus BLOBs and text that
  is not UTF-8 in text columns (rejects). A column that stays text costs
  nothing for not being a number (postal codes with letters), unless it is
  NEARLY_TYPED: at least 80% of one type but below ``type_confidence``, it
  was kept from its type by junk, which costs as it would in the typed column.
* uniqueness: rows that repeat a key value, among rows of tables with a key;
* consistency: typed values padded with whitespace, NUL bytes, and the
  minority side of a column with contradicting date order (text keeps its
  spaces as data: no cost);
* integrity: references to a missing parent (orphans) among the references
  of each declared foreign key and ServiceDesk relation; orphans of
  ``expected_orphans`` relations count as good (timesheets that are not
  ticket work have no ticket).

An exemption therefore never lowers a score.

Every finding says what it costs in points of its dimension (the costs add
up to 100 minus the dimension's score, before the floor at 0), sorted by
cost; exempt ones are listed with cost 0 so the operator sees them too.
Five points per percent makes 1% orphans or duplicates visible while a
normal quarterly export, with its few percent of dirt, stays well above the
threshold of 80. The gate passes at or above ``quality_threshold`` with no
dimension below ``quality_floor`` (50): a weighted mean alone would let a
source whose every reference is an orphan through at 85.
"""

from __future__ import annotations

import math

from sdconsole.engine.records.profile import RelationProfile, TableProfile
from sdconsole.engine.records.quality import Dimension, GateDecision, QualityFinding, QualityScore
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import GateRefused
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.steps import Gate, Step
from sdconsole.settings import Settings

DIMENSIONS = ("completeness", "validity", "uniqueness", "consistency", "integrity")
POINTS_PER_PERCENT = 5
OPTIONAL_SHARE = 0.20  # a column at most this much filled is optional by design
NEARLY_TYPED = 0.80  # a text column this much of one type holds junk, not text


class _Tally:
    """Bad and eligible counts of one dimension, with the findings that explain them."""

    def __init__(self) -> None:
        self.eligible = 0
        # finding, bad, exempt, what its share is of (None: the dimension's eligible)
        self.items: list[tuple[QualityFinding, int, bool, int | None]] = []

    def add(
        self,
        table: str,
        column: str,
        message: str,
        bad: int,
        *,
        examples: list[str] | tuple = (),
        exempt: bool = False,
        of: int | None = None,
    ) -> None:
        """A finding; an exempt one is listed but its cells count as good. ``of``: charge
        its share of that many cells (a required column's rows) instead of the eligible."""
        if bad:
            self.items.append(
                (QualityFinding(table, column, message, bad, 0.0, list(examples)), bad, exempt, of)
            )

    def dimension(self, weight: float) -> Dimension:
        bad = min(self.eligible, sum(n for _, n, exempt, _ in self.items if not exempt))
        findings = []
        for finding, n, exempt, of in self.items:
            if not exempt:
                finding.cost = round(_points(n, self.eligible if of is None else of), 2)
            findings.append(finding)
        findings.sort(key=lambda f: -f.cost)
        score = round(max(0.0, 100 - sum(f.cost for f in findings)), 1)
        return Dimension(score, weight, self.eligible, bad, findings)


def _points(bad: int, eligible: int) -> float:
    return POINTS_PER_PERCENT * 100 * bad / eligible if eligible else 0.0


def score(
    tables: list[TableProfile], relations: list[RelationProfile], settings: Settings
) -> QualityScore:
    """Score profiled tables and relations; see the module docstring for the rules."""
    sparse = {key.lower() for key in settings.sparse_columns}
    tallies = {name: _Tally() for name in DIMENSIONS}
    for table in tables:
        required = {*table.declared.primary_key, table.key, table.date_column} - {None}
        for column in table.columns:
            _completeness(
                tallies["completeness"],
                table.name,
                column,
                f"{table.name}.{column.name}".lower() in sparse,
                column.name in required,
            )
            _column(tallies, table.name, column)
        if table.key:
            tallies["uniqueness"].eligible += table.rows
            tallies["uniqueness"].add(
                table.name,
                table.key,
                f"{table.duplicate_keys:,} key values occur more than once"
                f" ({table.duplicate_rows:,} extra rows)",
                table.duplicate_rows,
                examples=table.duplicate_examples,
                of=table.rows,
            )
    for relation in relations:
        integrity = tallies["integrity"]
        integrity.eligible += relation.references
        share = relation.orphans / relation.references if relation.references else 0.0
        integrity.add(
            relation.child_table,
            relation.child_column,
            f"{relation.orphans:,} of {relation.references:,} references ({share:.1%}) point"
            f" to no {relation.parent_table}.{relation.parent_column}"
            + (" (declared foreign key)" if relation.declared else "")
            + (" (expected: settings expected_orphans, no cost)" if relation.expected else ""),
            relation.orphans,
            examples=relation.examples,
            exempt=relation.expected,
            of=relation.references,
        )
    weights = {name: float(settings.quality_weights.get(name, 0.0)) for name in DIMENSIONS}
    dimensions = {name: tallies[name].dimension(weights[name]) for name in DIMENSIONS}
    total_weight = sum(weights.values())
    total = math.floor(
        round(sum(d.score * d.weight for d in dimensions.values()) / total_weight, 6)
    )
    return QualityScore(total, dimensions)


def _completeness(completeness: _Tally, table: str, column, sparse: bool, required: bool) -> None:
    """Missing cells: a required column charged on its rows, optional ones listed free."""
    completeness.eligible += column.rows
    missing = column.missing
    if not missing:
        return
    parts = [f"{column.nulls:,} NULL"] if column.nulls else []
    if column.empties:
        parts.append(f"{column.empties:,} empty")
    parts += [f"{n:,} {token!r}" for token, n in column.placeholders.items()]
    filled = 1 - missing / column.rows
    message = (
        f"{missing:,} of {column.rows:,} cells missing ({missing / column.rows:.1%}:"
        f" {', '.join(parts)})"
    )
    if required:
        completeness.add(
            table,
            column.name,
            message + " in a required column (the key or"
            " the main date column: each 1% missing costs"
            f" {POINTS_PER_PERCENT} points)",
            missing,
            of=column.rows,
        )
    elif sparse:
        completeness.add(
            table, column.name, message + " (sparse column: no cost)", missing, exempt=True
        )
    elif filled <= OPTIONAL_SHARE:
        completeness.add(
            table,
            column.name,
            message + f" (sparse by design: {filled:.1%}"
            f" filled, at most {OPTIONAL_SHARE:.0%}: optional, no cost)",
            missing,
            exempt=True,
        )
    else:
        completeness.add(table, column.name, message, missing)


def _column(tallies: dict[str, _Tally], table: str, column) -> None:
    validity = tallies["validity"]
    if column.type != "text":
        validity.eligible += column.present
        validity.add(
            table,
            column.name,
            f"{column.invalid:,} of {column.present:,} values are not a valid {column.type}",
            column.invalid,
            examples=column.invalid_examples,
            of=column.present,
        )
    else:
        binary = column.blobs + column.invalid_utf8
        validity.eligible += column.present
        validity.add(
            table,
            column.name,
            f"{binary:,} values are BLOBs or text that is not UTF-8 in a text column: rejects",
            binary,
            examples=column.invalid_examples,
            of=column.present,
        )
        if column.candidate:
            share = 1 - (column.invalid - binary) / column.present
            nearly = share >= NEARLY_TYPED
            validity.add(
                table,
                column.name,
                f"kept as text: {column.invalid - binary:,} of"
                f" {column.present:,} values are not {column.candidate}"
                + (
                    f" ({share:.1%} are: junk that kept it from its type)"
                    if nearly
                    else f" (only {share:.1%} are: text by nature, no cost)"
                ),
                column.invalid - binary,
                examples=column.invalid_examples,
                exempt=not nearly,
                of=column.present,
            )
    consistency = tallies["consistency"]
    consistency.eligible += column.present
    if column.type != "text":  # text keeps its spaces: they are data
        consistency.add(
            table,
            column.name,
            f"{column.whitespace:,} {column.type} values padded with whitespace",
            column.whitespace,
        )
    consistency.add(
        table, column.name, f"{column.nul_bytes:,} values with NUL bytes", column.nul_bytes
    )
    dates = column.date_evidence
    if dates is not None and dates.decision == "contradicting":
        consistency.add(
            table,
            column.name,
            dates.reason,
            min(dates.day_first, dates.month_first),
            examples=dates.examples.get("day-first", [])[:2]
            + dates.examples.get("month-first", [])[:2],
        )


def refusal(score: QualityScore, settings: Settings) -> str | None:
    """Why the gate refuses ``score`` without an override reason; None when it passes: at or
    above ``quality_threshold`` with no dimension below ``quality_floor``."""
    threshold, floor = settings.quality_threshold, settings.quality_floor
    low = [
        (name, part)
        for name, part in score.dimensions.items()
        if part.weight and part.score < floor
    ]
    if low:
        name, part = low[0]
        worst = part.findings[0] if part.findings else None
        why = f": {worst.table}.{worst.column} {worst.message}" if worst else ""
        return f"{name} {part.score:g} is below the floor {floor}{why}"
    if score.total < threshold:
        return f"quality score {score.total} is below the threshold {threshold}"
    return None


def gate(score: QualityScore, settings: Settings, override_reason: str | None) -> GateDecision:
    """Pass when :func:`refusal` finds nothing; otherwise only with a non-blank typed reason."""
    why = refusal(score, settings)
    if why is None:
        return GateDecision(
            True,
            False,
            f"quality score {score.total} meets the threshold"
            f" {settings.quality_threshold}, no dimension below {settings.quality_floor}",
        )
    reason = (override_reason or "").strip()
    if reason:
        return GateDecision(True, True, reason)
    return GateDecision(False, False, f"{why}; override with a typed reason")


def decide(
    run: Run, score: QualityScore, settings: Settings, override_reason: str | None = None
) -> GateDecision:
    """The quality gate's verdict on ``score`` (:func:`gate`), journalled as the gate step's
    GateReached wherever a run decides it; raises GateRefused (one line) when it does not
    pass."""
    decision = gate(score, settings, override_reason)
    run.emit(
        ev.GateReached(
            stage=Step.GATE, gate=Gate.QUALITY, passed=decision.passed, summary=decision.reason
        )
    )
    if not decision.passed:
        raise GateRefused(decision.reason)
    return decision
