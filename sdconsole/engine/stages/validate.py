"""Validate a loaded version against the ORIGINAL source before cutover.

The source side is derived from the original file, not from the cleaned
working copy: every cell is taken through the documented rules by
:func:`~sdconsole.engine.rules.expected.expected_cell` -- an implementation in
Python, independent of the cleaner's SQL path -- to the value the target
must hold (or a reject). So a cleaning bug anywhere between source and
target fails validation and names the cell. Three checks per table, each
reported as a CheckResult event:

* rows: the source table's row count equals the target's;
* values: per column, the target's non-NULL cells and its rejects equal what
  the rules give for the source (the source values that are not missing =
  target values + rejects, and the rejects are the expected ones);
* checksums: the row checksums the rules give for the source equal the
  target's (:mod:`sdconsole.engine.rules.checksum`); when they do not, the first
  differing cells are named: table, source rowid and key, column, source
  text and target value.

The source side is computed in a process of its own (:func:`start_source_figures`),
started when the working copy is written, so it runs beside canary and load
at a lower priority; it hashes the file too, and a source that changed
since it was cleaned fails validation. The target side is one scan per
table. The caller raises ValidationFailed when the report is not ``ok``; a
failed validation blocks cutover.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdconsole.engine.records.plan import Plan, TablePlan
from sdconsole.engine.rules import checksum
from sdconsole.engine.rules.cells import read_chunks, reading
from sdconsole.engine.rules.expected import MEMO_VALUES, expected_cell
from sdconsole.engine.rules.naming import table_ref
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime import processes
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.run import Run, one_line
from sdconsole.engine.source.sqlite import sha256_file
from sdconsole.engine.target.schema import REJECTS

STAGE = "validate"
CELLS_NAMED = 5  # differing cells named per table


@dataclass
class SourceFigures:
    """One table as the rules say the target must hold it."""

    rows: int = 0
    present: dict[str, int] = field(default_factory=dict)  # column ident -> not missing
    values: dict[str, int] = field(default_factory=dict)  # column ident -> non-NULL cells
    rejects: dict[str, int] = field(default_factory=dict)  # column ident -> rejects
    sum: checksum.TableSum = field(default_factory=checksum.TableSum)


class _Expected:
    """The expected cells of one table's rows, a chunk at a time, memoised per column."""

    def __init__(self, table: TablePlan, tokens: frozenset[str]) -> None:
        self.table, self.tokens = table, tokens
        self.memo: list[dict] = [{} for _ in table.columns]
        self.figures = SourceFigures(
            present={c.ident: 0 for c in table.columns},
            values={c.ident: 0 for c in table.columns},
            rejects={c.ident: 0 for c in table.columns},
        )

    def rows(self, chunk: list[tuple]) -> list[tuple]:
        """Rows ``(rowid, *expected cells)``; counts them into :attr:`figures`."""
        columns = list(zip(*chunk, strict=True))
        out: list[Sequence[Any]] = [columns[0]]  # the rowids, then each column's cells
        for index, column in enumerate(self.table.columns):
            memo, ident = self.memo[index], column.ident
            cells = []
            values = rejects = missing = 0
            for value in columns[index + 1]:
                try:
                    found = memo.get(value)
                except TypeError:
                    found = None
                if found is None:
                    found = expected_cell(value, column, self.tokens)
                    if type(value) is str and len(memo) < MEMO_VALUES:
                        memo[value] = found
                cell, reason = found
                if reason is not None:
                    rejects += 1
                elif cell is None:
                    missing += 1
                else:
                    values += 1
                cells.append(cell)
            figures = self.figures
            figures.values[ident] += values
            figures.rejects[ident] += rejects
            figures.present[ident] += values + rejects
            out.append(cells)
        rows = list(zip(*out, strict=True))
        self.figures.rows += len(rows)
        return rows


def expected_rows(
    db: sqlite3.Connection, table: TablePlan, tokens: frozenset[str]
) -> tuple[_Expected, Iterator[list[tuple]]]:
    """The rules over a source table: the counter and its chunks of expected rows."""
    expected = _Expected(table, tokens)
    return expected, (expected.rows(chunk) for chunk in read_chunks(db, table))


