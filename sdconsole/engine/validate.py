"""Validate a loaded version against the source before cutover.

Three checks per table, each reported as a CheckResult event:

* rows: the source table's row count equals the target's;
* values: for every column, the source values that are not missing (in the
  ORIGINAL source: not NULL, not empty after trimming, not a null token)
  equal the target's non-NULL cells plus the column's rejects;
* checksums: the row checksums of the working copy, as the load should have
  written it, equal the target's (:mod:`sdconsole.engine.checksum`); when
  they do not, the first differing source rowids are named, with the key.

The source's counts may come from the profile (a full scan of the same
file, whose SHA-256 the cleaner verified unchanged). The sides are computed
at once: the target's figures (one scan per table) on the connection in one
thread, the source's counts (one SQLite connection per table) in others,
while this thread reads the working copy for its checksums; SQLite and
psycopg release the GIL while they work. The caller raises ValidationFailed
when the report is not ``ok``; a failed validation blocks cutover.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdconsole.engine import checksum, processes
from sdconsole.engine import events as ev
from sdconsole.engine.cells import reading, require_columns, rowid_name
from sdconsole.engine.errors import StageError
from sdconsole.engine.plan import Plan, TablePlan
from sdconsole.engine.run import Run, one_line
from sdconsole.engine.schema import REJECTS, table_ref
from sdconsole.engine.source import sqlite_sql
from sdconsole.engine.values import WHITESPACE, is_missing

STAGE = "validate"


@dataclass
class ColumnCheck:
    """One column: source values = target values + rejects?"""

    column: str
    source_values: int
    target_values: int
    rejects: int

    @property
    def ok(self) -> bool:
        return self.source_values == self.target_values + self.rejects

    def describe(self) -> str:
        return (f"{self.column}: source {self.source_values}, target {self.target_values}"
                f" + {self.rejects} rejects")


@dataclass
class TableCheck:
    """One table's three checks."""

    table: str
    source_rows: int
    target_rows: int
    columns: list[ColumnCheck] = field(default_factory=list)
    checksum_ok: bool = True
    differing_rows: int = 0  # source rows with no identical target row
    extra_rows: int = 0  # target rows with no identical source row
    examples: list[str] = field(default_factory=list)  # "rowid 17 (tkt_ticket_id 100017)"

    @property
    def rows_ok(self) -> bool:
        return self.source_rows == self.target_rows

    @property
    def values_ok(self) -> bool:
        return all(c.ok for c in self.columns)

    @property
    def ok(self) -> bool:
        return self.rows_ok and self.values_ok and self.checksum_ok

    def problems(self) -> list[str]:
        found = []
        if not self.rows_ok:
            found.append(f"{self.source_rows} source rows, {self.target_rows} loaded")
        found += [c.describe() for c in self.columns if not c.ok]
        if not self.checksum_ok:
            found.append(_differences(self))
        return found


@dataclass
class ValidationReport:
    schema: str
    tables: dict[str, TableCheck] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables.values())

    @property
    def summary(self) -> str:
        """One line: what passed, or the first problems and where."""
        if self.ok:
            rows = sum(t.target_rows for t in self.tables.values())
            rejects = sum(c.rejects for t in self.tables.values() for c in t.columns)
            return (f"validation of {self.schema} passed: {len(self.tables)} tables,"
                    f" {rows:,} rows, {rejects:,} rejects reconciled, checksums match")
        problems = [f"{t.table}: {'; '.join(t.problems())}"
                    for t in self.tables.values() if not t.ok]
        return f"validation of {self.schema} failed: " + " | ".join(problems)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "ok": self.ok, "summary": self.summary,
                "seconds": self.seconds,
                "tables": {name: asdict(t) for name, t in self.tables.items()}}


