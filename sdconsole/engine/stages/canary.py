"""Canary: load a small deterministic sample first and compare it side by side with the source.

The sample is about ``fraction`` of each table, chosen in SQLite by a fixed
hash of the rowid, so the same file always gives the same rows. A table with
a main date column is stratified by month: about the same share of every
month (values that are missing or not a date form one more stratum), and at
least one row from each. The sample goes into ``<stable>_canary`` through the loader's
own code path (:func:`sdconsole.engine.target.copy.load_tables`), and is then
compared, table by table, with the source and with what the load sent:

* rows: sample size vs rows in the canary;
* values, per column: values not missing in the ORIGINAL source vs canary
  non-NULL cells + rejects (the identity validation checks after the load);
* min and max of every typed column: the canonical cells the load sent vs
  the canary;
* row checksums: the rows the load sent vs the canary
  (:mod:`sdconsole.engine.rules.checksum`).

Then the dashboard queries. Each template declares what it reads
(:mod:`sdconsole.engine.target.queries`); one whose needs the canary schema does not
meet is "not applicable", named with the reason, and neither runs nor
fails. One whose needs are met runs on the canary and on
``<stable>_canary_source``: the same sample taken from the ORIGINAL source
through the validation's rules
(:func:`~sdconsole.engine.rules.expected.expected_cell`, independent of the
cleaner). Both must run and give the same rows (in the same order when the
template orders them; exactly, numbers too: the same SQL on the same values
gives the same figures).

Each comparison is a CanaryMetric event; the verdict is ``ok`` when all of
them agree. Both schemas are dropped at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdconsole.engine.records.plan import Plan, TablePlan
from sdconsole.engine.rules.cells import raw_text, read_chunks, reading, require_columns, rowid_name
from sdconsole.engine.rules.checksum import PRINTING, TableSum, from_row, sum_query
from sdconsole.engine.rules.expected import MEMO_VALUES, expected_cell, present_counts
from sdconsole.engine.rules.naming import table_ref
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import EngineError, StageError
from sdconsole.engine.runtime.run import Run, one_line
from sdconsole.engine.source.sqlite import sqlite_sql
from sdconsole.engine.target import queries as dashboard
from sdconsole.engine.target.copy import load_tables
from sdconsole.engine.target.dsn import sibling
from sdconsole.engine.target.queries import QueryTemplate
from sdconsole.engine.target.schema import REJECTS, create_version_schema
from sdconsole.settings import DEFAULT_NULL_TOKENS

STAGE = "canary"
DASHBOARDS = "dashboards"  # the table field of the query metrics
SHOWN_ROW = 80  # characters of a differing result row shown
# A fixed permutation of rowids (Lehmer / MINSTD): the sample's "random" order.
_HASH = "((({rowid} % 2147483647) * 48271) % 2147483647)"  # psycopg.sql template
_HASH_RANGE = 1_000_000
# How a typed column's canonical text compares: as numbers, or as text (ISO dates and
# times, and 'false' < 'true', sort as they should).
_ORDER = {"integer": int, "numeric": Decimal}


@dataclass
class QueryOutcome:
    """A dashboard query on both sides, or why it does not apply to this schema.

    ``source`` and ``canary`` are what its metric shows: rows or the error.
    ``error`` says why it failed (an error, or how the results differ) or,
    not applicable, what the schema lacks.
    """

    name: str
    ok: bool
    rows: int = 0  # on the canary
    error: str = ""
    applicable: bool = True
    source: str = ""
    canary: str = ""


@dataclass
class CanaryReport:
    schema: str
    fraction: float
    sample: dict[str, int] = field(default_factory=dict)  # rows sampled per table ident
    metrics: list[ev.CanaryMetric] = field(default_factory=list)
    queries: list[QueryOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.metrics) and all(q.ok for q in self.queries)

    @property
    def summary(self) -> str:
        """The verdict in one line; each check (a table metric, a query run on both sides)
        counted once, and the templates that do not apply named apart."""
        compared = [m for m in self.metrics if m.table != DASHBOARDS]
        ran = [q for q in self.queries if q.applicable]
        if self.ok:
            text = (
                f"canary passed: {sum(self.sample.values())} sampled rows,"
                f" {len(compared)} metrics agree, {_queries(len(ran))}"
                f" agree{'s' if len(ran) == 1 else ''} with the source"
            )
        else:
            bad = [
                f"{m.table} {m.metric} (source {m.source}, canary {m.canary})"
                for m in compared
                if not m.ok
            ]
            bad += [f"query {q.name}: {q.error}" for q in ran if not q.ok]
            text = (
                f"canary failed on {len(bad)} of {len(compared) + len(ran)} checks: "
                + "; ".join(bad[:3])
                + ("; ..." if len(bad) > 3 else "")
            )
        skipped: dict[str, list[str]] = {}
        for q in self.queries:
            if not q.applicable:
                skipped.setdefault(q.error, []).append(q.name)
        if skipped:
            text += f"; {_queries(sum(map(len, skipped.values())))} not applicable: " + "; ".join(
                f"{', '.join(names)} ({why})" for why, names in skipped.items()
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "fraction": self.fraction,
            "ok": self.ok,
            "summary": self.summary,
            "sample": self.sample,
            "seconds": self.seconds,
            "metrics": [m.to_dict() for m in self.metrics],
            "queries": [asdict(q) for q in self.queries],
        }


def _queries(count: int) -> str:
    return f"{count} dashboard {'query' if count == 1 else 'queries'}"


def canary(
    run: Run,
    conn: psycopg.Connection,
    source: Path,
    working_db: Path,
    plan: Plan,
    stable: str,
    fraction: float,
    queries: Sequence[QueryTemplate] | None = None,
    *,
    null_tokens: Iterable[str] = DEFAULT_NULL_TOKENS,
) -> CanaryReport:
    """Sample, load into ``<stable>_canary``, compare, run the dashboard queries on both
    sides, drop.

    ``queries`` are the dashboard query templates (None: every packaged
    one); ``null_tokens`` are the settings' tokens for missing values.
    """
    tokens = frozenset(null_tokens)
    templates = dashboard.load_queries() if queries is None else list(queries)
    schema, source_schema = f"{stable}_canary", f"{stable}_canary_source"
    started = time.monotonic()
    report = CanaryReport(schema=schema, fraction=fraction)
    with run.stage(STAGE, f"{fraction:.0%} of each table into {schema}") as summary:
        try:
            _create(run, conn, schema, plan)
            with reading(working_db, STAGE) as db:
                sample = sample_rowids(db, plan, fraction)
            report.sample = {ident: len(rowids) for ident, rowids in sample.items()}
            columns = dashboard.schema_columns(conn, schema)
            unmet = {t.name: dashboard.why_not_applicable(t, columns) for t in templates}
            applicable = [t for t in templates if not unmet[t.name]]
            sent = {table.ident: _Side() for table in plan.tables}
            ran: dict[str, QueryOutcome] = {}
            # a second connection loads the source side, then runs the queries on both
            # (``other`` is None when no query applies)
            with (
                sibling(conn, autocommit=True) if applicable else contextlib.nullcontext() as other,
                ThreadPoolExecutor(2, thread_name_prefix="sdconsole-canary") as helpers,
            ):
                present = helpers.submit(_source_present, source, plan, sample, tokens)
                if other is not None:
                    mirrored = helpers.submit(
                        _load_source_side, run, other, source, plan, source_schema, sample, tokens
                    )
                load_tables(
                    run,
                    conn,
                    working_db,
                    plan,
                    schema,
                    stage=STAGE,
                    rowids=sample,
                    observe=lambda table, rows: sent[table.ident].add(table, rows),
                )
                if other is not None:
                    mirrored.result()
                    outcomes = helpers.submit(
                        _run_queries, other, applicable, schema, source_schema
                    )
                for table in plan.tables:
                    for metric in _compare(
                        conn, present.result()[table.ident], sent[table.ident], schema, table
                    ):
                        report.metrics.append(_emitted(run, metric))
                if applicable:
                    ran = {outcome.name: outcome for outcome in outcomes.result()}
            report.queries = [
                ran.get(t.name)
                or QueryOutcome(
                    t.name,
                    True,
                    error=unmet[t.name],
                    applicable=False,
                    source="not run",
                    canary=f"not applicable: {unmet[t.name]}",
                )
                for t in templates
            ]
            for outcome in report.queries:
                report.metrics.append(
                    _emitted(
                        run,
                        ev.CanaryMetric(
                            stage=STAGE,
                            table=DASHBOARDS,
                            metric=f"query {outcome.name}",
                            source=outcome.source,
                            canary=outcome.canary,
                            ok=outcome.ok,
                        ),
                    )
                )
        finally:
            for name in (schema, source_schema):
                with contextlib.suppress(psycopg.Error):
                    _drop(run, conn, name)
        report.seconds = round(time.monotonic() - started, 3)
        summary.update(ok=report.ok, summary=report.summary, sample=report.sample)
    return report


def _emitted(run: Run, metric: ev.CanaryMetric) -> ev.CanaryMetric:
    stamped = run.emit(metric)
    assert isinstance(stamped, ev.CanaryMetric)  # emit returns a stamped copy of the event
    return stamped


def sample_rowids(db: sqlite3.Connection, plan: Plan, fraction: float) -> dict[str, list[int]]:
    """Sorted rowids of each table's sample (see the module docstring).

    A row is in when a fixed hash of its rowid falls below ``fraction`` of the
    hash range: no sort, so the same share of every month in expectation.
    Each month (stratum) that got no row contributes the row with the
    smallest hash; finding those months takes one more scan, with DISTINCT
    rather than a GROUP BY that would sort every row.
    """
    sample = {}
    threshold = round(fraction * _HASH_RANGE)
    for table in plan.tables:
        require_columns(db, table)
        rowid = sql.SQL(rowid_name(table))
        name = sql.Identifier(table.name)
        hashed = sql.SQL("{} % {}").format(
            sql.SQL(_HASH).format(rowid=rowid), sql.Literal(_HASH_RANGE)
        )
        date = next((c for c in table.columns if c.ident == table.date_column), None)
        stratum = (
            sql.SQL("NULL")
            if date is None
            else sql.SQL(
                "CASE WHEN typeof({d}) = 'text' AND {d} GLOB"
                " '[0-9][0-9][0-9][0-9]-[0-9][0-9]*' THEN substr({d}, 1, 7) END"
            ).format(d=sql.Identifier(date.name))
        )
        picked = db.execute(
            sqlite_sql(
                sql.SQL("SELECT {}, {} FROM {} WHERE {} < ?").format(rowid, stratum, name, hashed)
            ),
            (threshold,),
        ).fetchall()
        rowids = {r for r, _ in picked}
        if date is not None:
            every = {
                s
                for (s,) in db.execute(
                    sqlite_sql(sql.SQL("SELECT DISTINCT {} FROM {}").format(stratum, name))
                )
            }
            missing = every - {s for _, s in picked}
            rowids.update(_least_of(db, name, rowid, stratum, hashed, missing))
        sample[table.ident] = sorted(rowids)
    return sample


def _least_of(
    db: sqlite3.Connection,
    name: sql.Composable,
    rowid: sql.Composable,
    stratum: sql.Composable,
    hashed: sql.Composable,
    strata: set,
) -> list[int]:
    """The rowid with the smallest hash in each of ``strata`` (None: no date)."""
    if not strata:
        return []
    named = sorted(s for s in strata if s is not None)
    # SQLite: with a single min(), the bare rid comes from the row holding it
    query = sql.SQL(
        "SELECT rid FROM (SELECT rid, min(h) FROM (SELECT {rowid} AS rid, {stratum} AS s,"
        " {hashed} AS h FROM {name}) WHERE s IN (SELECT value FROM json_each(?))"
        " OR (? AND s IS NULL) GROUP BY s)"
    ).format(rowid=rowid, stratum=stratum, hashed=hashed, name=name)
    return [r for (r,) in db.execute(sqlite_sql(query), (json.dumps(named), None in strata))]


@dataclass
class _Side:
    """One table's figures on one side: rows, per-column values and rejects, min/max, checksum."""

    rows: int = 0
    values: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    low: dict[str, str | None] = field(default_factory=dict)
    high: dict[str, str | None] = field(default_factory=dict)
    sum: TableSum = field(default_factory=TableSum)

    def add(self, table: TablePlan, rows: Sequence[Sequence]) -> None:
        """Fold in canonical rows ``(rowid, *cells)`` as the load sends them (its observer)."""
        if not rows:
            return
        self.sum.add_rows(rows)
        self.rows = self.sum.rows
        cells = list(zip(*rows, strict=True))[1:]
        for index, column in enumerate(table.columns):
            present = column.type in _TYPED and [v for v in cells[index] if v is not None]
            if present:
                key = _ORDER.get(column.type, str)
                for bound, pick in ((self.low, min), (self.high, max)):
                    known = bound.get(column.ident)
                    bound[column.ident] = pick(
                        present if known is None else [*present, known], key=key
                    )


