"""Hand-built versioned schemas for the cutover, rollback, backup and status tests.

Each version has ``tickets`` and ``comments`` whose rows all carry the
version's ``marker``, so a reader can tell which version it saw, and a
``_rejects`` table like the loader's. The deployment row goes through the
real :mod:`sdconsole.engine.target.deployments` API, as the pipeline does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from sdconsole.engine.target import deployments, metadata, switch

STABLE = "servicedesk"


def make_version(
    conn: psycopg.Connection,
    tickets: int,
    *,
    title_type: str = "text",
    padding: int = 0,
    stable: str = STABLE,
    run_id: str = "test-run",
) -> int:
    """Create and record a loaded version with ``tickets`` tickets; return its number.

    ``title_type`` other than text makes the version's column set incompatible
    with the others (the switch must DROP and CREATE the view). ``padding``
    adds that many characters of incompressible text per ticket (big dumps).
    """
    version, schema = deployments.begin(
        conn, stable, run_id, "/data/servicedesk.db", "ab" * 32, "tester", 87.5
    )
    s = sql.Identifier(schema)
    title = "(i)::text" if title_type == "text" else "i"
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(s))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.tickets (ticket_id bigint PRIMARY KEY, marker integer NOT NULL,"
                " title {}, padding text)"
            ).format(s, sql.SQL(title_type))
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.tickets SELECT i, %s, {}, (SELECT string_agg(md5(random()::text),"
                " '') FROM generate_series(1, %s / 32 + 1 + i * 0)) FROM generate_series(1, %s) i"
            ).format(s, sql.SQL(title)),
            (version, padding, tickets),
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.comments (comment_id bigint, ticket_id bigint,"
                " marker integer NOT NULL)"
            ).format(s)
        )
        conn.execute(
            sql.SQL("INSERT INTO {}.comments SELECT i, i, %s FROM generate_series(1, %s) i").format(
                s
            ),
            (version, tickets),
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}._rejects (table_name text, source_rowid bigint, column_name text,"
                " raw text, reason text)"
            ).format(s)
        )
    deployments.mark(
        conn, stable, version, "loaded", row_counts={"tickets": tickets, "comments": tickets}
    )
    return version


def seen(conn: psycopg.Connection, stable: str = STABLE) -> tuple[int, int]:
    """(ticket count, version marker) as a dashboard reading ``<stable>.tickets`` sees them."""
    return conn.execute(
        sql.SQL("SELECT count(*), min(marker) FROM {}").format(sql.Identifier(stable, "tickets"))
    ).fetchone()


def views_point_at(conn: psycopg.Connection, stable: str = STABLE) -> set[str]:
    """The versioned schemas the views of ``stable`` read, from the catalog."""
    return set(switch.current_views(conn, stable).values())


def statuses(conn: psycopg.Connection, stable: str = STABLE) -> dict[int, str]:
    return {d.version: d.status for d in deployments.history(conn, stable)}


def schema_exists(conn: psycopg.Connection, version: int, stable: str = STABLE) -> bool:
    return metadata.schema_exists(conn, metadata.version_schema(stable, version))


def sdconsole(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the installed ``sdconsole`` command in a fresh process."""
    exe = Path(sys.executable).with_name("sdconsole")
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