def source_figures(
    source: Path, plan: Plan, tokens: frozenset[str]
) -> tuple[str, dict[str, SourceFigures]]:
    """The file's SHA-256 and, per table ident, what the rules say the target holds."""
    figures = {}
    with reading(source, STAGE) as db:
        for table in plan.tables:
            expected, chunks = expected_rows(db, table, tokens)
            for rows in chunks:
                expected.figures.sum.add_rows(rows)
            figures[table.ident] = expected.figures
    return sha256_file(source), figures


def start_source_figures(source: Path, plan: Plan, tokens: Iterable[str]) -> Future:
    """Compute :func:`source_figures` in a process of its own, beside canary and load.

    The source does not change (its hash is checked), so the figures can be
    ready by the time validation needs them. A process of its own leaves the
    caller's GIL alone; it runs at a lower priority (nice 10), so canary and
    load, on the critical path, get the CPU first.
    """
    pool = ProcessPoolExecutor(
        1,
        mp_context=processes.context(),
        initializer=processes.worker_start,
        initargs=(os.getpid(), processes.BACKGROUND_NICE),
    )
    future = pool.submit(source_figures, source, plan, frozenset(tokens))
    pool.shutdown(wait=False)  # the worker exits after its one task, or if this process dies
    return future


@dataclass
class ColumnCheck:
    """One column: source values = target values + rejects, and the rejects expected?"""

    column: str
    source_values: int
    target_values: int
    rejects: int
    expected_rejects: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.source_values == self.target_values + self.rejects
            and self.rejects == self.expected_rejects
        )

    def describe(self) -> str:
        text = (
            f"{self.column}: source {self.source_values:,}, target {self.target_values:,}"
            f" + {self.rejects:,} rejects"
        )
        if self.rejects != self.expected_rejects:
            text += f" ({self.expected_rejects:,} expected)"
        return text


@dataclass
class CellDifference:
    """A target cell that is not what the rules make of its source cell."""

    rowid: int
    key: str  # 'ct_comment_id 17', or '' without a key
    column: str
    source: str  # the original cell, as text
    expected: str
    target: str

    def describe(self) -> str:
        where = f"rowid {self.rowid}" + (f" ({self.key})" if self.key else "")
        return (
            f"{where} {self.column}: source {self.source!r} should be {self.expected!r},"
            f" target has {self.target!r}"
        )


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
    examples: list[str] = field(default_factory=list)  # "rowid 17 (ct_comment_id 17) ..."

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
            found.append(f"{self.source_rows:,} source rows, {self.target_rows:,} loaded")
        found += [c.describe() for c in self.columns if not c.ok]
        if not self.checksum_ok:
            found.append(_differences(self))
        return found


@dataclass
class ValidationReport:
    schema: str
    tables: dict[str, TableCheck] = field(default_factory=dict)
    seconds: float = 0.0
    source_changed: str = ""  # why the source no longer is the file that was cleaned

    @property
    def ok(self) -> bool:
        return not self.source_changed and all(t.ok for t in self.tables.values())

    @property
    def mismatches(self) -> int:
        """Checks that failed: per table, rows, each column, checksums (and a changed source)."""
        return bool(self.source_changed) + sum(
            (not t.rows_ok) + sum(not c.ok for c in t.columns) + (not t.checksum_ok)
            for t in self.tables.values()
        )

    @property
    def summary(self) -> str:
        """One line: what passed, or the first problems and where."""
        if self.ok:
            rows = sum(t.target_rows for t in self.tables.values())
            rejects = sum(c.rejects for t in self.tables.values() for c in t.columns)
            return (
                f"validation of {self.schema} passed: {len(self.tables)} tables,"
                f" {rows:,} rows, {rejects:,} rejects reconciled, checksums match"
                " the original source"
            )
        problems = [self.source_changed] if self.source_changed else []
        problems += [
            f"{t.table}: {'; '.join(t.problems())}" for t in self.tables.values() if not t.ok
        ]
        return f"validation of {self.schema} failed: " + " | ".join(problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "ok": self.ok,
            "summary": self.summary,
            "seconds": self.seconds,
            "source_changed": self.source_changed,
            "tables": {name: asdict(t) for name, t in self.tables.items()},
        }

    @classmethod
    def load(cls, path: Path) -> ValidationReport:
        """A report as :meth:`to_dict` wrote it to the run dir."""
        data = json.loads(path.read_text(encoding="utf-8"))
        tables = {
            name: TableCheck(**{**t, "columns": [ColumnCheck(**c) for c in t["columns"]]})
            for name, t in data["tables"].items()
        }
        return cls(data["schema"], tables, data["seconds"], data["source_changed"])


