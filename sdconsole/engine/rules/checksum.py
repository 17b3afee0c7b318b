"""Row checksums computed identically on both sides: the source in Python, the target in SQL.

A row's digest is the md5 of its cells as canonical text joined by chr(31),
NULL written ``\\N``. In the target that is
``md5(coalesce(c1::text, '\\N') || chr(31) || ...)`` over the typed values,
with DateStyle ISO so they print canonically ('YYYY-MM-DD HH:MM:SS',
numerics with their scale, 'true'/'false'), bytea as ``\\x`` and hex, and a
double precision value as the hex of its eight IEEE bytes (``float8send``),
so no decimal printing rule stands between the sides. On the source side it
is the same text of the cells the rules give (validation's expected cells,
or the canary's cells as the load sent them): rejected cells NULL, NUL
characters removed. A text cell reading ``\\N`` and a NULL share a digest; the
per-column value counts of validation tell those apart.

The target keeps no row id (see :mod:`sdconsole.engine.target.schema`), so rows are
not matched by position. A table's :class:`TableSum` is the row count and the
exact sums of the two signed 64-bit halves of every digest: independent of
order, equal on both sides exactly when the multisets of rows agree (up to
md5 collisions). Only when sums differ does :func:`differing_rows` upload the
source digests and let the database name the source rowids whose row the
target lacks.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from sdconsole.engine.records.plan import ColumnPlan, TablePlan
from sdconsole.engine.rules.cells import NULL, Cell
from sdconsole.engine.rules.naming import table_ref

SEPARATOR = "\x1f"  # chr(31)
# Session settings under which target values print as cell_text writes them.
PRINTING = (
    "SET LOCAL DateStyle = 'ISO'",
    "SET LOCAL bytea_output = 'hex'",
    "SET LOCAL extra_float_digits = 1",
)
EXAMPLES = 5
_HALVES = struct.Struct(">qq")
_DOUBLE = struct.Struct(">d")


def row_digest(cells: Sequence[Cell]) -> bytes:
    """md5 of one row's canonical cells (rowid excluded)."""
    if None in cells:
        cells = [NULL if cell is None else cell for cell in cells]
    try:
        text = SEPARATOR.join(cells)  # type: ignore[arg-type]
    except TypeError:  # bytea or double precision cells
        text = SEPARATOR.join(map(cell_text, cells))
    return hashlib.md5(text.encode(), usedforsecurity=False).digest()


def cell_text(cell: Cell) -> str:
    """A cell as the target's digest expression prints it."""
    if isinstance(cell, bytes):
        return "\\x" + cell.hex()
    if isinstance(cell, float):
        return _DOUBLE.pack(cell).hex()
    return NULL if cell is None else cell


@dataclass
class TableSum:
    """Order-independent checksum of a table: row count and sums of the digest halves."""

    rows: int = 0
    high: int = 0
    low: int = 0

    def add_rows(self, rows: Sequence[Sequence[str | None]]) -> None:
        """Add canonical rows ``(rowid, *cells)``."""
        high = low = 0
        unpack = _HALVES.unpack
        for row in rows:
            row_high, row_low = unpack(row_digest(row[1:]))
            high += row_high
            low += row_low
        self.rows += len(rows)
        self.high += high
        self.low += low

    def __str__(self) -> str:
        """A short fingerprint for the operator (same text on both sides when equal)."""
        mixed = (self.high * 0x9E3779B97F4A7C15 + self.low) % 2**64
        return f"{mixed:016x}"


def digest_expression(table: TablePlan) -> sql.Composed:
    """The SQL md5 over one row of the target table, matching :func:`row_digest`."""
    cells = sql.SQL(" || chr(31) || ").join(
        sql.SQL("coalesce({}, {})").format(printed(c), sql.Literal(NULL)) for c in table.columns
    )
    return sql.SQL("md5({})").format(cells)


def printed(column: ColumnPlan) -> sql.Composed:
    """A target cell as text, as :func:`cell_text` prints the source's."""
    if column.type == "real":
        return sql.SQL("encode(float8send({}), 'hex')").format(sql.Identifier(column.ident))
    return sql.SQL("{}::text").format(sql.Identifier(column.ident))


def sum_query(schema: str, table: TablePlan, also: Sequence[sql.Composable] = ()) -> sql.Composed:
    """``SELECT rows, high, low, *also`` over the target table (``also`` may use its columns).

    Run it with :data:`PRINTING` set, so that values print as the source side writes them.
    """
    figures = [
        sql.SQL("count(*)"),
        sql.SQL("coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0)"),
        sql.SQL("coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint), 0)"),
        *also,
    ]
    return sql.SQL("SELECT {} FROM (SELECT *, {} AS h FROM {}) AS digests").format(
        sql.SQL(", ").join(figures), digest_expression(table), table_ref(schema, table.ident)
    )


def from_row(row: Sequence) -> TableSum:
    """The :class:`TableSum` in the first three fields of a :func:`sum_query` row."""
    return TableSum(row[0], int(row[1]), int(row[2]))


@dataclass
class Difference:
    """Rows present on one side only (multiset difference of row digests)."""

    source_only: int  # working-copy rows with no identical target row
    target_only: int  # target rows with no identical working-copy row
    examples: list[int]  # the first source rowids of source_only


def differing_rows(
    conn: psycopg.Connection, digests: Iterable[tuple[int, bytes]], schema: str, table: TablePlan
) -> Difference:
    """Upload the source's (rowid, digest) pairs to a temporary table and compare row by
    row in the database."""
    pair = sql.SQL(
        "WITH s AS (SELECT rowid, h, row_number() OVER (PARTITION BY h ORDER BY rowid) AS n"
        "           FROM pg_temp.sdc_source_digests),"
        " t AS (SELECT h, row_number() OVER (PARTITION BY h) AS n"
        "       FROM (SELECT {} AS h FROM {}) AS d)"
    ).format(digest_expression(table), table_ref(schema, table.ident))
    with conn.transaction():
        for setting in PRINTING:
            conn.execute(setting)
        conn.execute("CREATE TEMP TABLE sdc_source_digests (rowid bigint, h text) ON COMMIT DROP")
        with conn.cursor().copy("COPY pg_temp.sdc_source_digests FROM STDIN") as copy:
            for rowid, digest in digests:
                copy.write_row((rowid, digest.hex()))
        first = conn.execute(
            pair
            + sql.SQL(
                " SELECT s.rowid, count(*) OVER () FROM s LEFT JOIN t USING (h, n)"
                " WHERE t.h IS NULL ORDER BY s.rowid LIMIT %s"
            ),
            (EXAMPLES,),
        ).fetchall()
        counted = conn.execute(
            pair + sql.SQL(" SELECT count(*) FROM t LEFT JOIN s USING (h, n) WHERE s.h IS NULL")
        ).fetchone()
    assert counted is not None  # an aggregate without GROUP BY returns one row
    return Difference(first[0][1] if first else 0, counted[0], [r[0] for r in first])