_TYPED = ("integer", "numeric", "boolean", "timestamp", "date", "time")


def _canary_side(conn: psycopg.Connection, schema: str, table: TablePlan) -> _Side:
    """The canary table's figures and checksum, in one scan."""
    typed = [c for c in table.columns if c.type in _TYPED]
    figures = [sql.SQL("count({})").format(sql.Identifier(c.ident)) for c in table.columns]
    for column in typed:
        ident = sql.Identifier(column.ident)
        if column.type == "boolean":
            figures += [
                sql.SQL("bool_and({})::text").format(ident),
                sql.SQL("bool_or({})::text").format(ident),
            ]
        else:
            figures += [
                sql.SQL("min({})::text").format(ident),
                sql.SQL("max({})::text").format(ident),
            ]
    with conn.transaction():
        for setting in PRINTING:
            conn.execute(setting)
        row = conn.execute(sum_query(schema, table, figures)).fetchone()
        assert row is not None  # an aggregate without GROUP BY returns one row
        rejects: dict[str, int] = dict(
            conn.execute(
                sql.SQL(
                    "SELECT column_name, count(*) FROM {} WHERE table_name = %s GROUP BY 1"
                ).format(table_ref(schema, REJECTS)),
                (table.ident,),
            ).fetchall()
        )
    counts, bounds = row[3 : 3 + len(table.columns)], row[3 + len(table.columns) :]
    return _Side(
        rows=row[0],
        values={c.ident: n for c, n in zip(table.columns, counts, strict=True)},
        rejects={c.ident: rejects.get(c.ident, 0) for c in table.columns},
        low={c.ident: bounds[2 * i] for i, c in enumerate(typed)},
        high={c.ident: bounds[2 * i + 1] for i, c in enumerate(typed)},
        sum=from_row(row),
    )


