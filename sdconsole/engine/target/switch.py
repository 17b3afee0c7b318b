"""Point the views of ``<stable>`` at one versioned schema, in one transaction.

Dashboards read ``<stable>.<table>``, a view ``SELECT * FROM <stable>_v<N>.<table>``.
A switch replaces those views in one transaction, so a reader sees the old
version or the new one, never a mix, an error or nothing:

- Views are replaced with CREATE OR REPLACE VIEW whenever the new table's
  columns extend the old ones; only an incompatible column set needs DROP and
  CREATE (same transaction; the view's grants are given again).
- All existing views are locked first, in one LOCK statement with a lock
  timeout shorter than the server's deadlock_timeout. A reader joining two
  views can then never deadlock with the switch: if the switch has to wait,
  it gives up first, releases everything and tries again a moment later.

Every table of the version gets a view, ``_rejects`` included: the quality
dashboards (``rejects_by_column``) read it through ``<stable>`` like the
data tables, and it must switch with them. Only views that select from a table of
the same name in a ``<stable>_v<N>`` schema are ours; other views in
``<stable>`` (a dashboard team's own) are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.target.lock import xact_lock

ATTEMPTS = 40  # lock attempts before giving up (each waits at most the lock timeout)
MAX_LOCK_WAIT_MS = 200
PRIVILEGES = {
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
    "MAINTAIN",
}

Column = tuple[str, str, int]  # name, formatted type, collation oid


@dataclass(frozen=True)
class Grant:
    privilege: str
    grantee: str | None  # None: PUBLIC
    grantable: bool


def version_tables(conn: psycopg.Connection, schema: str) -> dict[str, list[Column]]:
    """The tables of a versioned schema (each gets a view), with their columns in order."""
    rows = conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p')"
        " ORDER BY c.relname, a.attnum",
        (schema,),
    ).fetchall()
    return _group(rows)


def current_views(conn: psycopg.Connection, stable: str) -> dict[str, str]:
    """Our views in ``stable``: view name -> the versioned schema it selects from."""
    rows = conn.execute(
        "SELECT v.relname, min(tn.nspname) FROM pg_class v"
        " JOIN pg_namespace vn ON vn.oid = v.relnamespace"
        " JOIN pg_rewrite r ON r.ev_class = v.oid"
        " JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid"
        "  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid"
        " JOIN pg_class t ON t.oid = d.refobjid"
        " JOIN pg_namespace tn ON tn.oid = t.relnamespace"
        " WHERE vn.nspname = %s AND v.relkind = 'v'"
        " GROUP BY v.relname"
        " HAVING count(DISTINCT t.oid) = 1 AND min(t.relname) = v.relname"
        "  AND min(tn.nspname) ~ ('^' || %s || '_v[0-9]+$')",
        (stable, stable),
    ).fetchall()
    return dict(rows)


def _view_columns(
    conn: psycopg.Connection, stable: str, names: list[str]
) -> dict[str, list[Column]]:
    rows = conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) ORDER BY c.relname, a.attnum",
        (stable, names),
    ).fetchall()
    return _group(rows)


def _grants(conn: psycopg.Connection, stable: str, view: str) -> list[Grant]:
    """Privileges others hold on a view, to give again after DROP and CREATE."""
    rows = conn.execute(
        "SELECT g.privilege_type, CASE WHEN g.grantee = 0 THEN NULL"
        " ELSE pg_get_userbyid(g.grantee) END, g.is_grantable"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,"
        " aclexplode(c.relacl) g WHERE n.nspname = %s AND c.relname = %s"
        " AND g.grantee <> c.relowner",
        (stable, view),
    ).fetchall()
    return [Grant(p, g, bool(o)) for p, g, o in rows if p in PRIVILEGES]


def _group(rows: list[tuple[str, str, str, int]]) -> dict[str, list[Column]]:
    result: dict[str, list[Column]] = {}
    for table, column, kind, collation in rows:
        result.setdefault(table, []).append((column, kind, collation))
    return result


def statements(conn: psycopg.Connection, stable: str, schema: str) -> list[sql.Composed]:
    """The statements that make ``stable``'s views select from ``schema``, in order."""
    tables = version_tables(conn, schema)
    if not tables:
        raise StageError(f"{schema} has no tables to switch to (missing or empty schema)")
    ours = current_views(conn, stable)
    old_columns = _view_columns(conn, stable, sorted(ours))
    stable_id = sql.Identifier(stable)
    result = [sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(stable_id)]
    if ours:
        result.append(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                sql.SQL(", ").join(sql.Identifier(stable, v) for v in sorted(ours))
            )
        )
    for view in sorted(set(ours) - set(tables)):
        result.append(sql.SQL("DROP VIEW {}").format(sql.Identifier(stable, view)))
    for table, columns in sorted(tables.items()):
        view_id = sql.Identifier(stable, table)
        select = sql.SQL("AS SELECT * FROM {}").format(sql.Identifier(schema, table))
        old = old_columns.get(table) if table in ours else None
        if old is None or columns[: len(old)] == old:
            result.append(sql.SQL("CREATE OR REPLACE VIEW {} {}").format(view_id, select))
            continue
        result.append(sql.SQL("DROP VIEW {}").format(view_id))
        result.append(sql.SQL("CREATE VIEW {} {}").format(view_id, select))
        for grant in _grants(conn, stable, table):
            result.append(
                sql.SQL("GRANT {} ON {} TO {}{}").format(
                    sql.SQL(grant.privilege),
                    view_id,
                    sql.Identifier(grant.grantee) if grant.grantee else sql.SQL("PUBLIC"),
                    sql.SQL(" WITH GRANT OPTION") if grant.grantable else sql.SQL(""),
                )
            )
    return result


def in_transaction(
    conn: psycopg.Connection, stable: str, what: str, body: Callable[[], list[sql.Composed]]
) -> list[str]:
    """Run ``body`` in one transaction under the switch lock of ``stable``.

    ``body`` executes its statements and returns them. Retries when readers
    keep a view locked longer than the lock timeout; returns the executed
    statements as text, for SqlExecuted events. ``conn`` is in autocommit
    mode; ``what`` names the operation in errors.
    """
    for attempt in range(ATTEMPTS):
        try:
            with conn.transaction():
                _set_lock_timeout(conn)
                xact_lock(conn, stable)
                executed = body()
                return [s.as_string(conn) for s in executed]
        except pg_errors.LockNotAvailable:
            time.sleep(min(0.02 * (attempt + 1), 0.25))
        except psycopg.Error as exc:
            raise StageError(f"{what} failed: {_first_line(exc)}") from None
    raise StageError(
        f"{what} failed: readers kept the views of {stable} locked for"
        f" {ATTEMPTS} attempts; try again when dashboards are quieter"
    )


def execute(conn: psycopg.Connection, statements_: list[sql.Composed]) -> None:
    for statement in statements_:
        conn.execute(statement)


def _set_lock_timeout(conn: psycopg.Connection) -> None:
    """For this transaction: wait for a lock at most half the server's deadlock_timeout
    (and at most 200 ms), so in a lock conflict with a reader the switch gives up first."""
    conn.execute(
        "SELECT set_config('lock_timeout', greatest(10, least(%s, setting::int / 2)) || 'ms',"
        " true) FROM pg_settings WHERE name = 'deadlock_timeout'",
        (MAX_LOCK_WAIT_MS,),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
