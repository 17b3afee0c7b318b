"""The ``sdconsole`` schema in the target: deployments, runs, and the audit of switches.

``deployments`` has one row per loaded version of a stable schema, with its
status: loading, loaded, active, retired, rolled_back, failed or discarded
(``purged`` once retention dropped its schema and only the pg_dump is left).
``audit`` records every cutover, rollback, discard, purge and restore.
``locks`` names the holder of each stable schema's run lock.

A version's ``activated_at`` is its cutover, kept when a rollback makes it
active again; ``live_since`` is when it last became the active version.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

DDL = [
    "CREATE SCHEMA IF NOT EXISTS sdconsole",
    """CREATE TABLE IF NOT EXISTS sdconsole.deployments (
        stable text NOT NULL,
        version integer NOT NULL,
        schema_name text NOT NULL,
        status text NOT NULL CHECK (status IN ('loading', 'loaded', 'active', 'retired',
            'rolled_back', 'failed', 'discarded', 'purged')),
        run_id text NOT NULL,
        source_path text,
        source_sha256 text,
        quality_score numeric,
        row_counts jsonb,
        operator text,
        backup_path text,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        loaded_at timestamptz,
        activated_at timestamptz,
        retired_at timestamptz,
        live_since timestamptz,
        PRIMARY KEY (stable, version))""",
    """CREATE TABLE IF NOT EXISTS sdconsole.runs (
        run_id text PRIMARY KEY,
        stable text NOT NULL,
        mode text,
        source_path text,
        operator text,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        outcome text,
        error text,
        quality_score numeric,
        gate_override_reason text)""",
    """CREATE TABLE IF NOT EXISTS sdconsole.audit (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        stable text NOT NULL,
        action text NOT NULL,
        from_version integer,
        to_version integer,
        operator text,
        run_id text,
        detail text)""",
    # At most one active version per stable schema, whatever goes wrong.
    """CREATE UNIQUE INDEX IF NOT EXISTS deployments_one_active
        ON sdconsole.deployments (stable) WHERE status = 'active'""",
    # Who holds the run lock of a stable schema (see sdconsole.engine.target.lock).
    """CREATE TABLE IF NOT EXISTS sdconsole.locks (
        stable text PRIMARY KEY,
        run_id text NOT NULL,
        operator text,
        pid integer,
        host text,
        workdir text,
        backend_pid integer NOT NULL,
        since timestamptz NOT NULL DEFAULT now())""",
]

# Serialises creation of the metadata schema between concurrent first runs.
_DDL_LOCK_KEY = 0x5D_C0_4E_01


def ensure(conn: psycopg.Connection) -> None:
    """Create the metadata schema and tables if they are missing (idempotent)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_KEY,))
        for statement in DDL:
            conn.execute(statement)
        _add_live_since(conn)


def _add_live_since(conn: psycopg.Connection) -> None:
    """Give a ``deployments`` table from before ``live_since`` the column.

    Its active version has been live since its last switch, which only the audit
    knows; its ``activated_at`` was stamped by that switch, so it is the value.
    """
    missing = conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid ="
        " 'sdconsole.deployments'::regclass AND attname = 'live_since' AND NOT attisdropped)"
    ).fetchone()
    assert missing is not None  # a SELECT without FROM returns one row
    if missing[0]:
        conn.execute("ALTER TABLE sdconsole.deployments ADD COLUMN live_since timestamptz")
        conn.execute(
            "UPDATE sdconsole.deployments SET live_since = activated_at WHERE status = 'active'"
        )


def version_schema(stable: str, version: int) -> str:
    return f"{stable}_v{version}"


def active_version(conn: psycopg.Connection, stable: str) -> int | None:
    row = conn.execute(
        "SELECT version FROM sdconsole.deployments WHERE stable = %s AND status = 'active'",
        (stable,),
    ).fetchone()
    return row[0] if row else None


def next_version(conn: psycopg.Connection, stable: str) -> int:
    row = conn.execute(
        "SELECT coalesce(max(version), 0) + 1 FROM sdconsole.deployments WHERE stable = %s",
        (stable,),
    ).fetchone()
    assert row is not None  # an aggregate without GROUP BY returns one row
    return row[0]


def has_metadata(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('sdconsole.deployments') IS NOT NULL").fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    return bool(row[0])


def schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (schema,)
    ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    return bool(row[0])


def drop_schema_statement(schema: str) -> sql.Composed:
    return sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))


def drop_schema(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(drop_schema_statement(schema))


def history_metrics(conn: psycopg.Connection, stable: str) -> dict[str, Any]:
    """Active version and last cutover, rollback and successful run of ``stable``.

    Keys as in :func:`sdconsole.engine.runtime.metrics.write_run_metrics`; a value is None
    when it never happened. Empty when the target has no ``sdconsole`` schema yet.
    """
    if not has_metadata(conn):
        return {}
    row = conn.execute(
        """SELECT
             (SELECT version FROM sdconsole.deployments
               WHERE stable = %(stable)s AND status = 'active'),
             (SELECT extract(epoch FROM max(at)) FROM sdconsole.audit
               WHERE stable = %(stable)s AND action = 'cutover'),
             (SELECT extract(epoch FROM max(at)) FROM sdconsole.audit
               WHERE stable = %(stable)s AND action = 'rollback'),
             (SELECT extract(epoch FROM max(finished_at)) FROM sdconsole.runs
               WHERE stable = %(stable)s AND outcome = 'succeeded')""",
        {"stable": stable},
    ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    version, cutover, rollback, success = row
    return {
        "active_version": version,
        "last_cutover_ts": _float(cutover),
        "last_rollback_ts": _float(rollback),
        "last_success_ts": _float(success),
    }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
