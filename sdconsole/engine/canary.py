"""Canary: load a small deterministic sample first and compare it side by side with the source.

The sample is about ``fraction`` of each table, chosen in SQLite by a fixed
hash of the rowid, so the same file always gives the same rows. A table with
a main date column is stratified by month: about the same share of every
month (values that are missing or not a date form one more stratum), and at
least one row from each. The sample goes into ``<stable>_canary`` through the loader's
own code path (:func:`sdconsole.engine.loader.load_tables`), and is then
compared, table by table, with the source and with what the load sent:

* rows: sample size vs rows in the canary;
* values, per column: values not missing in the ORIGINAL source vs canary
  non-NULL cells + rejects (the identity validation checks after the load);
* min and max of every typed column: the canonical cells the load sent vs
  the canary;
* row checksums: the rows the load sent vs the canary
  (:mod:`sdconsole.engine.checksum`).

Then every dashboard query runs on the canary; each must run without error.
Each comparison is a CanaryMetric event; the verdict is ``ok`` when all of
them agree. The canary schema is dropped at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdconsole.engine import events as ev
from sdconsole.engine import queries as dashboard
from sdconsole.engine.cells import reading, require_columns, rowid_name
from sdconsole.engine.checksum import PRINTING, TableSum, from_row, sum_query
from sdconsole.engine.dsn import sibling
from sdconsole.engine.errors import EngineError, StageError
from sdconsole.engine.loader import load_tables
from sdconsole.engine.plan import Plan, TablePlan
from sdconsole.engine.queries import QueryTemplate
from sdconsole.engine.run import Run, one_line
from sdconsole.engine.schema import REJECTS, create_version_schema, table_ref
from sdconsole.engine.source import sqlite_sql
from sdconsole.engine.validate import present_counts
from sdconsole.settings import DEFAULT_NULL_TOKENS

STAGE = "canary"
DASHBOARDS = "dashboards"  # the table field of the query metrics
# A fixed permutation of rowids (Lehmer / MINSTD): the sample's "random" order.
_HASH = "((({rowid} % 2147483647) * 48271) % 2147483647)"  # psycopg.sql template
_HASH_RANGE = 1_000_000
# How a typed column's canonical text compares: as numbers, or as text (ISO dates and
# times, and 'false' < 'true', sort as they should).
_ORDER = {"integer": int, "numeric": Decimal}


@dataclass
class QueryOutcome:
    name: str
    ok: bool
    rows: int = 0
    error: str = ""


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
        rows = sum(self.sample.values())
        if self.ok:
            compared = sum(m.table != DASHBOARDS for m in self.metrics)
            return (f"canary passed: {rows} sampled rows, {compared} metrics agree,"
                    f" {len(self.queries)} dashboard queries ran")
        bad = [f"{m.table} {m.metric} (source {m.source}, canary {m.canary})"
               for m in self.metrics if not m.ok]
        bad += [f"query {q.name}: {q.error}" for q in self.queries if not q.ok]
        return f"canary failed on {len(bad)} checks: " + "; ".join(bad[:3]) + (
            "; ..." if len(bad) > 3 else "")

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "fraction": self.fraction, "ok": self.ok,
                "summary": self.summary, "sample": self.sample, "seconds": self.seconds,
                "metrics": [m.to_dict() for m in self.metrics],
                "queries": [asdict(q) for q in self.queries]}


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
    """Sample, load into ``<stable>_canary``, compare, run the dashboard queries, drop.

    ``queries`` are the dashboard query templates (None: every packaged
    one); ``null_tokens`` are the settings' tokens for missing values.
    """
    tokens = frozenset(null_tokens)
    templates = dashboard.load_queries() if queries is None else list(queries)
    schema = f"{stable}_canary"
    started = time.monotonic()
    report = CanaryReport(schema=schema, fraction=fraction)
    with run.stage(STAGE, f"{fraction:.0%} of each table into {schema}") as summary:
        try:
            _drop(run, conn, schema)
            for statement in create_version_schema(conn, schema, plan):
                run.emit(ev.SqlExecuted(stage=STAGE, statement=statement.as_string(conn)))
            with reading(working_db, STAGE) as db:
                sample = sample_rowids(db, plan, fraction)
            report.sample = {ident: len(rowids) for ident, rowids in sample.items()}
            sent = {table.ident: _Side() for table in plan.tables}
            with ThreadPoolExecutor(2, thread_name_prefix="sdconsole-canary") as helpers:
                present = helpers.submit(_source_present, source, plan, sample, tokens)
                load_tables(run, conn, working_db, plan, schema, stage=STAGE, rowids=sample,
                            observe=lambda table, rows: sent[table.ident].add(table, rows))
                outcomes = helpers.submit(_run_queries, conn, templates, schema)
                for table in plan.tables:
                    for metric in _compare(conn, present.result()[table.ident],
                                           sent[table.ident], schema, table):
                        report.metrics.append(run.emit(metric))
                report.queries = outcomes.result()
            for outcome in report.queries:
                report.metrics.append(run.emit(ev.CanaryMetric(
                    stage=STAGE, table=DASHBOARDS, metric=f"query {outcome.name}",
                    source="no error",
                    canary=f"{outcome.rows} rows" if outcome.ok else outcome.error,
                    ok=outcome.ok)))
        finally:
            with contextlib.suppress(psycopg.Error):
                _drop(run, conn, schema)
        report.seconds = round(time.monotonic() - started, 3)
        summary.update(ok=report.ok, summary=report.summary, sample=report.sample)
    return report


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
        hashed = sql.SQL("{} % {}").format(sql.SQL(_HASH).format(rowid=rowid),
                                           sql.Literal(_HASH_RANGE))
        date = next((c for c in table.columns if c.ident == table.date_column), None)
        stratum = sql.SQL("NULL") if date is None else sql.SQL(
            "CASE WHEN typeof({d}) = 'text' AND {d} GLOB"
            " '[0-9][0-9][0-9][0-9]-[0-9][0-9]*' THEN substr({d}, 1, 7) END"
        ).format(d=sql.Identifier(date.name))
        picked = db.execute(sqlite_sql(sql.SQL("SELECT {}, {} FROM {} WHERE {} < ?").format(
            rowid, stratum, name, hashed)), (threshold,)).fetchall()
        rowids = {r for r, _ in picked}
        if date is not None:
            every = {s for (s,) in db.execute(sqlite_sql(sql.SQL(
                "SELECT DISTINCT {} FROM {}").format(stratum, name)))}
            missing = every - {s for _, s in picked}
            rowids.update(_least_of(db, name, rowid, stratum, hashed, missing))
        sample[table.ident] = sorted(rowids)
    return sample


def _least_of(db: sqlite3.Connection, name: sql.Composable, rowid: sql.Composable,
              stratum: sql.Composable, hashed: sql.Composable, strata: set) -> list[int]:
    """The rowid with the smallest hash in each of ``strata`` (None: no date)."""
    if not strata:
        return []
    named = sorted(s for s in strata if s is not None)
    # SQLite: with a single min(), the bare rid comes from the row holding it
    query = sql.SQL(
        "SELECT rid FROM (SELECT rid, min(h) FROM (SELECT {rowid} AS rid, {stratum} AS s,"
        " {hashed} AS h FROM {name}) WHERE s IN (SELECT value FROM json_each(?))"
        " OR (? AND s IS NULL) GROUP BY s)").format(
            rowid=rowid, stratum=stratum, hashed=hashed, name=name)
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
                    bound[column.ident] = pick(present if known is None else [*present, known],
                                               key=key)


_TYPED = ("integer", "numeric", "boolean", "timestamp", "date", "time")


def _canary_side(conn: psycopg.Connection, schema: str, table: TablePlan) -> _Side:
    """The canary table's figures and checksum, in one scan."""
    typed = [c for c in table.columns if c.type in _TYPED]
    figures = [sql.SQL("count({})").format(sql.Identifier(c.ident)) for c in table.columns]
    for column in typed:
        ident = sql.Identifier(column.ident)
        if column.type == "boolean":
            figures += [sql.SQL("bool_and({})::text").format(ident),
                        sql.SQL("bool_or({})::text").format(ident)]
        else:
            figures += [sql.SQL("min({})::text").format(ident),
                        sql.SQL("max({})::text").format(ident)]
    with conn.transaction():
        for setting in PRINTING:
            conn.execute(setting)
        row = conn.execute(sum_query(schema, table, figures)).fetchone()
        rejects = dict(conn.execute(sql.SQL(
            "SELECT column_name, count(*) FROM {} WHERE table_name = %s GROUP BY 1"
        ).format(table_ref(schema, REJECTS)), (table.ident,)).fetchall())
    counts, bounds = row[3:3 + len(table.columns)], row[3 + len(table.columns):]
    return _Side(
        rows=row[0],
        values={c.ident: n for c, n in zip(table.columns, counts, strict=True)},
        rejects={c.ident: rejects.get(c.ident, 0) for c in table.columns},
        low={c.ident: bounds[2 * i] for i, c in enumerate(typed)},
        high={c.ident: bounds[2 * i + 1] for i, c in enumerate(typed)},
        sum=from_row(row),
    )