def _source_present(
    source: Path, plan: Plan, sample: dict[str, list[int]], tokens: frozenset[str]
) -> dict[str, tuple[int, dict[str, int]]]:
    """Per table ident: the sample's rows and values not missing in the original source."""
    with reading(source, STAGE) as db:
        return {
            table.ident: present_counts(db, table, tokens, sample[table.ident])
            for table in plan.tables
        }


def _compare(
    conn: psycopg.Connection,
    counts: tuple[int, dict[str, int]],
    working: _Side,
    schema: str,
    table: TablePlan,
) -> list[ev.CanaryMetric]:
    """The side-by-side metrics of one table.

    ``counts`` are the sample's rows and present values in the source,
    ``working`` what the load sent.
    """
    rows, present = counts
    try:
        loaded = _canary_side(conn, schema, table)
    except psycopg.Error as exc:
        raise StageError(f"reading the canary of {table.ident} failed: {one_line(exc)}") from None

    def metric(name: str, source_text: object, canary_text: object, ok: bool) -> ev.CanaryMetric:
        return ev.CanaryMetric(
            stage=STAGE,
            table=table.ident,
            metric=name,
            source=str(source_text),
            canary=str(canary_text),
            ok=ok,
        )

    metrics = [metric("rows", rows, loaded.rows, rows == loaded.rows)]
    for column in table.columns:
        values, rejects = loaded.values[column.ident], loaded.rejects[column.ident]
        shown = f"{values} + {rejects} rejected" if rejects else values
        metrics.append(
            metric(
                f"{column.ident} values",
                present[column.ident],
                shown,
                present[column.ident] == values + rejects,
            )
        )
    for column in table.columns:
        if column.type not in _TYPED:
            continue
        key = _ORDER.get(column.type, str)
        for name, mine, theirs in (
            ("min", working.low, loaded.low),
            ("max", working.high, loaded.high),
        ):
            a, b = mine.get(column.ident), theirs.get(column.ident)
            same = a == b or (a is not None and b is not None and key(a) == key(b))
            metrics.append(metric(f"{column.ident} {name}", a, b, same))
    metrics.append(metric("row checksums", working.sum, loaded.sum, working.sum == loaded.sum))
    return metrics


