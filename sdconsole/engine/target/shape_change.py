"""What a new version changes in the shape dashboards read: tables and columns gone, new or
retyped, compared with the active version.

Preflight compares names (the source's, normalised as the loader will) since
types are only known after the profile; the cutover compares the loaded
version's tables and column types with the active version's. A change that
removes a table or column, or changes a column's type, can break a dashboard:
headless it needs ``--allow-shape-change`` (else the run stops at the cutover
gate, exit 7); the console shows it above the cutover's statements.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from sdconsole.engine.records.plan import Plan
from sdconsole.engine.rules.naming import normalise_all
from sdconsole.engine.runtime.errors import ApprovalNeeded
from sdconsole.engine.source.sqlite import list_columns, list_tables
from sdconsole.engine.target import metadata

Shape = dict[str, dict[str, str | None]]  # table -> column -> type (None: not known yet)
LISTED = 8  # changes named in one line
# How PostgreSQL's format_type() writes the plan's types that it spells out longer.
_FORMATTED = {"timestamp": "timestamp without time zone", "time": "time without time zone"}


@dataclass
class ShapeChange:
    """Tables and columns that disappear, appear or change type."""

    tables_removed: list[str] = field(default_factory=list)
    tables_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)  # 'table.column'
    columns_added: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)  # 'table.column bigint -> text'

    @property
    def breaking(self) -> bool:
        """Whether a reader of the active version may lose something it reads."""
        return bool(self.tables_removed or self.columns_removed or self.retyped)

    @property
    def changed(self) -> bool:
        return self.breaking or bool(self.tables_added or self.columns_added)

    def lines(self) -> list[str]:
        """One line per kind of change, naming the first ones."""
        found = []
        for label, items in (
            ("tables removed", self.tables_removed),
            ("columns removed", self.columns_removed),
            ("columns retyped", self.retyped),
            ("tables added", self.tables_added),
            ("columns added", self.columns_added),
        ):
            if items:
                more = f" and {len(items) - LISTED} more" if len(items) > LISTED else ""
                found.append(f"{len(items)} {label}: {', '.join(items[:LISTED])}{more}")
        return found

    def summary(self) -> str:
        return "; ".join(self.lines()) or "same tables and columns"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(active: Shape, new: Shape) -> ShapeChange:
    """The change from ``active`` to ``new`` (types compared where both are known)."""
    change = ShapeChange(
        tables_removed=[t for t in active if t not in new],
        tables_added=[t for t in new if t not in active],
    )
    for table, columns in new.items():
        old = active.get(table)
        if old is None:
            continue
        change.columns_removed += [f"{table}.{c}" for c in old if c not in columns]
        change.columns_added += [f"{table}.{c}" for c in columns if c not in old]
        change.retyped += [
            f"{table}.{c} {old[c]} -> {kind}"
            for c, kind in columns.items()
            if c in old and None not in (old[c], kind) and old[c] != kind
        ]
    return change


def schema_shape(conn: psycopg.Connection, schema: str) -> Shape:
    """Tables (but ``_rejects``) and column types of a version schema."""
    shape: Shape = {}
    for table, column, kind in conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname <> '_rejects'"
        " ORDER BY c.relname, a.attnum",
        (schema,),
    ):
        shape.setdefault(table, {})[column] = kind
    return shape


def source_shape(conn: sqlite3.Connection) -> Shape:
    """The source's tables and columns as the loader will name them (types unknown)."""
    tables = list_tables(conn)
    idents = normalise_all(tables)
    shape: Shape = {}
    for table in tables:
        columns = normalise_all([name for name, _ in list_columns(conn, table)])
        shape[idents[table]] = dict.fromkeys(columns.values())
    return shape


def plan_shape(plan: Plan) -> Shape:
    """The tables and column types the plan will load."""
    return {
        t.ident: {c.ident: _FORMATTED.get(c.pg_type, c.pg_type) for c in t.columns}
        for t in plan.tables
    }


def against_active(conn: psycopg.Connection, stable: str, new: Shape) -> ShapeChange | None:
    """The change from the active version to ``new``; None when no version is active."""
    if not metadata.has_metadata(conn):
        return None
    active = metadata.active_version(conn, stable)
    if active is None:
        return None
    return compare(schema_shape(conn, metadata.version_schema(stable, active)), new)


def require_allowed(change: ShapeChange | None, allowed: bool) -> None:
    """ApprovalNeeded (exit 7) for a breaking change nobody allowed, saying what it is."""
    if change is not None and change.breaking and not allowed:
        raise ApprovalNeeded(
            f"stopped: the new version changes what dashboards read"
            f" ({change.summary()}); re-run with --allow-shape-change to go"
            " ahead"
        )
