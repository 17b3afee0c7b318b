"""DDL of a version schema: one typed table per planned table, plus ``_rejects``.

Design: a target table holds exactly the source's columns, typed, and no
hidden row id. The stable schema's views are ``SELECT * FROM <version>.<table>``,
so any bookkeeping column would show on every dashboard. Rows are related to
the source by content instead: validation and the canary compare the multiset
of row checksums on both sides (:mod:`sdconsole.engine.rules.checksum`), and
whatever points at a source row (a reject, a row that differs) names its
source rowid, which the cleaned working copy keeps. Tables are filled in
rowid order.

Identifiers come from the plan (normalised, composed with
``sql.Identifier``); the original source names are kept as comments. The
declared primary key (also composite) and UNIQUE constraints -- or, where no
key is declared, one inferred from the values -- and the indexes on id-like
and date columns are built after each table's load (:func:`key_statements`,
:func:`index_statements`): building an index once is cheaper than
maintaining it row by row. Declared foreign keys are added once every table
is keyed (:func:`foreign_key_statements`), ``NOT VALID`` and then
validated: a key with orphans stays ``NOT VALID`` (enforced for new rows),
and its orphans are reported, never dropped.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from sdconsole.engine.records.plan import Plan, TablePlan
from sdconsole.engine.rules.naming import table_ref
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.run import one_line

REJECTS = "_rejects"
_ID_LIKE = re.compile(r"(^|_)id($|_)")


def schema_statements(schema: str, plan: Plan) -> list[sql.Composed]:
    """The statements :func:`create_version_schema` runs, in order."""
    statements = [sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema))]
    for table in plan.tables:
        target = table_ref(schema, table.ident)
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.ident), sql.SQL(c.pg_type))
            for c in table.columns
        )
        statements.append(sql.SQL("CREATE TABLE {} ({})").format(target, columns))
        statements.append(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(table.name))
        )
        statements.extend(
            sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                target, sql.Identifier(c.ident), sql.Literal(c.name)
            )
            for c in table.columns
        )
    rejects = table_ref(schema, REJECTS)
    statements.append(
        sql.SQL(
            "CREATE TABLE {} (table_name text NOT NULL, source_rowid bigint NOT NULL,"
            " column_name text NOT NULL, raw_value text, reason text NOT NULL,"
            " raw_bytes bytea)"
        ).format(rejects)
    )
    statements.append(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            rejects,
            sql.Literal(
                "source values that did not fit their column: the typed cell is NULL; raw_bytes"
                " holds a BLOB or a text that is not UTF-8 exactly"
            ),
        )
    )
    return statements


def create_version_schema(conn: psycopg.Connection, schema: str, plan: Plan) -> list[sql.Composed]:
    """Create ``schema`` with its typed tables and ``_rejects`` in one transaction.

    Returns the statements it ran. An existing schema is a StageError: a
    version is never loaded on top of another.
    """
    statements = schema_statements(schema, plan)
    try:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)
    except psycopg.errors.DuplicateSchema:
        raise StageError(f"schema {schema} already exists in the target") from None
    except psycopg.Error as exc:
        raise StageError(f"creating schema {schema} failed: {one_line(exc)}") from None
    return statements


def key_statements(schema: str, table: TablePlan) -> list[sql.Composed]:
    """The primary key and UNIQUE constraints the plan asks for, in that order."""
    target = table_ref(schema, table.ident)
    statements = []
    if table.primary_key:
        statements.append(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                target, _idents(table.primary_key)
            )
        )
    statements += [
        sql.SQL("ALTER TABLE {} ADD UNIQUE ({})").format(target, _idents(columns))
        for columns in table.unique
        if columns != table.primary_key
    ]
    return statements


def foreign_key_statements(
    schema: str, table: TablePlan
) -> list[tuple[sql.Composed, sql.Composed]]:
    """Per declared foreign key: the ``ADD ... NOT VALID`` and the ``VALIDATE`` statement."""
    target = table_ref(schema, table.ident)
    statements = []
    for number, key in enumerate(table.foreign_keys, 1):
        name = sql.Identifier(f"{table.ident}_fk{number}"[:63])
        statements.append(
            (
                sql.SQL(
                    "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) NOT VALID"
                ).format(
                    target,
                    name,
                    _idents(key.columns),
                    table_ref(schema, key.parent),
                    _idents(key.parent_columns),
                ),
                sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(target, name),
            )
        )
    return statements


def _idents(names: list[str]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def index_statements(schema: str, table: TablePlan, *, keyed: bool) -> list[sql.Composed]:
    """Indexes on the main date column and id-like columns.

    A column that leads the primary key needs none when the key was created
    (``keyed``); when the key could not be created it gets a plain index.
    """
    wanted = [table.date_column] if table.date_column else []
    wanted += [c.ident for c in table.columns if _ID_LIKE.search(c.ident)]
    if table.primary_key:
        lead = table.primary_key[0]
        wanted = [i for i in wanted if i != lead]
        if not keyed:
            wanted.insert(0, lead)
    target = table_ref(schema, table.ident)
    return [
        sql.SQL("CREATE INDEX ON {} ({})").format(target, sql.Identifier(ident))
        for ident in dict.fromkeys(wanted)
    ]