def _load_source_side(
    run: Run,
    conn: psycopg.Connection,
    source: Path,
    plan: Plan,
    schema: str,
    sample: dict[str, list[int]],
    tokens: frozenset[str],
) -> None:
    """The sample's rows of the ORIGINAL source into ``schema``, for the dashboard queries.

    Each cell is what the documented rules make of the original cell
    (:func:`~sdconsole.engine.rules.expected.expected_cell`, as validation derives
    it), not what the cleaner wrote: a cleaning bug shows as a dashboard
    figure that differs. Values that do not fit land in ``_rejects`` as the
    load records them; a table's are held until its COPY ends (a sample's).
    """
    _create(run, conn, schema, plan)
    with reading(source, STAGE) as db:
        for table in plan.tables:
            try:
                _copy_expected(run, conn, db, table, schema, sample[table.ident], tokens)
            except psycopg.Error as exc:
                raise StageError(
                    f"loading the source side of {table.ident} into {schema}"
                    f" failed: {one_line(exc)}"
                ) from None


def _copy_expected(
    run: Run,
    conn: psycopg.Connection,
    db: sqlite3.Connection,
    table: TablePlan,
    schema: str,
    rowids: Sequence[int],
    tokens: frozenset[str],
) -> None:
    """One table's sample rows, by the rules, with their rejects, in one transaction.

    A chunk is taken column by column, each value's rule remembered (most
    columns repeat their values), as validation does.
    """
    # typed: 1, 1.0 and True are different cells
    rules = [
        functools.lru_cache(MEMO_VALUES, typed=True)(
            functools.partial(expected_cell, column=column, tokens=tokens)
        )
        for column in table.columns
    ]
    rejects: list[tuple] = []
    statements = (
        sql.SQL("COPY {} ({}) FROM STDIN").format(
            table_ref(schema, table.ident),
            sql.SQL(", ").join(sql.Identifier(c.ident) for c in table.columns),
        ),
        sql.SQL(
            "COPY {} (table_name, source_rowid, column_name, raw_value, reason, raw_bytes)"
            " FROM STDIN"
        ).format(table_ref(schema, REJECTS)),
    )
    with conn.transaction():
        run.emit(ev.SqlExecuted(stage=STAGE, statement=statements[0].as_string(conn)))
        with conn.cursor().copy(statements[0]) as copy:
            for chunk in read_chunks(db, table, rowids):
                numbers, *columns = zip(*chunk, strict=True)
                cells = []
                for column, rule, values in zip(table.columns, rules, columns, strict=True):
                    found = list(map(rule, values))
                    cells.append([cell for cell, _ in found])
                    rejects += [
                        (
                            table.ident,
                            rowid,
                            column.ident,
                            raw_text(value),
                            reason,
                            bytes(value) if isinstance(value, bytes) else None,
                        )
                        for rowid, value, (_, reason) in zip(numbers, values, found, strict=True)
                        if reason is not None
                    ]
                for row in zip(*cells, strict=True):
                    copy.write_row(row)
        if rejects:
            run.emit(ev.SqlExecuted(stage=STAGE, statement=statements[1].as_string(conn)))
            with conn.cursor().copy(statements[1]) as copy:
                for reject in rejects:
                    copy.write_row(reject)


