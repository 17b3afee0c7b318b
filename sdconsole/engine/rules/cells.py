"""Working-copy rows as the target holds them: the one rule the loader and the checksums share.

A cell of a typed column becomes the canonical text of
:meth:`sdconsole.engine.records.plan.ColumnPlan.convert` (idempotent on what the
cleaner wrote) or, when it does not convert, NULL plus a :class:`Reject`
carrying the raw text and the reason. Text cells pass unchanged, byte for byte. NUL
characters, which PostgreSQL text cannot hold, are removed and counted (the
cleaner removes them already; this is the safety net, and the text after a
NUL is kept). Numeric negative zero is written ``0``, as PostgreSQL stores
it; a NUMERIC(p,s) column's values are written with their s decimals, as
PostgreSQL prints them. Every storage class has a home: a BLOB lands in a
bytea column as its bytes (anywhere else it is a reject, never text); a REAL
lands in a real (double precision) column as the same double; a TEXT cell
that is not UTF-8 (:class:`~sdconsole.engine.source.sqlite.InvalidText`) is a
reject with its raw bytes.

Speed: converting every cell costs about a microsecond, and a cleaned copy is
almost all canonical already. :meth:`CellRules.canonicalise` therefore checks
a chunk column by column with one precompiled pattern per type (C speed,
ASCII digits only, calendar-exact) and converts cell by cell only the rows of
a column where some value is not plainly canonical. A value the pattern
accepts is one its converter returns unchanged (tested), so both paths give
the same result.

Rows are read from the working copy in rowid order with :func:`read_chunks`,
a bounded chunk at a time, optionally restricted to given rowids (the canary).
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from sdconsole.engine.records.plan import ColumnPlan, TablePlan
from sdconsole.engine.rules.values import Unconvertible
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.source.sqlite import (
    InvalidText,
    is_decode_error,
    open_source,
    read_text_leniently,
    sqlite_sql,
)

DOUBLE_EXACT = 2**53  # integers a double holds exactly

CHUNK_ROWS = 2000
KNOWN_MAX = 5000  # canonical values remembered per column
NULL = "\\N"  # how a NULL cell reads in COPY text and in checksums

# PostgreSQL numeric holds at most this many digits before and after the point.
NUMERIC_MAX_INTEGER_DIGITS = 131072
NUMERIC_MAX_FRACTION_DIGITS = 16383

_YEAR = r"(?!0000)[0-9]{4}"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
)
_DAY = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"

# Exactly the texts each converter returns unchanged (a subset is enough:
# anything else takes the slow path and is converted there).
CANONICAL = {
    "integer": re.compile(r"0|-?[1-9][0-9]{0,17}"),
    # no negative number below one: '-0' and '-0.00' become '0' and '0.00' (slow path)
    "numeric": re.compile(r"(?:0|-?[1-9][0-9]{0,30})(?:\.[0-9]{1,30})?"),
    "boolean": re.compile(r"true|false"),
    "timestamp": re.compile(rf"{_DAY} {_CLOCK}(?:\.[0-9]{{0,5}}[1-9])?"),
    "date": re.compile(_DAY),
    "time": re.compile(rf"{_CLOCK}(?:\.[0-9]{{0,5}}[1-9])?"),
}


def canonical_pattern(column: ColumnPlan) -> re.Pattern | None:
    """The fast path's pattern for a column's canonical text; None: no fast path (real, bytea)."""
    if column.type == "numeric" and column.scale is not None:
        fraction = rf"\.[0-9]{{{column.scale}}}" if column.scale else ""
        return re.compile(rf"(?:0|-?[1-9][0-9]{{0,30}}){fraction}")
    return CANONICAL.get(column.type)


@dataclass(frozen=True)
class Reject:
    """A working-copy cell that does not fit its column: it lands as NULL and is recorded."""

    rowid: int
    column: str  # column ident
    raw: str
    reason: str
    raw_bytes: bytes | None = None  # a BLOB or a TEXT cell that is not UTF-8, exactly


Cell = str | bytes | float | None  # as COPY writes it: text, bytea, double precision


def convert_cell(value: object, column: ColumnPlan) -> tuple[Cell, str | None, bool]:
    """One cell by the full rules: (target value or None, reject reason or None, NUL removed)."""
    if value is None:
        return None, None, False
    if isinstance(value, InvalidText):
        return None, "text that is not valid UTF-8", False
    if isinstance(value, bytes):
        if column.type == "bytea":
            return bytes(value), None, False
        return None, f"binary value (BLOB) in a {column.type} column", False
    if column.type == "real" and not isinstance(value, str):
        return _double(value)
    if isinstance(value, float):
        text = repr(value)
    else:
        text = value if isinstance(value, str) else str(value)
    had_nul = "\x00" in text
    if had_nul:
        text = text.replace("\x00", "")
    if column.type == "text":
        return text, None, had_nul
    try:
        canonical = column.convert(text)
    except Unconvertible as exc:
        return None, str(exc), had_nul
    if column.type == "numeric":
        canonical, reason = _numeric_for_postgres(canonical, column)
        if reason:
            return None, reason, had_nul
    return canonical, None, had_nul


def _double(value: object) -> tuple[Cell, str | None, bool]:
    """A REAL cell as itself; an INTEGER cell when a double holds it exactly."""
    if isinstance(value, float):
        return value, None, False
    if isinstance(value, int) and -DOUBLE_EXACT <= value <= DOUBLE_EXACT:
        return float(value), None, False
    return None, "integer that double precision cannot hold exactly", False


def raw_text(value: object) -> str:
    """A rejected cell as text for ``_rejects.raw_value`` (no NUL; bytes as hex)."""
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, float):
        return repr(value)
    return str(value).replace("\x00", "")


def _numeric_for_postgres(canonical: str, column: ColumnPlan) -> tuple[str, str | None]:
    """Negative zero as PostgreSQL stores it; a NUMERIC(p,s) value with its s decimals;
    numbers beyond the range are rejects."""
    digits, _, fraction = canonical.lstrip("-").partition(".")
    if len(digits) > NUMERIC_MAX_INTEGER_DIGITS or len(fraction) > NUMERIC_MAX_FRACTION_DIGITS:
        return canonical, "number out of PostgreSQL numeric range"
    if column.precision is not None:
        scale = column.scale or 0
        if fraction.rstrip("0") != fraction[:scale].rstrip("0") or (
            len(digits.lstrip("0")) > column.precision - scale
        ):
            return canonical, f"number does not fit {column.pg_type}"
        fraction = (fraction + "0" * scale)[:scale]
        sign = "-" if canonical.startswith("-") else ""
        canonical = f"{sign}{digits}.{fraction}" if scale else f"{sign}{digits}"
    if canonical.startswith("-") and not canonical.strip("-0."):
        return canonical[1:], None
    return canonical, None


class CellRules:
    """The cell rules of one table, applied a chunk of working-copy rows at a time.

    Besides the patterns it remembers, per typed column, values already found
    canonical: for columns with few distinct values (booleans, hours, dates,
    times) a set lookup replaces the pattern. A column that keeps showing new
    values (timestamps, ids) stops being remembered after ``KNOWN_MAX``.
    """

    def __init__(self, table: TablePlan) -> None:
        self.columns = table.columns
        self._patterns = [canonical_pattern(c) for c in table.columns]
        self._known: list[set | None] = [
            None if c.type == "text" else {None} for c in table.columns
        ]

    def canonicalise(self, rows: list[tuple]) -> tuple[Sequence[Sequence], list[Reject], int]:
        """Rows ``(rowid, *cells)`` -> (rows with canonical cells, rejects, NULs removed).

        Rows that are already canonical are returned as they are (no copy).
        """
        if not rows:
            return rows, [], 0
        suspects: set[int] = set()
        for index, cells in enumerate(list(zip(*rows, strict=True))[1:]):
            if not self._plainly_canonical(index, cells):
                suspects.update(_suspect_rows(self.columns[index], self._patterns[index], cells))
        if not suspects:
            return rows, [], 0
        return self._convert(rows, suspects)

    def _convert(
        self, rows: list[tuple], suspects: set[int]
    ) -> tuple[list[Sequence], list[Reject], int]:
        """Convert the suspect rows cell by cell by the full rules."""
        result: list[Sequence] = list(rows)
        rejects: list[Reject] = []
        nuls = 0
        for position in sorted(suspects):
            row = rows[position]
            rowid = row[0]
            fixed: list = [rowid]
            for column, value in zip(self.columns, row[1:], strict=True):
                canonical, reason, had_nul = convert_cell(value, column)
                nuls += had_nul
                if reason is not None:
                    rejects.append(
                        Reject(
                            rowid,
                            column.ident,
                            raw_text(value),
                            reason,
                            bytes(value) if isinstance(value, bytes) else None,
                        )
                    )
                fixed.append(canonical)
            result[position] = fixed
        return result, rejects, nuls

    def _plainly_canonical(self, index: int, cells: tuple) -> bool:
        """True when every cell of a chunk's column is None or canonical text (C-speed checks)."""
        column = self.columns[index]
        known = self._known[index]
        if known is not None and known.issuperset(cells):
            return True
        try:
            if column.type == "text":
                return "\x00" not in "".join(filter(None, cells))
            pattern = self._patterns[index]
            if pattern is None:
                return all(cell is None for cell in cells)
            fresh = cells if known is None else set(cells).difference(known)
            if "" in fresh or not all(map(pattern.fullmatch, filter(None, fresh))):
                return False
        except TypeError:  # a non-text value (integer, real, blob): take the slow path
            return False
        if known is not None:
            if len(known) + len(fresh) <= KNOWN_MAX:
                known.update(fresh)
            else:
                self._known[index] = None
        return True


