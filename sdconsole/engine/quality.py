"""The 0-100 quality score of a profiled source, and the gate in front of mutating stages.

Five dimensions, each starting at 100 and losing POINTS_PER_PERCENT points
for every 1% of its eligible cells (or rows) that are bad, down to 0 (100
when nothing is eligible); the total is their average weighted by the
``quality_weights`` setting, rounded down, so 100 means nothing was found:

* completeness: missing cells (NULL, empty, placeholder token) among all
  cells; gaps in ``sparse_columns`` are expected by design and count as good;
* validity: present cells that will not convert to the column's type
  (impossible dates, ``abc`` in a number column), among present cells of
  typed columns and of text columns flagged because a type had the majority;
* uniqueness: rows that repeat a key value, among rows of tables with a key;
* consistency: present cells with leading/trailing whitespace or NUL bytes,
  and the minority side of a column with contradicting date order;
* integrity: references to a missing parent (orphans) among the references
  of each relation; orphans of ``expected_orphans`` relations count as good
  (timesheets that are not ticket work have no ticket).

An exemption therefore never lowers a score.

Every finding says what it costs in points of its dimension (the costs add
up to 100 minus the dimension's score, before the floor at 0); exempt ones
are listed with cost 0 so the operator sees them too. Five points per
percent makes 1% orphans or duplicates visible while a normal quarterly
export, with its few percent of dirt, stays well above the threshold of 80.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sdconsole.engine.errors import GateRefused
from sdconsole.settings import Settings

if TYPE_CHECKING:
    from sdconsole.engine.profiler import RelationProfile, TableProfile

DIMENSIONS = ("completeness", "validity", "uniqueness", "consistency", "integrity")
POINTS_PER_PERCENT = 5


@dataclass
class QualityFinding:
    """One thing that costs points (or would, were it not exempt)."""

    table: str
    column: str
    message: str
    count: int
    cost: float  # points of the dimension's 0-100 score
    examples: list[str] = field(default_factory=list)


@dataclass
class Dimension:
    score: float
    weight: float
    eligible: int
    bad: int
    findings: list[QualityFinding] = field(default_factory=list)


@dataclass
class QualityScore:
    total: int
    dimensions: dict[str, Dimension]

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total,
                "dimensions": {k: asdict(v) for k, v in self.dimensions.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityScore:
        return cls(data["total"], {
            name: Dimension(**{**d, "findings": [QualityFinding(**f) for f in d["findings"]]})
            for name, d in data["dimensions"].items()
        })


@dataclass
class GateDecision:
    passed: bool
    overridden: bool
    reason: str


class _Tally:
    """Bad and eligible counts of one dimension, with the findings that explain them."""

    def __init__(self) -> None:
        self.eligible = 0
        self.items: list[tuple[QualityFinding, int, bool]] = []  # finding, bad, exempt

    def add(self, table: str, column: str, message: str, bad: int, *,
            examples: list[str] | tuple = (), exempt: bool = False) -> None:
        """A finding; an exempt one is listed but its cells count as good."""
        if bad:
            self.items.append((QualityFinding(table, column, message, bad, 0.0,
                                              list(examples)), bad, exempt))

    def dimension(self, weight: float) -> Dimension:
        bad = min(self.eligible, sum(n for _, n, exempt in self.items if not exempt))
        findings = []
        for finding, n, exempt in self.items:
            if not exempt:
                finding.cost = round(_points(n, self.eligible), 2)
            findings.append(finding)
        findings.sort(key=lambda f: -f.cost)
        score = round(max(0.0, 100 - _points(bad, self.eligible)), 1)
        return Dimension(score, weight, self.eligible, bad, findings)


def _points(bad: int, eligible: int) -> float:
    return POINTS_PER_PERCENT * 100 * bad / eligible if eligible else 0.0


def score(tables: list[TableProfile], relations: list[RelationProfile],
          settings: Settings) -> QualityScore:
    """Score profiled tables and relations; see the module docstring for the rules."""
    sparse = {key.lower() for key in settings.sparse_columns}
    tallies = {name: _Tally() for name in DIMENSIONS}
    for table in tables:
        for column in table.columns:
            _column(tallies, table.name, column, f"{table.name}.{column.name}".lower() in sparse)
        if table.key:
            tallies["uniqueness"].eligible += table.rows
            tallies["uniqueness"].add(
                table.name, table.key,
                f"{table.duplicate_keys:,} key values occur more than once"
                f" ({table.duplicate_rows:,} extra rows)",
                table.duplicate_rows, examples=table.duplicate_examples)
    for relation in relations:
        integrity = tallies["integrity"]
        integrity.eligible += relation.references
        share = relation.orphans / relation.references if relation.references else 0.0
        integrity.add(
            relation.child_table, relation.child_column,
            f"{relation.orphans:,} of {relation.references:,} references ({share:.1%}) point"
            f" to no {relation.parent_table}.{relation.parent_column}"
            + (" (expected: settings expected_orphans, no cost)" if relation.expected else ""),
            relation.orphans, examples=relation.examples, exempt=relation.expected)
    weights = {name: float(settings.quality_weights.get(name, 0.0)) for name in DIMENSIONS}
    dimensions = {name: tallies[name].dimension(weights[name]) for name in DIMENSIONS}
    total_weight = sum(weights.values())
    total = math.floor(round(sum(d.score * d.weight for d in dimensions.values())
                             / total_weight, 6))
    return QualityScore(total, dimensions)


def _column(tallies: dict[str, _Tally], table: str, column, sparse: bool) -> None:
    completeness = tallies["completeness"]
    completeness.eligible += column.rows
    missing = column.missing
    if missing:
        parts = [f"{column.nulls:,} NULL"] if column.nulls else []
        if column.empties:
            parts.append(f"{column.empties:,} empty")
        parts += [f"{n:,} {token!r}" for token, n in column.placeholders.items()]
        completeness.add(
            table, column.name,
            f"{missing:,} of {column.rows:,} cells missing ({missing / column.rows:.1%}:"
            f" {', '.join(parts)})" + (" (sparse column: no cost)" if sparse else ""),
            missing, exempt=sparse)
    kind = column.type if column.type != "text" else column.candidate
    if kind:
        tallies["validity"].eligible += column.present
        tallies["validity"].add(
            table, column.name,
            f"{column.invalid:,} of {column.present:,} values are not a valid {kind}",
            column.invalid, examples=column.invalid_examples)
    consistency = tallies["consistency"]
    consistency.eligible += column.present
    consistency.add(table, column.name,
                    f"{column.whitespace:,} values with leading or trailing whitespace",
                    column.whitespace)
    consistency.add(table, column.name, f"{column.nul_bytes:,} values with NUL bytes",
                    column.nul_bytes)
    dates = column.date_evidence
    if dates is not None and dates.decision == "contradicting":
        consistency.add(table, column.name, dates.reason,
                        min(dates.day_first, dates.month_first),
                        examples=dates.examples.get("day-first", [])[:2]
                        + dates.examples.get("month-first", [])[:2])


def gate(score_total: int, settings: Settings, override_reason: str | None) -> GateDecision:
    """Pass at or above ``quality_threshold``; below it only with a non-blank typed reason."""
    threshold = settings.quality_threshold
    if score_total >= threshold:
        return GateDecision(True, False,
                            f"quality score {score_total} meets the threshold {threshold}")
    reason = (override_reason or "").strip()
    if reason:
        return GateDecision(True, True, reason)
    return GateDecision(False, False, f"quality score {score_total} is below the threshold"
                                      f" {threshold}; override with a typed reason")


def check_gate(score_total: int, settings: Settings,
               override_reason: str | None = None) -> GateDecision:
    """:func:`gate`, raising GateRefused (one line) when it does not pass."""
    decision = gate(score_total, settings, override_reason)
    if not decision.passed:
        raise GateRefused(decision.reason)
    return decision
