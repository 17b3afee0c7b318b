"""Blue-green cutover: back up the active version, switch the views, apply retention.

Order matters: the pg_dump of the version being replaced is taken first, so
a failed backup leaves everything as it was. Then one transaction switches
the views (:mod:`sdconsole.engine.target.switch`), retires the old version, activates
the new one and writes the audit line. Retention runs after the commit: old
versions beyond ``settings.retention`` lose their schema (their dump stays),
except the rollback target when no dump of it exists, and any version some
object outside its schema still depends on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput, EngineError, StageError
from sdconsole.engine.runtime.run import Run, one_line
from sdconsole.engine.target import deployments, metadata, switch
from sdconsole.engine.target.backup import dump_version
from sdconsole.engine.target.deployments import Deployment
from sdconsole.engine.target.shape_change import (
    ShapeChange,
    against_active,
    require_allowed,
    schema_shape,
)
from sdconsole.settings import Settings


@dataclass
class CutoverPlan:
    """What a cutover will do, for the confirmation: versions, backup, statements."""

    stable: str
    from_version: int | None
    to_version: int
    to_schema: str
    backup: str | None  # what will be dumped and where, or None
    statements: list[str]
    shape: ShapeChange | None = None  # tables and columns changed (None: nothing active)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def backup_line(self) -> str:
        """What is backed up before the switch, or why nothing is, for the confirmation."""
        if self.backup:
            return self.backup
        if self.from_version is None:
            return "none: no version is active yet"
        return f"none: this run's mode keeps no backup of version {self.from_version}"

    def shape_lines(self) -> list[str]:
        """What changes for dashboards, for the confirmation."""
        if self.shape is None:
            return []
        if not self.shape.changed:
            return ["Same tables and columns as the active version."]
        heading = (
            "This version REMOVES or RETYPES what dashboards read:"
            if self.shape.breaking
            else "Tables and columns change:"
        )
        return [heading, *(f"  {line}" for line in self.shape.lines())]


@dataclass
class CutoverReport:
    stable: str
    from_version: int | None
    to_version: int
    to_schema: str
    backup_path: str | None
    statements: list[str]
    seconds: float
    purged: list[int] = field(default_factory=list)
    kept: dict[int, str] = field(default_factory=dict)  # beyond retention, and why kept
    purge_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_cutover(
    conn: psycopg.Connection,
    stable: str,
    version: int,
    *,
    backup: bool = True,
    backup_dir: Path | None = None,
) -> CutoverPlan:
    """Describe the cutover to ``version`` without changing anything."""
    target = _loaded(conn, stable, version)
    current = deployments.active(conn, stable)
    where = f" into {backup_dir}" if backup_dir else " into the work dir's backups/"
    return CutoverPlan(
        stable=stable,
        from_version=current.version if current else None,
        to_version=version,
        to_schema=target.schema_name,
        backup=f"pg_dump -Fc -n {current.schema_name}{where}" if current and backup else None,
        statements=[s.as_string(conn) for s in switch.statements(conn, stable, target.schema_name)],
        shape=against_active(conn, stable, schema_shape(conn, target.schema_name)),
    )


def cutover(
    run: Run,
    conn: psycopg.Connection,
    dsn: str,
    settings: Settings,
    version: int,
    *,
    backup: bool = True,
    dumped: tuple[int, Path] | None = None,
    allow_shape_change: bool = False,
    approved_by: str = "",
) -> CutoverReport:
    """Make ``version`` (loaded) the one ``<stable>`` shows; see the module docstring.

    ``dumped`` is (version, path) of a dump this run took already; it serves
    as the backup when that version is still the active one. A version that
    removes or retypes what the active one has needs ``allow_shape_change``.
    ``approved_by`` (who approved the cutover gate) goes into the audit line.
    """
    stable = settings.stable_schema
    started = time.monotonic()
    target = _loaded(conn, stable, version)
    require_allowed(
        against_active(conn, stable, schema_shape(conn, target.schema_name)), allow_shape_change
    )
    previous = deployments.active(conn, stable)
    backup_path = None
    if previous is not None and backup:
        if dumped is not None and dumped[0] == previous.version:
            backup_path = dumped[1]
        else:
            backup_path = dump_version(run, settings, dsn, previous.schema_name, previous.version)
        deployments.mark(conn, stable, previous.version, None, backup_path=str(backup_path))
    from_version = previous.version if previous else None

    def body() -> list:
        _loaded(conn, stable, version)
        now_active = deployments.active(conn, stable)
        if (now_active.version if now_active else None) != from_version:
            raise StageError(
                f"cutover of {stable} to v{version} stopped: the active version"
                " changed meanwhile; look at `sdconsole status`"
            )
        statements = switch.statements(conn, stable, target.schema_name)
        switch.execute(conn, statements)
        if from_version is not None:
            deployments.mark(conn, stable, from_version, "retired")
        deployments.mark(conn, stable, version, "active")
        deployments.audit(
            conn,
            stable,
            "cutover",
            from_version,
            version,
            settings.operator,
            run.run_id,
            "; ".join(
                [f"backup {backup_path}" if backup_path else "no backup"]
                + ([f"approved by {approved_by}"] if approved_by else [])
            ),
        )
        return statements

    with run.stage("cutover", f"{stable} -> {target.schema_name}") as summary:
        executed = switch.in_transaction(conn, stable, f"cutover of {stable} to v{version}", body)
        for text in executed:
            run.emit(ev.SqlExecuted(stage="cutover", statement=text))
        summary.update(
            from_version=from_version,
            to_version=version,
            backup=str(backup_path) if backup_path else "none",
        )
    report = CutoverReport(
        stable,
        from_version,
        version,
        target.schema_name,
        str(backup_path) if backup_path else None,
        executed,
        round(time.monotonic() - started, 3),
    )
    apply_retention(run, conn, settings, report)
    return report


def apply_retention(
    run: Run, conn: psycopg.Connection, settings: Settings, report: CutoverReport
) -> None:
    """Purge the schemas of versions beyond ``settings.retention``, recording it in ``report``.

    A failure here does not undo the cutover: it is reported and the version kept.
    """
    stable = settings.stable_schema
    history = deployments.history(conn, stable)
    active = next((d for d in history if d.status == "active"), None)
    if active is None:
        return
    previous = deployments.previous_version(history, active.version)
    candidates = [d for d in history if d.status in ("retired", "rolled_back")]
    over = candidates[settings.retention - 1 :]
    if not over:
        return
    try:
        with run.stage("retention", f"keep {settings.retention} versions of {stable}") as summary:
            for dep in over:
                reason = _keep_reason(conn, dep, previous)
                if reason:
                    report.kept[dep.version] = reason
                else:
                    _purge(run, conn, settings, dep)
                    report.purged.append(dep.version)
            summary.update(purged=len(report.purged), kept=len(report.kept))
    except (psycopg.Error, EngineError) as exc:
        report.purge_error = one_line(exc)


def _keep_reason(
    conn: psycopg.Connection, dep: Deployment, previous: Deployment | None
) -> str | None:
    if previous is not None and dep.version == previous.version and not _has_dump(dep):
        return "it is the rollback target and no pg_dump of it exists"
    dependents = _outside_dependents(conn, dep.schema_name)
    if dependents:
        return f"{dependents[0]} depends on it"
    return None


def _purge(run: Run, conn: psycopg.Connection, settings: Settings, dep: Deployment) -> None:
    stable = settings.stable_schema
    drop = metadata.drop_schema_statement(dep.schema_name)

    def body() -> list:
        conn.execute(drop)
        deployments.mark(conn, stable, dep.version, "purged")
        deployments.audit(
            conn,
            stable,
            "purge",
            dep.version,
            None,
            settings.operator,
            run.run_id,
            f"dump {dep.backup_path}" if dep.backup_path else "no dump",
        )
        return [drop]

    for text in switch.in_transaction(conn, stable, f"purge of {dep.schema_name}", body):
        run.emit(ev.SqlExecuted(stage="retention", statement=text))


def _has_dump(dep: Deployment) -> bool:
    return bool(dep.backup_path and Path(dep.backup_path).is_file())


def _outside_dependents(conn: psycopg.Connection, schema: str) -> list[str]:
    """Views in other schemas that select from tables of ``schema`` (DROP would take them)."""
    rows = conn.execute(
        "SELECT DISTINCT vn.nspname || '.' || v.relname FROM pg_depend d"
        " JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid"
        " JOIN pg_class v ON v.oid = r.ev_class"
        " JOIN pg_namespace vn ON vn.oid = v.relnamespace"
        " JOIN pg_class t ON d.refclassid = 'pg_class'::regclass AND t.oid = d.refobjid"
        " JOIN pg_namespace tn ON tn.oid = t.relnamespace"
        " WHERE tn.nspname = %s AND vn.nspname <> %s ORDER BY 1",
        (schema, schema),
    ).fetchall()
    return [r[0] for r in rows]


def _loaded(conn: psycopg.Connection, stable: str, version: int) -> Deployment:
    dep = deployments.get(conn, stable, version)
    if dep is None:
        raise BadInput(f"no version {version} of {stable} in the deployment history")
    if dep.status != "loaded":
        raise BadInput(
            f"v{version} of {stable} is {dep.status}, not loaded: only a loaded"
            " version can be cut over (use rollback --to for an older one)"
        )
    return dep
