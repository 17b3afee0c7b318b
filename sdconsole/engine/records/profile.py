"""The profile as the run dir keeps it (``profile.json``): what every column and relation
holds, the decisions made from it with their evidence, the quality score and the plan.

The profile stage (:mod:`sdconsole.engine.stages.profile`) writes it; the
gate, the front ends and a resumed run read it back with :meth:`Profile.load`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sdconsole.engine.records.plan import Plan
from sdconsole.engine.records.quality import QualityScore
from sdconsole.engine.rules.values import DateOrder
from sdconsole.engine.source.sqlite import DeclaredForeignKey, DeclaredSchema


@dataclass
class DateEvidence:
    """What a date-like column's values prove about day/month order, and the decision."""

    iso: int = 0
    day_first: int = 0
    month_first: int = 0
    ambiguous: int = 0
    impossible: int = 0  # date-like cells that are no real date in the decided order
    impossible_in: dict[str, int] = field(default_factory=dict)  # the same, per order
    decision: str = ""  # 'day-first', 'month-first' or 'contradicting'
    reason: str = ""
    examples: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ColumnOverride:
    """The operator's change of a column: what the evidence made of it, and what was chosen
    (None: that part was left to the evidence). The column's counts, findings and score
    are those of what it is now."""

    was_type: str
    was_date_order: DateOrder
    type: str | None = None
    date_order: DateOrder | None = None


@dataclass
class ColumnProfile:
    """Everything the profile knows about one column."""

    name: str
    ident: str
    declared_type: str
    inferred_type: str
    type: str  # after operator overrides: what the plan loads
    confidence: float
    date_order: DateOrder
    flagged: str = ""
    note: str = ""
    candidate: str | None = None  # best type of a text column that is flagged for review
    rows: int = 0
    nulls: int = 0
    empties: int = 0
    placeholders: dict[str, int] = field(default_factory=dict)
    present: int = 0
    invalid: int = 0  # present cells that do not convert to ``type``
    invalid_examples: list[str] = field(default_factory=list)
    distinct: int = 0
    min: str | None = None
    max: str | None = None
    max_length: int = 0
    nul_bytes: int = 0
    whitespace: int = 0
    non_text: int = 0
    blobs: int = 0
    invalid_utf8: int = 0  # TEXT cells that are not UTF-8: rejects with their raw bytes
    lossy: int = 0  # values such as '06897' that a number type would not keep
    precision: int | None = None  # declared NUMERIC(p,s), kept when every value fits
    scale: int | None = None
    departure: str = ""  # why the type is not the declared one ('' when it is)
    flag_evidence: str = ""  # why it is, or (0/1 only, or a known flag) is not, a flag
    true_words: list[str] = field(default_factory=list)  # its words of setting flag_words
    false_words: list[str] = field(default_factory=list)
    date_evidence: DateEvidence | None = None  # of a date-like column, or one loaded as a date
    key_candidate: bool = False
    repeated_values: int = 0
    overridden: ColumnOverride | None = None

    @property
    def missing(self) -> int:
        return self.nulls + self.empties + sum(self.placeholders.values())


@dataclass
class TableProfile:
    name: str
    ident: str
    rows: int
    columns: list[ColumnProfile] = field(default_factory=list)
    key: str | None = None  # column name of the chosen key candidate
    duplicate_keys: int = 0  # key values that occur more than once (trimmed)
    duplicate_rows: int = 0  # rows beyond the first of each duplicated key value
    duplicate_examples: list[str] = field(default_factory=list)
    date_column: str | None = None
    declared: DeclaredSchema = field(default_factory=DeclaredSchema)

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)


@dataclass
class RelationProfile:
    """References from a child column to a parent key, and those that point nowhere."""

    child_table: str
    child_column: str
    parent_table: str
    parent_column: str
    references: int = 0  # present child cells
    orphans: int = 0  # present child cells whose value is no parent key
    orphan_values: int = 0
    examples: list[str] = field(default_factory=list)
    expected: bool = False  # listed in settings.expected_orphans: costs no points
    declared: bool = False  # a foreign key the source declares (else a ServiceDesk relation)

    @property
    def key(self) -> str:
        return f"{self.child_table}.{self.child_column}"


@dataclass
class Profile:
    source: str
    source_sha256: str
    tables: list[TableProfile]
    relations: list[RelationProfile]
    score: QualityScore
    plan: Plan
    seconds: float = 0.0
    # The scans by (table, column), in memory only: an override re-decides a column from
    # its scan; a profile read back from the run dir has none, and reads the column again.
    scans: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False, compare=False)

    def table(self, name: str) -> TableProfile:
        return next(t for t in self.tables if t.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_sha256": self.source_sha256,
            "seconds": self.seconds,
            "score": self.score.to_dict(),
            "tables": [asdict(t) for t in self.tables],
            "relations": [asdict(r) for r in self.relations],
            "plan": self.plan.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        tables = []
        for t in data["tables"]:
            columns = []
            for c in t["columns"]:
                dates, changed = c.get("date_evidence"), c.get("overridden")
                columns.append(
                    ColumnProfile(
                        **{
                            **c,
                            "date_evidence": DateEvidence(**dates) if dates else None,
                            "overridden": ColumnOverride(**changed) if changed else None,
                        }
                    )
                )
            declared = t.get("declared") or {}
            tables.append(
                TableProfile(
                    **{
                        **t,
                        "columns": columns,
                        "declared": DeclaredSchema(
                            **{
                                **declared,
                                "foreign_keys": [
                                    DeclaredForeignKey(**k)
                                    for k in declared.get("foreign_keys", [])
                                ],
                            }
                        ),
                    }
                )
            )
        return cls(
            source=data["source"],
            source_sha256=data["source_sha256"],
            tables=tables,
            relations=[RelationProfile(**r) for r in data["relations"]],
            score=QualityScore.from_dict(data["score"]),
            plan=Plan.from_dict(data["plan"]),
            seconds=data.get("seconds", 0.0),
        )

    @classmethod
    def load(cls, path: Path) -> Profile:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
