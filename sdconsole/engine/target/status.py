"""What the target looks like now: active version, views, history, runs, lock, leftovers.

Read-only: it creates nothing, so it can run against a target that was never
migrated, while another run holds the lock. :func:`interrupted_runs` is the
one place that finds the runs to resume or discard, for ``status``,
``resume`` and the console at start.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime import housekeeping
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.runtime.layout import PARTIAL, WORKING_COPY
from sdconsole.engine.runtime.run import list_runs, read_journal, read_record
from sdconsole.engine.target import deployments, embedded, lock, metadata, switch
from sdconsole.engine.target.deployments import Deployment, RunRow
from sdconsole.engine.target.dsn import connect
from sdconsole.engine.target.server import resolve_dsn
from sdconsole.settings import Settings

VALIDATION = "validation.json"  # a run's last validation report
LEFT_BEHIND = ("loading", "loaded", "failed")  # a version its run did not cut over
AFTER_THE_RUN = (housekeeping.STAGE, "metrics")  # stages of closing, not of the run
KILLED = "the process stopped (killed, or its machine went down)"


@dataclass(frozen=True)
class InterruptedRun:
    """A run that stopped before its end, with what it left; resume or discard it.

    ``run_dir`` is None for a version left by a run of another work dir,
    which can only be discarded here.
    """

    run_id: str
    stage: str  # where it stopped
    error: str  # why
    run_dir: Path | None
    version: Deployment | None = None  # the version it left, not cut over
    validated: bool = False  # ... and that version passed validation
    files: tuple[Path, ...] = ()  # half-written files, its working copy, unrecorded dumps
    schemas: tuple[str, ...] = ()  # canary schemas it left

    @property
    def left(self) -> list[str]:
        """What it left, for the operator."""
        found = []
        if self.version is not None:
            found.append(
                f"v{self.version.version} ({self.version.schema_name})"
                f" {self.version.status}" + (", validated" if self.validated else "")
            )
        found += [f"schema {name}" for name in self.schemas]
        for path in self.files:
            size = path.stat().st_size if path.exists() else 0
            found.append(f"{path} ({size / 2**20:,.1f} MB)")
        return found

    @property
    def next_step(self) -> str:
        """What resuming it does."""
        if self.run_dir is None:
            return "is not possible here: it ran in another work dir"
        version = self.version
        if version is not None and version.status == "loaded":
            return (
                f"cuts v{version.version} over"
                if self.validated
                else f"validates v{version.version} and cuts it over"
            )
        if version is not None:
            return f"loads v{version.version} again, validates it and cuts it over"
        if (self.run_dir / WORKING_COPY).exists():
            return "loads its cleaned copy into a new version, validates it and cuts it over"
        return "runs it again from where it stopped, through cutover"

    @property
    def summary(self) -> str:
        """'stopped in load (reason); it left ...' on one line."""
        left = self.left
        return f"stopped in {self.stage} ({self.error})" + (
            f"; it left {', '.join(left)}" if left else ""
        )

    @property
    def hint(self) -> str:
        discard = f"`sdconsole resume {self.run_id} --discard --yes` removes what it left"
        if self.run_dir is None:
            return f"it ran in another work dir: resume it there, or {discard}"
        return f"`sdconsole resume {self.run_id} --yes` {self.next_step}; {discard}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "stage": self.stage,
            "error": self.error,
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "version": self.version.to_dict() if self.version else None,
            "validated": self.validated,
            "left": self.left,
            "next_step": self.next_step,
        }


def interrupted_runs(
    settings: Settings, conn: psycopg.Connection | None = None
) -> list[InterruptedRun]:
    """Runs to resume or discard, newest first.

    A run of this work dir counts when it stopped before its end (killed: its
    record has no outcome; interrupted; a stage failed) or left a version it
    did not cut over; so does a version a run of another work dir left
    loading, loaded or failed. The run another process holds the lock for is
    running, not interrupted (this process's own run is reported as any other:
    resume finds it so). Without ``conn`` the target is asked if it can be
    reached.
    """
    if conn is not None:
        return _interrupted(settings, conn)
    try:
        with connect(resolve_dsn(settings), autocommit=True) as opened:
            return _interrupted(settings, opened)
    except BadInput:  # unreachable: what the work dir tells
        return _interrupted(settings, None)


def _interrupted(settings: Settings, conn: psycopg.Connection | None) -> list[InterruptedRun]:
    stable = settings.stable_schema
    history = deployments.history(conn, stable) if conn is not None else []
    left: dict[str, Deployment] = {}
    for dep in history:  # newest first: a run's newest version
        if dep.status in LEFT_BEHIND:
            left.setdefault(dep.run_id, dep)
    cut_over = {d.run_id for d in history if d.status not in (*LEFT_BEHIND, "discarded")}
    running = (lock.holder_record(settings, conn) or {}).get("run_id")
    recorded = {Path(d.backup_path) for d in history if d.backup_path}
    canaries = _canary_schemas(conn, stable) if conn is not None and running is None else ()
    found = []
    for run_dir in list_runs(settings.workdir):
        record = read_record(run_dir)
        if not record or run_dir.name in (running, *cut_over):  # running, or done its switch
            continue
        version = left.pop(run_dir.name, None)
        if not (version or record.get("outcome") is None or record.get("resumable")):
            continue
        journal = read_journal(run_dir)
        stage, error, in_canary = _where_it_stopped(journal)
        if record.get("outcome") is None:  # it never said how it ended
            error = KILLED
        else:  # as the run said, else as its version or its journal says
            error = (
                record.get("error")
                or (version.error if version is not None else None)
                or error
                or "it stopped"
            )
        files = [p for p in housekeeping.half_written(settings.workdir) if p.parent == run_dir]
        files += _dumps_of(journal, recorded)
        if (run_dir / WORKING_COPY).exists():
            files.append(run_dir / WORKING_COPY)
        found.append(
            InterruptedRun(
                run_dir.name,
                stage,
                error,
                run_dir,
                version,
                version is not None and _validated(run_dir, version),
                tuple(files),
                canaries if in_canary else (),
            )
        )
    for run_id, version in left.items():
        if run_id != running:
            found.append(
                InterruptedRun(
                    run_id,
                    "cutover" if version.status == "loaded" else "load",
                    version.error or "its run stopped",
                    None,
                    version,
                )
            )
    return sorted(found, key=lambda r: r.run_id, reverse=True)


def _where_it_stopped(journal: list[ev.Event]) -> tuple[str, str | None, bool]:
    """The stage a run was in when it stopped (those left open, when it was killed), the
    last error its journal gives, and whether the canary was left open."""
    open_stages: dict[str, ev.Event] = {}
    error = None
    last = "its start"
    for event in journal:
        if event.stage in AFTER_THE_RUN:
            continue
        if isinstance(event, ev.StageStarted):
            open_stages[event.stage] = event
            last = event.stage
        elif isinstance(event, (ev.StageFinished, ev.StageFailed)):
            open_stages.pop(event.stage, None)
            if isinstance(event, ev.StageFailed):
                error = event.error
    if open_stages:
        return " and ".join(open_stages), error, "canary" in open_stages
    return last, error, False


def _dumps_of(journal: list[ev.Event], recorded: set[Path]) -> list[Path]:
    """Dumps the run wrote, or was writing, that no version records as its backup."""
    found = []
    for event in journal:
        if isinstance(event, ev.StageStarted) and event.stage == "backup":
            path = Path(event.detail.rpartition(" -> ")[2])
            found += [
                p
                for p in (path, path.with_name(path.name + PARTIAL))
                if p.exists() and p not in recorded
            ]
    return found


def _validated(run_dir: Path, version: Deployment) -> bool:
    """The run's last validation passed, of this version as it is loaded now."""
    try:
        report = json.loads((run_dir / VALIDATION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        version.status == "loaded"
        and report.get("ok") is True
        and report.get("schema") == version.schema_name
    )


def _canary_schemas(conn: psycopg.Connection, stable: str) -> tuple[str, ...]:
    """The canary's schemas (named as canary.py names them) that exist now."""
    names = (f"{stable}_canary", f"{stable}_canary_source")
    return tuple(name for name in names if metadata.schema_exists(conn, name))


@dataclass
class StatusReport:
    stable: str
    target: str  # shown without a password
    active: Deployment | None
    views: dict[str, str]  # view in <stable> -> versioned schema it reads
    deployments: list[Deployment]  # newest first
    runs: list[RunRow]  # newest first
    interrupted: list[Deployment]
    audit: list[dict[str, Any]]
    rollback_target: int | None
    lock_holder: str | None
    unfinished: list[InterruptedRun] = dataclasses.field(default_factory=list)
    target_data: str | None = None  # the embedded server's data dir, when it is the target
    embedded_leftovers: list[Path] = dataclasses.field(default_factory=list)

    @property
    def views_consistent(self) -> bool:
        """Every view reads the active version (and there are views iff one is active)."""
        if self.active is None:
            return not self.views
        return bool(self.views) and set(self.views.values()) == {self.active.schema_name}

    def to_dict(self) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "target": self.target,
            "active": self.active.to_dict() if self.active else None,
            "views": self.views,
            "views_consistent": self.views_consistent,
            "rollback_target": self.rollback_target,
            "lock_holder": self.lock_holder,
            "interrupted": [d.to_dict() for d in self.interrupted],
            "unfinished": [r.to_dict() for r in self.unfinished],
            "deployments": [d.to_dict() for d in self.deployments],
            "runs": [r.to_dict() for r in self.runs],
            "audit": self.audit,
            "target_data": self.target_data,
            "embedded_leftovers": [str(p) for p in self.embedded_leftovers],
        }


def status(
    conn: psycopg.Connection, settings: Settings, *, runs: int = 10, audit: int = 20
) -> StatusReport:
    stable = settings.stable_schema
    history = deployments.history(conn, stable)
    active = next((d for d in history if d.status == "active"), None)
    previous = deployments.previous_version(history, active.version) if active else None
    return StatusReport(
        stable=stable,
        target=settings.dsn_for_display,
        active=active,
        views=switch.current_views(conn, stable),
        deployments=history,
        runs=deployments.last_runs(conn, stable, runs),
        interrupted=deployments.interrupted(conn, stable),
        audit=deployments.audit_log(conn, stable, audit),
        rollback_target=previous.version if previous else None,
        lock_holder=lock.holder(settings, conn),
        unfinished=interrupted_runs(settings, conn),
        target_data=(
            str(embedded.data_dir(settings.workdir).resolve())
            if settings.target_dsn is None
            else None
        ),
        embedded_leftovers=embedded.leftovers(),
    )
