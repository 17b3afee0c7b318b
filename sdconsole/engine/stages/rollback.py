"""One-step rollback, from the metadata alone, so it works long after the run ended.

Before cutover, rolling back means discarding the in-progress version (its
schema dropped, the active version untouched). After cutover it means one
transaction switching the views back to the previous version (the newest
retired one below the active, or ``to_version``, which may also be newer: a
roll forward). A target whose schema was purged is first restored from its
pg_dump.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput, Interrupted, StageError
from sdconsole.engine.runtime.run import Listener, Run, one_line
from sdconsole.engine.target import deployments, lock, metadata, switch
from sdconsole.engine.target.backup import restore_version
from sdconsole.engine.target.deployments import IN_PROGRESS, SWITCHABLE, Deployment
from sdconsole.engine.target.dsn import connect
from sdconsole.engine.target.server import resolve_dsn
from sdconsole.settings import Settings


@dataclass
class RollbackPlan:
    """What a rollback will do: discard in-progress versions, or switch from -> to."""

    stable: str
    action: str  # "discard" or "switch"
    from_version: int | None
    to_version: int | None
    to_schema: str | None
    discard: list[int]
    restore_from: str | None  # pg_dump to restore the target from first
    statements: list[str]

    @property
    def summary(self) -> str:
        if self.action == "discard":
            names = ", ".join(f"v{v}" for v in self.discard)
            keep = f"v{self.from_version}" if self.from_version else "nothing"
            return f"discard {names} of {self.stable} (not cut over); active stays {keep}"
        restore = f" (restored first from {self.restore_from})" if self.restore_from else ""
        return f"switch {self.stable} from v{self.from_version} to v{self.to_version}{restore}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary}


@dataclass
class RollbackReport:
    stable: str
    action: str
    from_version: int | None
    to_version: int | None
    discarded: list[int] = field(default_factory=list)
    restored_from: str | None = None
    statements: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_rollback(
    conn: psycopg.Connection, stable: str, to_version: int | None = None
) -> RollbackPlan:
    """Decide what rollback does now; BadInput when there is nothing to roll back to."""
    history = deployments.history(conn, stable)
    active = next((d for d in history if d.status == "active"), None)
    if to_version is None:
        pending = [
            d
            for d in history
            if d.status in IN_PROGRESS and (active is None or d.version > active.version)
        ]
        if pending:
            drops = [metadata.drop_schema_statement(d.schema_name) for d in pending]
            return RollbackPlan(
                stable,
                "discard",
                active.version if active else None,
                None,
                None,
                [d.version for d in pending],
                None,
                [s.as_string(conn) for s in drops],
            )
    if active is None:
        raise BadInput(f"nothing to roll back: {stable} has no active version")
    target = _switch_target(history, active, to_version)
    restore_from = None
    if metadata.schema_exists(conn, target.schema_name):
        statements = [
            s.as_string(conn) for s in switch.statements(conn, stable, target.schema_name)
        ]
    else:
        if not target.backup_path or not Path(target.backup_path).is_file():
            raise BadInput(
                f"v{target.version} of {stable} was purged and no pg_dump of it"
                f" exists ({target.backup_path or 'none recorded'})"
            )
        restore_from = target.backup_path
        statements = [
            f"pg_restore --single-transaction --exit-on-error {restore_from}",
            f"-- then one view per table of {target.schema_name}, as at cutover",
        ]
    return RollbackPlan(
        stable,
        "switch",
        active.version,
        target.version,
        target.schema_name,
        [],
        restore_from,
        statements,
    )


def run_rollback(
    settings: Settings, to_version: int | None = None, listeners: Sequence[Listener] = ()
) -> RollbackReport:
    """Rollback as an operation of its own: journalled run, run lock, recorded in sdconsole.runs.

    What ``sdconsole rollback --yes`` and the console's rollback key do, in a
    process that may have nothing but the settings.
    """
    dsn = resolve_dsn(settings)
    try:
        with (
            Run.for_settings(settings, listeners=list(listeners)) as run,
            lock.acquire(dsn, settings, run.run_id, run=run),
            connect(dsn, autocommit=True) as conn,
        ):
            deployments.record_run_start(
                conn, settings.stable_schema, run.run_id, "rollback", None, settings.operator
            )
            try:
                report = rollback(run, conn, dsn, settings, to_version)
            except BaseException as exc:
                outcome = (
                    "interrupted" if isinstance(exc, (Interrupted, KeyboardInterrupt)) else "failed"
                )
                with contextlib.suppress(psycopg.Error):
                    deployments.record_run_end(conn, run.run_id, outcome, one_line(exc))
                raise
            deployments.record_run_end(conn, run.run_id, "succeeded")
            return report
    except psycopg.Error as exc:  # a dropped connection, wherever it shows: one line, exit 9
        raise StageError(
            f"rollback of {settings.stable_schema} stopped: the target failed"
            f" ({one_line(exc)}); `sdconsole status` shows which version"
            " dashboards read"
        ) from None


def rollback(
    run: Run, conn: psycopg.Connection, dsn: str, settings: Settings, to_version: int | None = None
) -> RollbackReport:
    """Do what :func:`plan_rollback` says, in one transaction per step."""
    stable = settings.stable_schema
    plan = plan_rollback(conn, stable, to_version)
    report = RollbackReport(stable, plan.action, plan.from_version, plan.to_version)
    if plan.action == "discard":
        started = time.monotonic()
        for version in plan.discard:
            report.statements += discard(run, conn, stable, version, settings.operator)
            report.discarded.append(version)
        report.seconds = round(time.monotonic() - started, 3)
    else:
        old, new, schema = plan.from_version, plan.to_version, plan.to_schema
        assert old is not None and new is not None and schema is not None  # a switch sets all
        with run.stage("rollback", plan.summary) as summary:
            if plan.restore_from:
                _restore(run, conn, dsn, settings, new, schema, plan.restore_from)
                report.restored_from = plan.restore_from
            report.statements = _switch(run, conn, settings, old, new, schema)
            summary.update(from_version=old, to_version=new)
        report.seconds = summary.seconds  # the time its log line gives
    return report


def discard(
    run: Run, conn: psycopg.Connection, stable: str, version: int, operator: str | None = None
) -> list[str]:
    """Drop a version that was never cut over and mark it discarded; the active stays."""
    dep = deployments.get(conn, stable, version)
    if dep is None:
        raise BadInput(f"no version {version} of {stable} in the deployment history")
    drop = metadata.drop_schema_statement(dep.schema_name)

    def body() -> list[sql.Composed]:
        current = deployments.get(conn, stable, version)
        if current is None:
            raise BadInput(
                f"discard of v{version} of {stable} stopped: the deployments changed"
                " meanwhile; look at `sdconsole status`"
            )
        if current.status not in IN_PROGRESS:
            raise BadInput(
                f"v{version} of {stable} is {current.status}: only a version not"
                " cut over yet can be discarded"
            )
        conn.execute(drop)
        deployments.mark(conn, stable, version, "discarded")
        deployments.audit(
            conn,
            stable,
            "discard",
            version,
            None,
            operator or dep.operator,
            run.run_id,
            f"was {current.status}",
        )
        return [drop]

    with run.stage("discard", f"{dep.schema_name} ({dep.status})") as summary:
        executed = switch.in_transaction(conn, stable, f"discard of v{version} of {stable}", body)
        for text in executed:
            run.emit(ev.SqlExecuted(stage="discard", statement=text))
        summary.update(version=version)
    return executed


def _switch_target(
    history: list[Deployment], active: Deployment, to_version: int | None
) -> Deployment:
    if to_version is None:
        target = deployments.previous_version(history, active.version)
        if target is None:
            raise BadInput(
                f"nothing to roll back to: no retired version of {active.stable}"
                f" older than the active v{active.version}"
            )
        return target
    target = next((d for d in history if d.version == to_version), None)
    if target is None:
        raise BadInput(f"no version {to_version} of {active.stable} in the deployment history")
    if target.status == "active":
        raise BadInput(f"v{to_version} of {active.stable} is already active")
    if target.status not in SWITCHABLE:
        raise BadInput(
            f"v{to_version} of {active.stable} is {target.status}: only a retired,"
            " rolled back or purged version can be switched to"
        )
    return target


def _restore(
    run: Run,
    conn: psycopg.Connection,
    dsn: str,
    settings: Settings,
    version: int,
    schema: str,
    dump: str,
) -> None:
    """Recreate the purged target schema from its dump; it is then 'retired' again."""
    stable = settings.stable_schema
    with run.stage("restore", f"{schema} from {dump}"):
        restore_version(settings, dsn, Path(dump))
        with conn.transaction():
            deployments.mark(conn, stable, version, "retired")
            deployments.audit(
                conn,
                stable,
                "restore",
                None,
                version,
                settings.operator,
                run.run_id,
                f"from {dump}",
            )


def _switch(
    run: Run, conn: psycopg.Connection, settings: Settings, old: int, new: int, schema: str
) -> list[str]:
    stable = settings.stable_schema
    action = "rollback" if new < old else "rollforward"

    def body() -> list[sql.Composed]:
        active = deployments.active(conn, stable)
        target = deployments.get(conn, stable, new)
        if (
            active is None
            or active.version != old
            or target is None
            or target.status not in SWITCHABLE
        ):
            raise BadInput(
                f"{action} of {stable} stopped: the deployments changed meanwhile;"
                " look at `sdconsole status`"
            )
        statements = switch.statements(conn, stable, schema)
        switch.execute(conn, statements)
        deployments.mark(conn, stable, old, "rolled_back" if new < old else "retired")
        deployments.mark(conn, stable, new, "active")
        deployments.audit(conn, stable, action, old, new, settings.operator, run.run_id)
        return statements

    executed = switch.in_transaction(conn, stable, f"{action} of {stable} to v{new}", body)
    for text in executed:
        run.emit(ev.SqlExecuted(stage="rollback", statement=text))
    return executed