def _source_present(source: Path, plan: Plan, sample: dict[str, list[int]],
                    tokens: frozenset[str]) -> dict[str, tuple[int, dict[str, int]]]:
    """Per table ident: the sample's rows and values not missing in the original source."""
    with reading(source, STAGE) as db:
        return {table.ident: present_counts(db, table, tokens, sample[table.ident])
                for table in plan.tables}


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
        return ev.CanaryMetric(stage=STAGE, table=table.ident, metric=name,
                               source=str(source_text), canary=str(canary_text), ok=ok)

    metrics = [metric("rows", rows, loaded.rows, rows == loaded.rows)]
    for column in table.columns:
        values, rejects = loaded.values[column.ident], loaded.rejects[column.ident]
        shown = f"{values} + {rejects} rejected" if rejects else values
        metrics.append(metric(f"{column.ident} values", present[column.ident], shown,
                              present[column.ident] == values + rejects))
    for column in table.columns:
        if column.type not in _TYPED:
            continue
        key = _ORDER.get(column.type, str)
        for name, mine, theirs in (("min", working.low, loaded.low),
                                   ("max", working.high, loaded.high)):
            a, b = mine.get(column.ident), theirs.get(column.ident)
            same = a == b or (a is not None and b is not None and key(a) == key(b))
            metrics.append(metric(f"{column.ident} {name}", a, b, same))
    metrics.append(metric("row checksums", working.sum, loaded.sum, working.sum == loaded.sum))
    return metrics


def _run_queries(conn: psycopg.Connection, templates: Sequence[QueryTemplate],
                 schema: str) -> list[QueryOutcome]:
    """Run every dashboard query on the canary, on a connection of its own.

    The comparison meanwhile reads the canary on ``conn``: two backends, two cores.
    """
    if not templates:
        return []
    with sibling(conn, autocommit=True) as other:
        return [_run_query(other, template, schema) for template in templates]


def _run_query(conn: psycopg.Connection, template: QueryTemplate, schema: str) -> QueryOutcome:
    try:
        _, rows = dashboard.run_query(conn, template, schema)
    except EngineError as exc:
        return QueryOutcome(template.name, False, error=str(exc))
    return QueryOutcome(template.name, True, rows=len(rows))


def _drop(run: Run, conn: psycopg.Connection, schema: str) -> None:
    statement = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
    conn.execute(statement)
    run.emit(ev.SqlExecuted(stage=STAGE, statement=statement.as_string(conn)))