def validate(
    run: Run,
    conn: psycopg.Connection,
    source: Path,
    plan: Plan,
    schema: str,
    null_tokens: Iterable[str],
    figures: Future | None = None,
    sha256: str | None = None,
) -> ValidationReport:
    """Compare ``schema`` with the original ``source``; see the module docstring.

    ``figures`` is :func:`start_source_figures` started earlier (else they
    are computed here); ``sha256`` is the source's hash when it was cleaned.
    """
    tokens = frozenset(null_tokens)
    started = time.monotonic()
    report = ValidationReport(schema=schema)
    with run.stage(STAGE, f"{schema} against the original {source}") as summary:
        target = _target_figures(conn, schema, plan)
        try:
            digest, expected = (
                figures.result() if figures is not None else source_figures(source, plan, tokens)
            )
        except sqlite3.Error as exc:
            raise StageError(f"reading {source} for validation failed: {exc}") from None
        if sha256 is not None and digest != sha256:
            report.source_changed = (
                f"the source {source} changed since it was cleaned"
                f" (SHA-256 {sha256[:12]} then, {digest[:12]} now)"
            )
        for table in plan.tables:
            check = _compare(table, expected[table.ident], target[table.ident])
            if not check.checksum_ok:
                _name_differences(conn, source, schema, table, tokens, check)
            report.tables[table.ident] = check
            _emit(run, check)
        report.seconds = round(time.monotonic() - started, 3)
        summary.update(ok=report.ok, summary=report.summary)
    return report


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
            (t, c): n
            for t, c, n in conn.execute(
                sql.SQL("SELECT table_name, column_name, count(*) FROM {} GROUP BY 1, 2").format(
                    table_ref(schema, REJECTS)
                )
            ).fetchall()
        }
        for table in plan.tables:
            with conn.transaction():
                for setting in checksum.PRINTING:
                    conn.execute(setting)
                row = conn.execute(
                    checksum.sum_query(
                        schema,
                        table,
                        [
                            sql.SQL("count({})").format(sql.Identifier(c.ident))
                            for c in table.columns
                        ],
                    )
                ).fetchone()
            assert row is not None  # an aggregate without GROUP BY returns one row
            figures[table.ident] = _TargetFigures(
                rows=row[0],
                values={c.ident: n for c, n in zip(table.columns, row[3:], strict=True)},
                rejects={c.ident: rejects.get((table.ident, c.ident), 0) for c in table.columns},
                sum=checksum.from_row(row),
            )
    except psycopg.Error as exc:
        raise StageError(f"reading {schema} for validation failed: {one_line(exc)}") from None
    return figures


def _compare(table: TablePlan, source: SourceFigures, target: _TargetFigures) -> TableCheck:
    return TableCheck(
        table=table.ident,
        source_rows=source.rows,
        target_rows=target.rows,
        columns=[
            ColumnCheck(
                c.ident,
                source.present[c.ident],
                target.values[c.ident],
                target.rejects[c.ident],
                source.rejects[c.ident],
            )
            for c in table.columns
        ],
        checksum_ok=source.sum == target.sum,
    )


def _name_differences(
    conn: psycopg.Connection,
    source: Path,
    schema: str,
    table: TablePlan,
    tokens: frozenset[str],
    check: TableCheck,
) -> None:
    """Count the differing rows and name the first differing cells.

    The target holds the rows in the order the load wrote them (source rowid
    order, COPY FREEZE into a new table), so the n-th target row by ``ctid``
    is the n-th source row; a differing source row is compared cell by cell
    with its target row.
    """
    with reading(source, STAGE) as db:
        diff = checksum.differing_rows(conn, _digests(db, table, tokens), schema, table)
        check.differing_rows, check.extra_rows = diff.source_only, diff.target_only
        named: list[CellDifference] = []
        wanted = set(diff.examples)
        expected, chunks = expected_rows(db, table, tokens)
        position = 0
        raw_rows = read_chunks(db, table)
        for rows, raw in zip(chunks, raw_rows, strict=False):
            for row, original in zip(rows, raw, strict=True):
                if row[0] in wanted:
                    named += _cells_differing(conn, schema, table, position, row, original)
                position += 1
            if len(named) >= CELLS_NAMED or not wanted:
                break
        check.examples = [d.describe() for d in named[:CELLS_NAMED]] or [
            f"rowid {rowid}" for rowid in diff.examples
        ]