def _suspect_rows(column: ColumnPlan, pattern: re.Pattern | None, cells: tuple) -> Iterator[int]:
    """Positions of the cells that need converting in a column that failed the chunk check."""
    if column.type == "text":
        for position, value in enumerate(cells):
            if value is not None and (type(value) is not str or "\x00" in value):
                yield position
        return
    if pattern is None:
        yield from (position for position, value in enumerate(cells) if value is not None)
        return
    fullmatch = pattern.fullmatch
    for position, value in enumerate(cells):
        if value is not None and (type(value) is not str or not fullmatch(value)):
            yield position


@contextlib.contextmanager
def reading(path: Path, purpose: str) -> Iterator[sqlite3.Connection]:
    """A read-only SQLite connection, closed after; a read error becomes one StageError line."""
    db = open_source(path)
    try:
        yield db
    except sqlite3.Error as exc:
        raise StageError(f"reading {path} for {purpose} failed: {exc}") from None
    finally:
        db.close()


def rowid_name(table: TablePlan) -> str:
    """A name for the rowid that no column of the table shadows (SQLite's own rule)."""
    taken = {column.name.lower() for column in table.columns}
    for name in ("rowid", "_rowid_", "oid"):
        if name not in taken:
            return name
    raise ValueError(f"table {table.name} has columns named rowid, _rowid_ and oid")