def validate(
    run: Run,
    conn: psycopg.Connection,
    source: Path,
    working_db: Path,
    plan: Plan,
    schema: str,
    null_tokens: Iterable[str],
    present: Mapping[str, tuple[int, dict[str, int]]] | None = None,
    working_sums: Future | None = None,
) -> ValidationReport:
    """Compare ``schema`` with the source and the working copy; see the module docstring.

    ``present`` maps a table ident to its source rows and non-missing values
    per column ident, as the profile counted them in a full scan of the same
    source file; tables it covers are not counted again. ``working_sums`` is
    :func:`start_working_sums` started when the working copy was written.
    """
    tokens = frozenset(null_tokens)
    present = present or {}
    started = time.monotonic()
    report = ValidationReport(schema=schema)
    with run.stage(STAGE, f"{schema} against {source}") as summary:
        with ThreadPoolExecutor(1 + len(plan.tables), thread_name_prefix="validate") as pool:
            target_side = pool.submit(_target_figures, conn, schema, plan)
            source_side = {t.ident: pool.submit(_source_counts, source, t, tokens)
                           for t in plan.tables if t.ident not in present}
            sums = (working_sums.result() if working_sums is not None
                    else _working_sums(working_db, plan))
            counts = {**present,
                      **{ident: future.result() for ident, future in source_side.items()}}
            figures = target_side.result()
        for table in plan.tables:
            check = _compare(table, counts[table.ident], figures[table.ident], sums[table.ident])
            if not check.checksum_ok:
                _name_differences(conn, working_db, schema, table, check)
            report.tables[table.ident] = check
            _emit(run, check)
        report.seconds = round(time.monotonic() - started, 3)
        summary.update(ok=report.ok, summary=report.summary)
    return report


def _working_sums(working_db: Path, plan: Plan) -> dict[str, checksum.TableSum]:
    """Checksums of the working copy's rows as the load writes them, per table ident."""
    with reading(working_db, STAGE) as db:
        return {t.ident: checksum.source_sum(db, t) for t in plan.tables}


def start_working_sums(working_db: Path, plan: Plan) -> Future:
    """Compute :func:`_working_sums` in a process of its own, alongside canary and load.

    The working copy does not change once written, so its checksums can be
    ready by the time validation needs them. A process of its own leaves the
    caller's GIL alone. It runs at a lower priority (nice 10): canary and
    load, on the critical path, get the CPU first and it takes what they
    leave (on 2 cores, about half a second less end to end when the machine
    is busy).
    """
    pool = ProcessPoolExecutor(1, mp_context=processes.context(),
                               initializer=processes.worker_start,
                               initargs=(processes.BACKGROUND_NICE,))
    future = pool.submit(_working_sums, working_db, plan)
    pool.shutdown(wait=False)  # the worker exits after its one task, or if this process dies
    return future


@dataclass
class _TargetFigures:
    rows: int
    values: dict[str, int]  # column ident -> non-NULL cells
    rejects: dict[str, int]  # column ident -> rejects
    sum: checksum.TableSum


def _target_figures(conn: psycopg.Connection, schema: str, plan: Plan) -> dict[str, _TargetFigures]:
    """Rows, non-NULL cells per column, rejects and the checksum: one scan per table."""
    figures = {}
    try:
        rejects: dict[tuple[str, str], int] = {
            (t, c): n for t, c, n in conn.execute(sql.SQL(
                "SELECT table_name, column_name, count(*) FROM {} GROUP BY 1, 2"
            ).format(table_ref(schema, REJECTS))).fetchall()}
        for table in plan.tables:
            with conn.transaction():
                conn.execute("SET LOCAL DateStyle = 'ISO'")
                row = conn.execute(checksum.sum_query(schema, table, [
                    sql.SQL("count({})").format(sql.Identifier(c.ident))
                    for c in table.columns])).fetchone()
            figures[table.ident] = _TargetFigures(
                rows=row[0],
                values={c.ident: n for c, n in zip(table.columns, row[3:], strict=True)},
                rejects={c.ident: rejects.get((table.ident, c.ident), 0) for c in table.columns},
                sum=checksum.from_row(row))
    except psycopg.Error as exc:
        raise StageError(f"reading {schema} for validation failed: {one_line(exc)}") from None
    return figures


def _source_counts(source: Path, table: TablePlan,
                   tokens: frozenset[str]) -> tuple[int, dict[str, int]]:
    with reading(source, STAGE) as db:
        return present_counts(db, table, tokens)


