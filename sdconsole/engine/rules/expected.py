"""What the target must hold for an original source cell: the documented rule, in Python.

Validation and the canary derive the target from the ORIGINAL source with
:func:`expected_cell`, an implementation independent of the cleaner's SQL
and of the loader's fast path, so a bug between them fails the comparison
and names the cell. :func:`present_counts` counts in SQLite the cells that
are not missing, by the same rule as :func:`~sdconsole.engine.rules.values.is_missing`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from psycopg import sql

from sdconsole.engine.records.plan import ColumnPlan, TablePlan
from sdconsole.engine.rules.cells import Cell, convert_cell, require_columns, row_number
from sdconsole.engine.rules.values import WHITESPACE, is_missing
from sdconsole.engine.source.sqlite import sqlite_sql

MEMO_VALUES = 5_000  # distinct values whose expected cell is remembered per column


def expected_cell(
    value: object, column: ColumnPlan, tokens: frozenset[str]
) -> tuple[Cell, str | None]:
    """The value the target must hold for an original source cell, or (None, reject reason).

    The documented rules, in order: NUL characters are removed (PostgreSQL
    text cannot hold them); a value that is empty or a placeholder token once
    trimmed is NULL; a text column keeps the value otherwise byte for byte; a
    typed column converts the trimmed value (:func:`~sdconsole.engine.rules.cells.convert_cell`),
    else it is a reject. BLOBs, REALs and integers keep their storage class's rule.
    """
    if type(value) is not str:  # NULL, INTEGER, REAL, BLOB, or text that is not UTF-8
        return convert_cell(value, column)[:2]
    text = value.replace("\x00", "") if "\x00" in value else value
    trimmed = text.strip()
    if trimmed in tokens:
        return None, None
    if column.type == "text":
        return text, None
    return convert_cell(trimmed, column)[:2]


def present_counts(
    db: sqlite3.Connection,
    table: TablePlan,
    tokens: frozenset[str],
    rowids: Sequence[int] | None = None,
) -> tuple[int, dict[str, int]]:
    """Rows and values that are not missing, per column ident, counted in SQLite.

    Mirrors :func:`sdconsole.engine.rules.values.is_missing`: trim with the same
    whitespace, compare with the tokens; the rare values holding a NUL
    character are judged by ``is_missing`` itself. A value whose first and
    last characters are printable ASCII has nothing to trim, so it is
    compared as it is (trim() copies every value it sees). ``rowids``
    restricts the count to those rows (the canary's sample).
    """
    require_columns(db, table)
    db.create_function(
        "sdc_present", 1, lambda v: int(not is_missing(v, tokens)), deterministic=True
    )
    marks = sql.SQL(", ").join(sql.SQL("?") for _ in tokens) if tokens else sql.SQL("NULL")
    present = sql.SQL(", ").join(
        sql.SQL(
            "sum(CASE WHEN {c} IS NULL THEN 0 WHEN typeof({c}) <> 'text' THEN 1"
            " WHEN instr({c}, char(0)) > 0 THEN sdc_present({c})"
            " WHEN {c} GLOB '[!-~]*' AND substr({c}, -1) BETWEEN '!' AND '~'"
            " THEN CASE WHEN {c} IN ({marks}) THEN 0 ELSE 1 END"
            " WHEN trim({c}, ?) IN ({marks}) THEN 0 ELSE 1 END)"
        ).format(c=sql.Identifier(col.name), marks=marks)
        for col in table.columns
    )
    ordered = sorted(tokens)
    params: list = [p for _ in table.columns for p in (*ordered, WHITESPACE, *ordered)]
    rows: sql.Composable = sql.Identifier(table.name)
    if rowids is not None:
        rows = sql.SQL(
            "(SELECT {} AS sdc_row, * FROM {}) WHERE sdc_row IN (SELECT value FROM json_each(?))"
        ).format(row_number(db, table), sql.Identifier(table.name))
    query = sql.SQL("SELECT count(*), {} FROM {}").format(present, rows)
    if rowids is not None:
        params.append(json.dumps(list(rowids)))
    row = db.execute(sqlite_sql(query), params).fetchone()
    return row[0], {c.ident: n or 0 for c, n in zip(table.columns, row[1:], strict=True)}
