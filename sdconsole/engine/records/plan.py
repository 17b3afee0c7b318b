"""The migration plan: what each source table and column becomes in PostgreSQL.

The profiler proposes it from the values and the operator's overrides, the
cleaner follows it to canonicalise values, and the loader creates typed
columns from it. It is saved in the run dir as ``plan.json`` so a resumed
run loads exactly what was cleaned.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sdconsole.engine.rules.values import CONVERTERS, PG_TYPES, DateOrder, to_boolean


@dataclass
class ColumnPlan:
    """One column: source name, identifier, type, and the date order for date types.

    ``precision``/``scale``: a numeric column's declared NUMERIC(p,s), kept
    when every value fits. ``invalid_utf8``: TEXT cells that are not UTF-8,
    which every reader takes as bytes (they are rejected with their raw bytes).
    ``true_words``/``false_words``: the words of setting ``flag_words`` the
    column holds (lower-case), which it converts as a boolean besides English.
    """

    name: str
    ident: str
    type: str = "text"
    date_order: DateOrder = "day-first"
    flagged: str = ""  # why the column needs review ('' when it does not)
    precision: int | None = None
    scale: int | None = None
    invalid_utf8: int = 0
    true_words: list[str] = field(default_factory=list)
    false_words: list[str] = field(default_factory=list)

    def convert(self, text: str) -> str:
        """``text`` as the column's canonical value (the one rule of the cleaner, the loader
        and validation): its type's converter with its date order, and a boolean's own
        words; Unconvertible when it is none."""
        if self.type == "boolean":
            return to_boolean(text, self.date_order, self.true_words, self.false_words)
        return CONVERTERS[self.type](text, self.date_order)

    @property
    def pg_type(self) -> str:
        if self.type == "numeric" and self.precision is not None:
            return f"numeric({self.precision},{self.scale or 0})"
        return PG_TYPES[self.type]


@dataclass
class ForeignKeyPlan:
    """A declared foreign key, by column idents: created NOT VALID when orphans exist."""

    columns: list[str]
    parent: str  # parent table ident
    parent_columns: list[str]


@dataclass
class TablePlan:
    """One table: source name, identifier, row count, columns and its keys.

    ``primary_key`` is the declared key (also composite) or, where none is
    declared, one inferred from the values (``key_inferred``). ``unique``
    and ``foreign_keys`` are as declared. ``order_by`` is set for a WITHOUT
    ROWID table: its declared key, whose order numbers its rows.
    """

    name: str
    ident: str
    rows: int
    columns: list[ColumnPlan] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)  # column idents
    key_inferred: bool = False
    unique: list[list[str]] = field(default_factory=list)
    foreign_keys: list[ForeignKeyPlan] = field(default_factory=list)
    date_column: str | None = None  # main date column ident (canary strata, indexes)
    order_by: list[str] = field(default_factory=list)  # source column names (WITHOUT ROWID)

    def column(self, name: str) -> ColumnPlan:
        return next(c for c in self.columns if c.name == name)


@dataclass
class Plan:
    tables: list[TablePlan] = field(default_factory=list)

    def table(self, name: str) -> TablePlan:
        return next(t for t in self.tables if t.name == name)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        return cls(
            tables=[
                TablePlan(
                    **{
                        **t,
                        "columns": [ColumnPlan(**c) for c in t["columns"]],
                        "foreign_keys": [ForeignKeyPlan(**f) for f in t.get("foreign_keys", [])],
                    }
                )
                for t in data["tables"]
            ]
        )

    def save(self, path: Path) -> None:
        from sdconsole.engine.runtime.run import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Plan:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
