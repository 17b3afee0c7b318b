"""The life of a loaded version and of a run, as rows in the ``sdconsole`` schema.

A version is born ``loading`` (:func:`begin`), becomes ``loaded`` or
``failed`` (:func:`mark`), then ``active`` at cutover and ``retired`` or
``rolled_back`` when another version replaces it; ``discarded`` when dropped
before cutover, ``purged`` when retention dropped its schema and only its
pg_dump is left. Runs are recorded in ``sdconsole.runs`` and every switch in
``sdconsole.audit``. Every function runs in its own transaction, or inside the
caller's when there is one, so a switch can update several rows atomically.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.target import metadata

STATUSES = (
    "loading",
    "loaded",
    "active",
    "retired",
    "rolled_back",
    "failed",
    "discarded",
    "purged",
)
IN_PROGRESS = ("loading", "loaded", "failed")  # before cutover: discard is the rollback
SWITCHABLE = ("retired", "rolled_back", "purged")  # a rollback may go back to these

# Columns mark() may set besides status; the timestamps follow the status. A
# version's first activation is its cutover: a rollback back to it keeps it.
_FIELDS = ("row_counts", "error", "backup_path", "quality_score")
_STAMPS: dict[str, tuple[sql.Composable, ...]] = {
    "loaded": (sql.SQL("loaded_at = now()"),),
    "active": (
        sql.SQL("activated_at = coalesce(activated_at, now())"),
        sql.SQL("live_since = now()"),
    ),
    "retired": (sql.SQL("retired_at = now()"),),
    "rolled_back": (sql.SQL("retired_at = now()"),),
}


@dataclass(frozen=True)
class Deployment:
    """One row of ``sdconsole.deployments``."""

    stable: str
    version: int
    schema_name: str
    status: str
    run_id: str
    source_path: str | None
    source_sha256: str | None
    quality_score: Decimal | None
    row_counts: dict[str, int] | None
    operator: str | None
    backup_path: str | None
    error: str | None
    created_at: datetime
    loaded_at: datetime | None
    activated_at: datetime | None
    retired_at: datetime | None
    live_since: datetime | None

    @property
    def rows(self) -> int | None:
        return sum(self.row_counts.values()) if self.row_counts else None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["quality_score"] = (
            float(self.quality_score) if self.quality_score is not None else None
        )
        return data


@dataclass(frozen=True)
class RunRow:
    """One row of ``sdconsole.runs``."""

    run_id: str
    stable: str
    mode: str | None
    source_path: str | None
    operator: str | None
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: str | None
    quality_score: Decimal | None
    gate_override_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["quality_score"] = (
            float(self.quality_score) if self.quality_score is not None else None
        )
        return data


_SELECT = sql.SQL("SELECT {} FROM sdconsole.deployments").format(
    sql.SQL(", ").join(sql.Identifier(f.name) for f in dataclasses.fields(Deployment))
)


def begin(
    conn: psycopg.Connection,
    stable: str,
    run_id: str,
    source_path: str | None,
    sha256: str | None,
    operator: str | None,
    quality_score: float | None,
) -> tuple[int, str]:
    """Record a new version in 'loading' state; return its number and schema name."""
    metadata.ensure(conn)
    with conn.transaction():
        conn.execute("LOCK TABLE sdconsole.deployments IN SHARE ROW EXCLUSIVE MODE")
        version = metadata.next_version(conn, stable)
        schema = metadata.version_schema(stable, version)
        conn.execute(
            "INSERT INTO sdconsole.deployments (stable, version, schema_name, status, run_id,"
            " source_path, source_sha256, operator, quality_score)"
            " VALUES (%s, %s, %s, 'loading', %s, %s, %s, %s, %s)",
            (stable, version, schema, run_id, source_path, sha256, operator, quality_score),
        )
    return version, schema


def mark(
    conn: psycopg.Connection, stable: str, version: int, status: str | None, **fields: Any
) -> None:
    """Set a version's status (stamping the times in ``_STAMPS``) and fields.

    ``status=None`` changes only the fields: row_counts, error, backup_path,
    quality_score.
    """
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"deployments.mark: unknown field {sorted(unknown)[0]!r}")
    if status is not None and status not in STATUSES:
        raise ValueError(f"deployments.mark: unknown status {status!r}")
    values = {k: Jsonb(v) if k == "row_counts" else v for k, v in fields.items()}
    assignments: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in values
    ]
    if status is not None:
        values["status"] = status
        assignments.append(sql.SQL("status = %(status)s"))
        assignments.extend(_STAMPS.get(status, ()))
    if not assignments:
        return
    query = sql.SQL(
        "UPDATE sdconsole.deployments SET {} WHERE stable = %(stable)s AND version = %(version)s"
    ).format(sql.SQL(", ").join(assignments))
    with conn.transaction():
        cur = conn.execute(query, {**values, "stable": stable, "version": version})
        if cur.rowcount != 1:
            raise BadInput(f"no version {version} of {stable} in sdconsole.deployments")


def get(conn: psycopg.Connection, stable: str, version: int) -> Deployment | None:
    if not metadata.has_metadata(conn):
        return None
    with conn.cursor(row_factory=class_row(Deployment)) as cur:
        cur.execute(_SELECT + sql.SQL(" WHERE stable = %s AND version = %s"), (stable, version))
        return cur.fetchone()


def history(conn: psycopg.Connection, stable: str) -> list[Deployment]:
    """Every version of a stable schema, newest first."""
    if not metadata.has_metadata(conn):
        return []
    with conn.cursor(row_factory=class_row(Deployment)) as cur:
        cur.execute(_SELECT + sql.SQL(" WHERE stable = %s ORDER BY version DESC"), (stable,))
        return cur.fetchall()


def active(conn: psycopg.Connection, stable: str) -> Deployment | None:
    return next((d for d in history(conn, stable) if d.status == "active"), None)


def previous_version(history_: list[Deployment], active_version: int) -> Deployment | None:
    """The default rollback target: the newest retired (or purged) version below the active.

    Rolled-back versions are skipped: they were rolled back for a reason.
    """
    return next(
        (d for d in history_ if d.version < active_version and d.status in ("retired", "purged")),
        None,
    )


def interrupted(conn: psycopg.Connection, stable: str) -> list[Deployment]:
    """Versions left 'loading' or 'failed': the next start offers to resume or discard them."""
    return [d for d in history(conn, stable) if d.status in ("loading", "failed")]


def failed_version(conn: psycopg.Connection, stable: str, run_id: str) -> int | None:
    """The version a run left loading or failed, if any (what resuming it reloads)."""
    found = [d.version for d in interrupted(conn, stable) if d.run_id == run_id]
    return found[0] if found else None


def settle_abandoned(conn: psycopg.Connection, stable: str, run_id: str) -> list[int]:
    """With the run lock held, mark what dead runs left behind; return the versions failed.

    Nothing else can be running, so a version still 'loading' belongs to a run
    that was killed or lost its connection, and an open run row never ended.
    """
    with conn.transaction():
        rows = conn.execute(
            "UPDATE sdconsole.deployments SET status = 'failed', error = 'run ' || run_id"
            " || ' ended before the load finished (killed or disconnected)'"
            " WHERE stable = %s AND status = 'loading' AND run_id <> %s RETURNING version",
            (stable, run_id),
        ).fetchall()
        conn.execute(
            "UPDATE sdconsole.runs SET outcome = 'abandoned'"
            " WHERE stable = %s AND outcome IS NULL AND run_id <> %s",
            (stable, run_id),
        )
    return sorted(r[0] for r in rows)


def audit(
    conn: psycopg.Connection,
    stable: str,
    action: str,
    from_version: int | None,
    to_version: int | None,
    operator: str | None,
    run_id: str | None,
    detail: str = "",
) -> None:
    """Append one line to the audit of cutovers, rollbacks, discards, purges and restores."""
    conn.execute(
        "INSERT INTO sdconsole.audit (stable, action, from_version, to_version, operator,"
        " run_id, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (stable, action, from_version, to_version, operator, run_id, detail),
    )


def audit_log(conn: psycopg.Connection, stable: str, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent audit lines, newest first."""
    if not metadata.has_metadata(conn):
        return []
    cur = conn.execute(
        "SELECT at, action, from_version, to_version, operator, run_id, detail"
        " FROM sdconsole.audit WHERE stable = %s ORDER BY id DESC LIMIT %s",
        (stable, limit),
    )
    assert cur.description is not None  # a SELECT describes its columns
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def record_run_start(
    conn: psycopg.Connection,
    stable: str,
    run_id: str,
    mode: str | None,
    source_path: str | None,
    operator: str | None,
) -> None:
    metadata.ensure(conn)
    with conn.transaction():
        conn.execute(
            "INSERT INTO sdconsole.runs (run_id, stable, mode, source_path, operator)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET"
            " outcome = NULL, error = NULL, finished_at = NULL",
            (run_id, stable, mode, source_path, operator),
        )


def record_run_end(
    conn: psycopg.Connection,
    run_id: str,
    outcome: str,
    error: str | None = None,
    gate_override_reason: str | None = None,
    quality_score: float | None = None,
) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE sdconsole.runs SET finished_at = now(), outcome = %s, error = %s,"
            " gate_override_reason = coalesce(%s, gate_override_reason),"
            " quality_score = coalesce(%s, quality_score) WHERE run_id = %s",
            (outcome, error, gate_override_reason, quality_score, run_id),
        )


def last_runs(conn: psycopg.Connection, stable: str, limit: int = 10) -> list[RunRow]:
    if not metadata.has_metadata(conn):
        return []
    with conn.cursor(row_factory=class_row(RunRow)) as cur:
        cur.execute(
            "SELECT run_id, stable, mode, source_path, operator, started_at, finished_at,"
            " outcome, error, quality_score, gate_override_reason FROM sdconsole.runs"
            " WHERE stable = %s ORDER BY started_at DESC LIMIT %s",
            (stable, limit),
        )
        return cur.fetchall()