def _run_queries(
    conn: psycopg.Connection, templates: Sequence[QueryTemplate], schema: str, source_schema: str
) -> list[QueryOutcome]:
    """Run every applicable dashboard query on both sides, on a connection of its own.

    The comparison meanwhile reads the canary on the caller's: two backends, two cores.
    """
    return [_run_both(conn, template, schema, source_schema) for template in templates]


def _run_both(
    conn: psycopg.Connection, template: QueryTemplate, schema: str, source_schema: str
) -> QueryOutcome:
    """One query on the source side and on the canary: both must run and agree."""
    (mine, source_error), (theirs, canary_error) = (
        _rows_or_error(conn, template, side) for side in (source_schema, schema)
    )
    difference = "" if source_error or canary_error else _difference(mine, theirs, template.ordered)
    counted = _rows(len(theirs)) + (f", {difference}" if difference else "")
    return QueryOutcome(
        template.name,
        not (source_error or canary_error or difference),
        rows=len(theirs),
        error=canary_error or source_error or difference,
        source=source_error or _rows(len(mine)),
        canary=canary_error or counted,
    )


def _rows_or_error(
    conn: psycopg.Connection, template: QueryTemplate, schema: str
) -> tuple[list[tuple], str]:
    try:
        return dashboard.run_query(conn, template, schema)[1], ""
    except EngineError as exc:
        return [], str(exc)