def _digests(
    db: sqlite3.Connection, table: TablePlan, tokens: frozenset[str]
) -> Iterator[tuple[int, bytes]]:
    _, chunks = expected_rows(db, table, tokens)
    for rows in chunks:
        for row in rows:
            yield row[0], checksum.row_digest(row[1:])


def _cells_differing(
    conn: psycopg.Connection,
    schema: str,
    table: TablePlan,
    position: int,
    row: tuple,
    original: tuple,
) -> list[CellDifference]:
    """The cells of the target row that differ from the expected ``row``.

    The target row is the one with the expected key, or, without a key (or
    when the key itself differs), the ``position``-th by ``ctid``.
    """
    printed = sql.SQL(", ").join(checksum.printed(c) for c in table.columns)
    target = table_ref(schema, table.ident)
    keys = [i for i, c in enumerate(table.columns) if c.ident in table.primary_key]
    found = None
    with conn.transaction():
        for setting in checksum.PRINTING:
            conn.execute(setting)
        if keys and all(row[1 + i] is not None for i in keys):
            found = conn.execute(
                sql.SQL("SELECT {} FROM {} WHERE {}").format(
                    printed,
                    target,
                    sql.SQL(" AND ").join(
                        sql.SQL("{} = %s").format(sql.Identifier(table.columns[i].ident))
                        for i in keys
                    ),
                ),
                [row[1 + i] for i in keys],
            ).fetchone()
        if found is None:
            found = conn.execute(
                sql.SQL("SELECT {} FROM {} ORDER BY ctid OFFSET %s LIMIT 1").format(
                    printed, target
                ),
                (position,),
            ).fetchone()
    key = ", ".join(f"{table.columns[i].ident} {_shown(original[1 + i])}" for i in keys)
    differences = []
    for index, column in enumerate(table.columns):
        want = checksum.cell_text(row[1 + index])
        have = checksum.NULL if found is None or found[index] is None else found[index]
        if want != have:
            differences.append(
                CellDifference(row[0], key, column.ident, _shown(original[1 + index]), want, have)
            )
    return differences


def _shown(value: object) -> str:
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return "NULL" if value is None else str(value)


def _differences(check: TableCheck) -> str:
    if not check.differing_rows and not check.extra_rows:
        return "row checksums differ"
    text = f"{check.differing_rows:,} rows differ" if check.differing_rows != 1 else "1 row differs"
    if check.examples:
        text += f" ({'; '.join(check.examples)})"
    if check.extra_rows != check.differing_rows:
        text += f", {check.extra_rows:,} target rows match no source row"
    return text


def _emit(run: Run, check: TableCheck) -> None:
    def result(name: str, ok: bool, reason: str, fix: str = "") -> None:
        run.emit(
            ev.CheckResult(
                stage=STAGE,
                name=f"{check.table}: {name}",
                status="pass" if ok else "fail",
                reason=reason,
                fix="" if ok else fix,
            )
        )

    result(
        "row count",
        check.rows_ok,
        f"source {check.source_rows:,} rows, target {check.target_rows:,}",
        "reload the version; rows were lost or added on the way",
    )
    bad = [c for c in check.columns if not c.ok]
    result(
        "values per column",
        not bad,
        f"{len(check.columns)} columns: source values = target values + rejects"
        if not bad
        else "; ".join(c.describe() for c in bad),
        "compare the column's cleaning rule and rejects with the source",
    )
    for column in bad:
        run.emit(
            ev.Finding(
                stage=STAGE,
                table=check.table,
                column=column.column,
                dimension="validation",
                message=column.describe(),
                count=abs(column.source_values - column.target_values - column.rejects)
                or abs(column.rejects - column.expected_rejects),
            )
        )
    result(
        "row checksums",
        check.checksum_ok,
        f"{check.target_rows:,} rows as the rules make of the original source"
        if check.checksum_ok
        else _differences(check),
        "a loaded cell is not what the rules make of its source cell: see the cells"
        " named; reload the version",
    )