def present_counts(
    db: sqlite3.Connection,
    table: TablePlan,
    tokens: frozenset[str],
    rowids: Sequence[int] | None = None,
) -> tuple[int, dict[str, int]]:
    """Rows and values that are not missing, per column ident, counted in SQLite.

    Mirrors :func:`sdconsole.engine.values.is_missing`: trim with the same
    whitespace, compare with the tokens; the rare values holding a NUL
    character are judged by ``is_missing`` itself. A value whose first and
    last characters are printable ASCII has nothing to trim, so it is
    compared as it is (trim() copies every value it sees). ``rowids``
    restricts the count to those rows (the canary's sample).
    """
    require_columns(db, table)
    db.create_function("sdc_present", 1, lambda v: int(not is_missing(v, tokens)),
                       deterministic=True)
    marks = sql.SQL(", ").join(sql.SQL("?") for _ in tokens) if tokens else sql.SQL("NULL")
    present = sql.SQL(", ").join(
        sql.SQL("sum(CASE WHEN {c} IS NULL THEN 0 WHEN typeof({c}) <> 'text' THEN 1"
                " WHEN instr({c}, char(0)) > 0 THEN sdc_present({c})"
                " WHEN {c} GLOB '[!-~]*' AND substr({c}, -1) BETWEEN '!' AND '~'"
                " THEN CASE WHEN {c} IN ({marks}) THEN 0 ELSE 1 END"
                " WHEN trim({c}, ?) IN ({marks}) THEN 0 ELSE 1 END)").format(
            c=sql.Identifier(col.name), marks=marks)
        for col in table.columns
    )
    ordered = sorted(tokens)
    params: list = [p for _ in table.columns for p in (*ordered, WHITESPACE, *ordered)]
    query = sql.SQL("SELECT count(*), {} FROM {}").format(present, sql.Identifier(table.name))
    if rowids is not None:
        query += sql.SQL(" WHERE {} IN (SELECT value FROM json_each(?))").format(
            sql.SQL(rowid_name(table)))
        params.append(json.dumps(list(rowids)))
    row = db.execute(sqlite_sql(query), params).fetchone()
    return row[0], {c.ident: n or 0 for c, n in zip(table.columns, row[1:], strict=True)}


def _compare(
    table: TablePlan,
    counts: tuple[int, dict[str, int]],
    target: _TargetFigures,
    source_sum: checksum.TableSum,
) -> TableCheck:
    rows, values = counts
    return TableCheck(
        table=table.ident,
        source_rows=rows,
        target_rows=target.rows,
        columns=[ColumnCheck(c.ident, values[c.ident], target.values[c.ident],
                             target.rejects[c.ident]) for c in table.columns],
        checksum_ok=source_sum == target.sum,
    )


def _name_differences(
    conn: psycopg.Connection, working_db: Path, schema: str, table: TablePlan, check: TableCheck
) -> None:
    with reading(working_db, STAGE) as db:
        diff = checksum.differing_rows(conn, db, schema, table)
        check.differing_rows, check.extra_rows = diff.source_only, diff.target_only
        check.examples = [_row_name(db, table, rowid) for rowid in diff.examples]


def _row_name(db: sqlite3.Connection, table: TablePlan, rowid: int) -> str:
    """'rowid 17', with the key when the table has one: 'rowid 17 (ct_comment_id 17)'."""
    key = next((c for c in table.columns if c.ident == table.primary_key), None)
    if key is None:
        return f"rowid {rowid}"
    value = db.execute(
        sqlite_sql(sql.SQL("SELECT {} FROM {} WHERE {} = ?").format(
            sql.Identifier(key.name), sql.Identifier(table.name), sql.SQL(rowid_name(table)))),
        (rowid,)).fetchone()
    return f"rowid {rowid} ({key.ident} {value[0] if value else '?'})"


def _differences(check: TableCheck) -> str:
    if not check.differing_rows and not check.extra_rows:
        return "row checksums differ"
    text = (f"{check.differing_rows} rows differ" if check.differing_rows != 1
            else "1 row differs")
    if check.examples:
        text += f" ({', '.join(check.examples)})"
    if check.extra_rows != check.differing_rows:
        text += f", {check.extra_rows} target rows match no source row"
    return text


def _emit(run: Run, check: TableCheck) -> None:
    def result(name: str, ok: bool, reason: str, fix: str = "") -> None:
        run.emit(ev.CheckResult(stage=STAGE, name=f"{check.table}: {name}",
                                status="pass" if ok else "fail", reason=reason,
                                fix="" if ok else fix))

    result("row count", check.rows_ok,
           f"source {check.source_rows:,} rows, target {check.target_rows:,}",
           "reload the version; rows were lost or added on the way")
    bad = [c for c in check.columns if not c.ok]
    result("values per column", not bad,
           f"{len(check.columns)} columns: source values = target values + rejects"
           if not bad else "; ".join(c.describe() for c in bad),
           "compare the column's cleaning rule and rejects with the source")
    for column in bad:
        run.emit(ev.Finding(stage=STAGE, table=check.table, column=column.column,
                            dimension="validation", message=column.describe(),
                            count=abs(column.source_values - column.target_values
                                      - column.rejects)))
    result("row checksums", check.checksum_ok,
           f"{check.target_rows:,} rows identical to the working copy"
           if check.checksum_ok else _differences(check),
           "a loaded row differs from the working copy; reload the version")
