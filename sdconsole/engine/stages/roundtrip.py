"""Cell-by-cell proof of a loaded version: every original source cell beside its target cell.

Validation compares sums; this compares cells, for the tests and the
benchmarks that prove fidelity (``bench/bench_roundtrip.py``). Each source
cell is taken through the documented rules
(:func:`sdconsole.engine.rules.expected.expected_cell`) and classified:

* *equal*: the target holds the source value as it was written;
* *converted*: the target holds the value a type rule made of it (a date, a
  number, a boolean, a BLOB as bytea, a NUL byte removed);
* *nulled*: a placeholder token or an empty value became NULL;
* *rejected*: the target cell is NULL and ``_rejects`` holds the cell, its
  raw text and reason;
* *different*: anything else -- which must never happen.

Rows pair by order: the load writes each table in source rowid order with
COPY FREEZE into a new table, so the n-th row by ``ctid`` is the n-th source
row (a version is never updated in place).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from sdconsole.engine.records.plan import Plan, TablePlan
from sdconsole.engine.rules import checksum
from sdconsole.engine.rules.cells import raw_text, read_chunks, reading
from sdconsole.engine.rules.expected import expected_cell
from sdconsole.engine.rules.naming import table_ref
from sdconsole.engine.target.schema import REJECTS

OUTCOMES = ("equal", "converted", "nulled", "rejected", "different")
DIFFERENCES_KEPT = 10
FETCH_ROWS = 2000


@dataclass
class RoundTrip:
    """Cells per outcome, per table and in all, and the first differences."""

    tables: dict[str, Counter] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)

    @property
    def total(self) -> Counter:
        return sum(self.tables.values(), Counter())

    @property
    def cells(self) -> int:
        return sum(self.total.values())


def round_trip(
    conn: psycopg.Connection, source: Path, plan: Plan, schema: str, null_tokens: frozenset[str]
) -> RoundTrip:
    """Compare every cell of ``source`` with ``schema``'s (see the module docstring)."""
    result = RoundTrip()
    rejects = _rejects(conn, schema)
    with reading(source, "round trip") as db:
        for table in plan.tables:
            counts = result.tables[table.ident] = Counter({o: 0 for o in OUTCOMES})
            target = _target_rows(conn, schema, table)
            for chunk in read_chunks(db, table):
                for row in chunk:
                    have = next(target, None)
                    _row(table, row, have, rejects, null_tokens, counts, result.differences)
            extra = sum(1 for _ in target)
            if extra:
                counts["different"] += extra * len(table.columns)
                result.differences.append(f"{table.ident}: {extra} target rows beyond the source's")
    return result


def _row(
    table: TablePlan,
    row: tuple,
    have: tuple | None,
    rejects: dict,
    tokens: frozenset[str],
    counts: Counter,
    differences: list[str],
) -> None:
    rowid = row[0]
    for index, column in enumerate(table.columns):
        value = row[1 + index]
        want, reason = expected_cell(value, column, tokens)
        got = None if have is None else have[index]
        got_text = checksum.NULL if got is None else got
        if reason is not None:
            raw = rejects.get((table.ident, rowid, column.ident))
            outcome = "rejected" if got is None and raw == raw_text(value) else "different"
        elif checksum.cell_text(want) != got_text:
            outcome = "different"
        elif want is None:
            outcome = "equal" if value is None else "nulled"
        else:
            outcome = "equal" if _as_written(value) == got_text else "converted"
        counts[outcome] += 1
        if outcome == "different" and len(differences) < DIFFERENCES_KEPT:
            differences.append(
                f"{table.ident} rowid {rowid} {column.ident}: source {value!r},"
                f" expected {checksum.cell_text(want)!r}, target {got_text!r}"
            )


def _as_written(value: object) -> str:
    """A source value as the target would print it unchanged (BLOBs and REALs as the
    checksums print them), to tell a value kept as written from a converted one."""
    if isinstance(value, (bytes, float)):
        return checksum.cell_text(value)
    return str(value)


def _target_rows(conn: psycopg.Connection, schema: str, table: TablePlan):
    """The target's rows in load order, printed as the checksums print them."""
    printed = sql.SQL(", ").join(checksum.printed(c) for c in table.columns)
    with conn.transaction():
        for setting in checksum.PRINTING:
            conn.execute(setting)
        cursor = conn.cursor(name=f"sdc_round_trip_{table.ident}"[:63])
        cursor.execute(
            sql.SQL("SELECT {} FROM {} ORDER BY ctid").format(
                printed, table_ref(schema, table.ident)
            )
        )
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from rows
        cursor.close()


def _rejects(conn: psycopg.Connection, schema: str) -> dict[tuple[str, int, str], str]:
    return {
        (t, r, c): raw
        for t, r, c, raw in conn.execute(
            sql.SQL("SELECT table_name, source_rowid, column_name, raw_value FROM {}").format(
                table_ref(schema, REJECTS)
            )
        )
    }
