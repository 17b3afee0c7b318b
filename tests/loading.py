"""Sources, plans and cleaned working copies for the load, validation and canary tests.

Working copies always come from the real cleaner. The plan comes either from
the real profiler (:func:`profiled`) or, for hand-made sources whose column
types a test wants to pin, from :func:`plan_for`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
from psycopg import sql

from sdconsole.engine import pipeline
from sdconsole.engine.records.plan import ColumnPlan, Plan, TablePlan
from sdconsole.engine.rules.naming import normalise_all
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.source.sqlite import list_columns, row_count, sqlite_sql
from sdconsole.engine.stages.clean import cleaner
from sdconsole.engine.stages.profile import profiler
from sdconsole.engine.target import schema
from sdconsole.settings import Settings


def write_source(path: Path, tables: dict[str, tuple[list[str], list[tuple]]]) -> Path:
    """A SQLite file with untyped columns holding exactly the given values."""
    with sqlite3.connect(path) as db:
        for name, (columns, rows) in tables.items():
            table = sql.Identifier(name)
            db.execute(
                sqlite_sql(
                    sql.SQL("CREATE TABLE {} ({})").format(
                        table, sql.SQL(", ").join(map(sql.Identifier, columns))
                    )
                )
            )
            db.executemany(
                sqlite_sql(
                    sql.SQL("INSERT INTO {} VALUES ({})").format(
                        table, sql.SQL(", ").join(sql.SQL("?") for _ in columns)
                    )
                ),
                rows,
            )
    db.close()
    return path


def plan_for(
    source: Path,
    types: dict[str, dict[str, str]],
    *,
    keys: dict[str, str] | None = None,
    dates: dict[str, str] | None = None,
) -> Plan:
    """A plan with the given types (source names; unnamed columns are text)."""
    keys, dates = keys or {}, dates or {}
    tables = []
    with sqlite3.connect(source) as db:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
            )
        ]
        idents = normalise_all(names)
        for name in names:
            columns = [c for c, _ in list_columns(db, name)]
            column_idents = normalise_all(columns)
            rows = row_count(db, name)
            wanted = types.get(name, {})
            tables.append(
                TablePlan(
                    name=name,
                    ident=idents[name],
                    rows=rows,
                    columns=[
                        ColumnPlan(c, column_idents[c], wanted.get(c, "text")) for c in columns
                    ],
                    primary_key=[column_idents[keys[name]]] if name in keys else [],
                    date_column=column_idents[dates[name]] if name in dates else None,
                )
            )
    db.close()
    return Plan(tables)


def cleaned(run: Run, settings: Settings, source: Path, plan: Plan) -> Path:
    """The real cleaner's working copy of ``source``."""
    return Path(cleaner.clean(run, settings, source, plan, dry_run=False).working_copy)


def profiled(run: Run, settings: Settings, source: Path) -> tuple[Plan, Path]:
    """The real profiler's plan and the real cleaner's working copy."""
    plan = profiler.profile(run, settings, source).plan
    return plan, cleaned(run, settings, source, plan)


def new_schema(conn: psycopg.Connection, name: str, plan: Plan) -> str:
    schema.create_version_schema(conn, name, plan)
    return name


def rows_of(
    conn: psycopg.Connection, schema_name: str, table: str, order_by: str | None = None
) -> list[tuple]:
    query = sql.SQL("SELECT * FROM {}.{}").format(
        sql.Identifier(schema_name), sql.Identifier(table)
    )
    if order_by:
        query += sql.SQL(" ORDER BY {}").format(sql.Identifier(order_by))
    return conn.execute(query).fetchall()


def through_clean(m: pipeline.Migration) -> pipeline.Migration:
    """Take a migration through preflight, profile, the quality gate and the clean."""
    m.preflight()
    m.profile()
    m.gate()
    m.clean()
    return m