def require_columns(db: sqlite3.Connection, table: TablePlan) -> None:
    """StageError unless the file has the plan's table and columns.

    Needed because SQLite reads a double-quoted name that is not a column as
    a string literal: a stale plan would otherwise load that text in every row.
    """
    found = {r[0] for r in db.execute("SELECT name FROM pragma_table_info(?)", (table.name,))}
    missing = [c.name for c in table.columns if c.name not in found]
    if not found or missing:
        path = db.execute("PRAGMA database_list").fetchone()[2]
        what = f"column {missing[0]!r}" if found else "table"
        raise StageError(
            f"{path} has no {what} in table {table.name!r}: the plan does not match the file"
        )


def read_chunks(
    db: sqlite3.Connection,
    table: TablePlan,
    rowids: Sequence[int] | None = None,
    size: int = CHUNK_ROWS,
) -> Iterator[list[tuple]]:
    """Rows ``(rowid, *cells)`` of a table in rowid order, ``size`` at a time.

    With ``rowids``, only those rows (passed as one JSON array). Never holds
    more than a chunk of rows. A WITHOUT ROWID table (in the original
    source) is read in its declared key's order, numbered from 1, as the
    working copy numbers it. A TEXT cell that is not UTF-8 switches the
    connection to :func:`read_text_leniently` and the read goes on where it
    was.
    """
    require_columns(db, table)
    rowid = row_number(db, table)
    query = sql.SQL("SELECT {}, {} FROM {}").format(
        rowid,
        sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
        sql.Identifier(table.name),
    )
    params: tuple = ()
    if rowids is not None:
        numbered = rowid
        if isinstance(rowid, sql.Composed):  # a row_number(): filter outside the window
            query, numbered = sql.SQL("SELECT * FROM ({})").format(query), sql.SQL("sdc_row")
        query += sql.SQL(" WHERE {} IN (SELECT value FROM json_each(?))").format(numbered)
        params = (json.dumps(list(rowids)),)
    statement = sqlite_sql(query + sql.SQL(" ORDER BY 1"))
    done = 0
    while True:
        cursor = db.execute(statement, params)
        try:
            skipped = 0
            while skipped < done:  # the rows read before the connection turned lenient
                skipped += len(cursor.fetchmany(min(size, done - skipped)))
            while rows := cursor.fetchmany(size):
                done += len(rows)
                yield rows
            return
        except sqlite3.OperationalError as exc:
            if not is_decode_error(exc) or db.text_factory is not str:
                raise
            read_text_leniently(db)


def row_number(db: sqlite3.Connection, table: TablePlan) -> sql.Composable:
    """What numbers a table's rows: its rowid, or for a WITHOUT ROWID table its place in
    the declared key's order (``row_number() OVER (ORDER BY key)``)."""
    name = rowid_name(table)
    if not table.order_by:
        return sql.SQL(name)
    try:
        db.execute(
            sqlite_sql(
                sql.SQL("SELECT {} FROM {} LIMIT 0").format(
                    sql.SQL(name), sql.Identifier(table.name)
                )
            )
        )
        return sql.SQL(name)  # the working copy, where it has a rowid
    except sqlite3.OperationalError:
        return sql.SQL("row_number() OVER (ORDER BY {}) AS sdc_row").format(
            sql.SQL(", ").join(map(sql.Identifier, table.order_by))
        )