def _difference(source: list[tuple], canary: list[tuple], ordered: bool) -> str:
    """How the canary's rows differ from the source's ("" when they agree): the first
    differing row when the template orders its rows, else the rows only one side has."""
    if ordered:
        for number, (mine, theirs) in enumerate(zip(source, canary, strict=False), 1):
            if mine != theirs:
                return (
                    f"row {number} is {_shown(theirs)} on the canary, {_shown(mine)} on the source"
                )
        if len(source) == len(canary):
            return ""
        return f"{_rows(len(canary))} on the canary, {_rows(len(source))} on the source"
    extra, lost = Counter(canary) - Counter(source), Counter(source) - Counter(canary)
    return "; ".join(
        f"{_rows(sum(rows.values()))} only on the {side}, e.g. {_shown(next(iter(rows)))}"
        for side, rows in (("canary", extra), ("source", lost))
        if rows
    )


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def _shown(row: tuple) -> str:
    text = "(" + ", ".join("NULL" if v is None else str(v) for v in row) + ")"
    return text if len(text) <= SHOWN_ROW else text[: SHOWN_ROW - 1] + "…"


def _create(run: Run, conn: psycopg.Connection, schema: str, plan: Plan) -> None:
    """``schema`` afresh with the plan's empty tables (what a killed run left is dropped)."""
    _drop(run, conn, schema)
    for statement in create_version_schema(conn, schema, plan):
        run.emit(ev.SqlExecuted(stage=STAGE, statement=statement.as_string(conn)))


def _drop(run: Run, conn: psycopg.Connection, schema: str) -> None:
    statement = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
    conn.execute(statement)
    run.emit(ev.SqlExecuted(stage=STAGE, statement=statement.as_string(conn)))
