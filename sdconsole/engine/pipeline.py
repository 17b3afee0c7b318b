"""The guided migration: the one engine API the console and the command line call.

A :class:`Migration` walks one source through preflight, profile, the quality
gate, clean, canary, load, validate and cutover. Each step blocks, reports
through events, and raises an :class:`~sdconsole.engine.runtime.errors.EngineError`
with one line when it cannot go on. Steps check their prerequisites, so no
caller can load what was not cleaned or cut over what did not validate. The
gates are explicit: the engine stops and the caller (operator or ``--yes``)
decides.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from sdconsole.engine.records.plan import Plan
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime import housekeeping, logs, metrics, processes
from sdconsole.engine.runtime.errors import (
    ApprovalNeeded,
    BadInput,
    CanaryFailed,
    EngineError,
    GateRefused,
    Interrupted,
    LockHeld,
    PreflightFailed,
    StageError,
    ValidationFailed,
)
from sdconsole.engine.runtime.run import (
    Listener,
    Run,
    one_line,
    read_journal,
    read_record,
    update_record,
    write_json,
)
from sdconsole.engine.stages import (
    canary,
    cleaner,
    cutover,
    loader,
    preflight,
    profiler,
    quality,
    validate,
)
from sdconsole.engine.stages import rollback as rollbacks
from sdconsole.engine.target import (
    backup,
    deployments,
    lock,
    metadata,
    queries,
    schema,
    shape_change,
)
from sdconsole.engine.target import server as target
from sdconsole.engine.target import status as status_mod
from sdconsole.engine.target.dsn import connect
from sdconsole.settings import Settings

MODES = ("simple", "canary", "blue-green", "complete")
LOAD_REPORT = "load.json"  # the load's report, once its version is loaded


def _target_errors(step: Callable[..., Any]) -> Callable[..., Any]:
    """A database error in ``step`` its stage did not word (the run's own records, a
    dropped connection) is a StageError, in one line, not an internal error."""
    @functools.wraps(step)
    def wrapped(self: Migration, *args: Any, **kwargs: Any) -> Any:
        try:
            return step(self, *args, **kwargs)
        except psycopg.Error as exc:
            lost = self._conn is not None and self._conn.broken
            raise StageError(f"{step.__name__} failed: " + (
                "the connection to the target was lost" if lost else one_line(exc))) from None
    return wrapped


class Migration:
    """One migration of ``source`` into the target; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        source: Path,
        *,
        listeners: list[Listener] | tuple[Listener, ...] = (),
        mode: str = "complete",
        run_id: str | None = None,
        log_to_stderr: bool = False,
        allow_shape_change: bool = False,
    ) -> None:
        if mode not in MODES:
            raise BadInput(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        self.settings = settings
        self.source = Path(source)
        self.mode = mode
        # Removing or retyping what the active version has needs this (the console's
        # cutover confirmation shows the change and counts as it).
        self.allow_shape_change = allow_shape_change
        self.run = Run.for_settings(settings, run_id=run_id, listeners=list(listeners))
        self._log = logs.JsonRunLog(self.run.dir, to_stderr=log_to_stderr,
                                    dsn=settings.target_dsn)
        self._stage_seconds: dict[str, float] = {}
        self.run.listeners[:0] = [self._log, self._time_stage]
        self.stable = settings.stable_schema
        self.preflight_report: Any = None
        self.profile_result: Any = None
        self.plan: Plan | None = None
        self.gate_decision: Any = None
        self.gate_refused = False
        self.clean_report: Any = None
        self.canary_report: Any = None
        self.load_report: Any = None
        self.validation: Any = None
        self.cutover_report: Any = None
        self._dumped: tuple[int, Path] | None = None  # a backup taken beside load
        self._source_figures: Future | None = None  # validation's source side, computed early
        self.version: int | None = None
        self.version_schema: str | None = None
        self.override_reason: str | None = None  # the quality gate's, when it was overridden
        self.outcome = "stopped"
        self._dsn: str | None = None
        self._conn: psycopg.Connection | None = None
        self._lock: lock.RunLock | None = None
        self._run_recorded = False

    # -- connection, lock and bookkeeping ---------------------------------------

    @property
    def dsn(self) -> str:
        if self._dsn is None:
            self._dsn = target.resolve_dsn(self.settings)
        return self._dsn

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.dsn, autocommit=True)
            metadata.ensure(self._conn)
        return self._conn

    def hold_lock(self) -> None:
        """Take the one-mutating-run lock for the rest of this migration (from its first step)
        and record the run: in ``sdconsole.runs``, and in its run dir what resuming it needs.

        Raises LockHeld at once, naming the holder, when another run has it. Every step that
        changes something begins here, so it is also where a cancel stops the run before the
        next such step (and a health floor crossed).
        """
        self.run.check()
        self._take_lock()
        if not self._run_recorded:
            deployments.record_run_start(self.conn, self.stable, self.run.run_id, self.mode,
                                         str(self.source), self.settings.operator)
            update_record(self.run.dir, source=str(self.source), mode=self.mode,
                          allow_shape_change=self.allow_shape_change, outcome=None,
                          error=None, resumable=None)
            self._run_recorded = True

    def _take_lock(self) -> None:
        if self._lock is None:
            self._lock = lock.acquire(self.dsn, self.settings, self.run.run_id, run=self.run)
        else:
            self._lock.check()

    def _time_stage(self, event: ev.Event) -> None:
        if isinstance(event, (ev.StageFinished, ev.StageFailed)):
            self._stage_seconds[event.stage] = event.seconds

    def _require(self, condition: bool, message: str) -> None:
        if not condition:
            raise BadInput(message)

    # -- steps -----------------------------------------------------------------

    @_target_errors
    def preflight(self) -> Any:
        """The checks, with the run lock taken first: a migration may change the target.

        A target or work dir that cannot be used is left to preflight's own
        checks to report, with their fixes.
        """
        with contextlib.suppress(BadInput):
            self.hold_lock()
        self.preflight_report = preflight.preflight(self.run, self.settings, self.source)
        return self.preflight_report

    def require_preflight(self) -> None:
        """Raise unless preflight passed: LockHeld for a held lock, else PreflightFailed."""
        if self.preflight_report is None:
            self.preflight()
        failed = [c for c in self.preflight_report.checks if c.status == "fail"]
        if [c.name for c in failed] == ["lock"]:
            raise LockHeld(failed[0].reason)
        if failed:
            reasons = "; ".join(f"{c.name}: {c.reason}" for c in failed)
            raise PreflightFailed(f"preflight failed: {reasons}")

    def profile(self) -> Any:
        self.profile_result = profiler.profile(self.run, self.settings, self.source)
        self.plan = self.profile_result.plan
        return self.profile_result

    def set_column(self, table: str, column: str, *, type: str | None = None,
                   date_order: str | None = None) -> None:
        """Operator override of one column's type or date order, before cleaning."""
        self._require(self.plan is not None, "profile the source before changing a column")
        self._require(self.clean_report is None, "the working copy is already cleaned")
        key = f"{table}.{column}"
        unmatched = self.plan.apply_overrides(
            {key: type} if type else {}, {key: date_order} if date_order else {})
        if unmatched:
            raise BadInput(f"no column {key!r} in the source")
        self.plan.save(self.run.dir / "plan.json")

    def gate(self, override_reason: str | None = None) -> Any:
        self._require(self.profile_result is not None, "profile the source before the gate")
        if override_reason:
            self.override_reason = override_reason
            update_record(self.run.dir, override_reason=override_reason)
        decision = quality.gate(self.profile_result.score, self.settings, override_reason)
        self.run.emit(ev.GateReached(stage="gate", gate="quality", passed=decision.passed,
                                     summary=decision.reason))
        if not decision.passed:
            self.gate_refused = True
            raise GateRefused(decision.reason)
        self.gate_decision = decision
        return decision

    def preview(self) -> Any:
        self._require(self.plan is not None, "profile the source before previewing the clean")
        return cleaner.clean(self.run, self.settings, self.source, self.plan, dry_run=True)

    @_target_errors
    def clean(self) -> Any:
        self.require_preflight()
        self.hold_lock()
        self._require(self.gate_decision is not None, "pass the quality gate before cleaning")
        self.clean_report = cleaner.clean(self.run, self.settings, self.source, self.plan,
                                          dry_run=False)
        self._source_figures = validate.start_source_figures(
            self.source, self.plan, self.settings.null_tokens)
        return self.clean_report

    @property
    def working_copy(self) -> Path:
        self._require(self.clean_report is not None, "clean the source first")
        return Path(self.clean_report.working_copy)

    @_target_errors
    def canary(self) -> Any:
        working = self.working_copy
        self.hold_lock()
        self.canary_report = canary.canary(
            self.run, self.conn, self.source, working, self.plan, self.stable,
            self.settings.canary_fraction, queries.load_queries(),
            null_tokens=frozenset(self.settings.null_tokens))
        return self.canary_report

    @_target_errors
    def load(self) -> Any:
        """Load the cleaned copy into a new version (or the one a resumed run left unfinished);
        a resumed run's version that loaded completely stays as it is."""
        if self.load_report is not None:
            return self.load_report
        working = self.working_copy
        self.hold_lock()
        shape_change.require_allowed(  # before loading anything it would not cut over to
            shape_change.against_active(self.conn, self.stable,
                                        shape_change.plan_shape(self.plan)),
            self.allow_shape_change)
        if self.version is None:
            self.version, self.version_schema = deployments.begin(
                self.conn, self.stable, self.run.run_id, str(self.source),
                self.clean_report.sha256_before, self.settings.operator,
                self.profile_result.score.total if self.profile_result else None)
        try:
            metadata.drop_schema(self.conn, self.version_schema)
            for statement in schema.create_version_schema(self.conn, self.version_schema,
                                                          self.plan):
                self.run.emit(ev.SqlExecuted(stage="load",
                                             statement=_as_text(statement, self.conn)))
            self.load_report = loader.load(self.run, self.conn, working, self.plan,
                                           self.version_schema)
        except BaseException as exc:
            self._mark_failed(exc)
            raise
        self.load_report.version, self.load_report.schema = self.version, self.version_schema
        write_json(self.run.dir / LOAD_REPORT, dataclasses.asdict(self.load_report))
        deployments.mark(self.conn, self.stable, self.version, "loaded",
                         row_counts={t: v["rows"] for t, v in self.load_report.tables.items()})
        return self.load_report

    def _mark_failed(self, exc: BaseException) -> None:
        """Record the partial version as failed; a dropped connection needs a new one."""
        with contextlib.suppress(Exception):
            if self._conn is not None and self._conn.broken:
                self._conn = None
            deployments.mark(self.conn, self.stable, self.version, "failed",
                             error=one_line(exc))

    @_target_errors
    def validate(self) -> Any:
        self._require(self.load_report is not None, "load the version before validating it")
        self.hold_lock()
        self.validation = validate.validate(
            self.run, self.conn, self.source, self.plan, self.version_schema,
            self.settings.null_tokens, self._source_figures, self.clean_report.sha256_before)
        write_json(self.run.dir / status_mod.VALIDATION, self.validation.to_dict())
        if not self.validation.ok:
            with contextlib.suppress(Exception):
                deployments.mark(self.conn, self.stable, self.version, "failed",
                                 error=self.validation.summary)
        return self.validation

    def load_validate_and_back_up(self) -> Any:
        """Load and validate the new version while pg_dump backs up the one it will replace.

        The dump reads only the active version, which this run's lock keeps as
        it is, and pg_dump has its own connection; so it runs beside load and
        validation instead of after them, at a lower priority (nice 10): it
        takes the CPU they leave, at the end of the load most of all. Cutover
        then uses this dump. A dump whose version did not load or validate is
        deleted. A resumed run that took its dump already uses that one.
        """
        previous = deployments.active(self.conn, self.stable) if self.mode != "simple" else None
        if previous is None or (self._dumped or (None,))[0] == previous.version:
            self.load()
            return self.validate()
        with ThreadPoolExecutor(1, thread_name_prefix="sdconsole-backup") as pool:
            dump = pool.submit(backup.dump_version, self.run, self.settings, self.dsn,
                               previous.schema_name, previous.version,
                               nice=processes.BACKGROUND_NICE)
            try:
                self.load()
                validation = self.validate()
            except BaseException:
                self._abandon(dump)
                raise
            if not validation.ok:
                self._abandon(dump)
                return validation
            self._dumped = (previous.version, dump.result())
        return validation

    def _abandon(self, dump: Future) -> None:
        """Stop a dump no longer wanted (the run ends here) and delete its file."""
        self.run.cancel_requested.set()  # pg_dump is stopped at its next check
        with contextlib.suppress(BaseException):
            dump.result().unlink(missing_ok=True)

    @_target_errors
    def plan_cutover(self) -> Any:
        self._require(self.validation is not None and self.validation.ok,
                      "the loaded version must validate before cutover")
        return cutover.plan_cutover(self.conn, self.stable, self.version,
                                    backup=self.mode != "simple")

    @_target_errors
    def cutover(self) -> Any:
        if self.validation is None or not self.validation.ok:
            raise ValidationFailed("cutover refused: the loaded version did not validate")
        self.hold_lock()
        self.cutover_report = cutover.cutover(
            self.run, self.conn, self.dsn, self.settings, self.version,
            backup=self.mode != "simple", dumped=self._dumped,
            allow_shape_change=self.allow_shape_change)
        self.outcome = "succeeded"
        return self.cutover_report

    @_target_errors
    def discard(self) -> None:
        """Before cutover: drop the in-progress version, leave the active one untouched (also
        after a cancel: it goes back, not on)."""
        self._require(self.version is not None, "nothing loaded to discard")
        self._take_lock()
        rollbacks.discard(self.run, self.conn, self.stable, self.version)
        self.outcome = "discarded"

    def cancel(self) -> None:
        """Ask the running step to stop at its next safe point; thread-safe."""
        self.run.cancel_requested.set()
        conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):
                conn.cancel()

    def close(self, error: BaseException | None = None) -> None:
        """Record how the run ended, write its metrics, release the lock and connection."""
        if error is not None:
            self.outcome = "interrupted" if _interrupted(error) else "failed"
        if self._run_recorded:  # a run that never took the lock changed nothing
            self._record_end(error)
        if self._lock is not None:
            with contextlib.suppress(Exception):
                self._lock.release()
            self._lock = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._log.close()
        self.run.close()

    def _record_end(self, error: BaseException | None) -> None:
        """The run's end in ``sdconsole.runs``, its run dir (may it be resumed?) and metrics;
        after a success, old working copies go."""
        override = (self.gate_decision.reason if self.gate_decision is not None
                    and self.gate_decision.overridden else None)
        with contextlib.suppress(Exception):
            deployments.record_run_end(
                self.conn, self.run.run_id, self.outcome,
                one_line(error) if error else None, override,
                self.profile_result.score.total if self.profile_result else None)
        with contextlib.suppress(OSError):  # unrecorded, it counts as killed: resumable
            update_record(self.run.dir, outcome=self.outcome,
                          error=one_line(error) if error else None,
                          resumable=error is not None and _resumable(error))
        try:
            metrics.write_run_metrics(self.settings.workdir, self._metrics_report())
        except Exception as exc:  # the run stands; the operator is told its metrics are missing
            self.run.emit(ev.StageFailed(stage="metrics",
                                         error=f"metrics not written: {one_line(exc)}"))
        if self.outcome == "succeeded":
            with contextlib.suppress(Exception):  # reported as a failed stage; the run stands
                unfinished = {r.run_dir for r in interrupted_runs(self.settings, self.conn)}
                housekeeping.prune_working_copies(self.run, self.settings.working_copies,
                                                  resumable=unfinished.__contains__)

    def _metrics_report(self) -> dict[str, Any]:
        """The run's figures in the shape metrics.write_run_metrics documents."""
        report: dict[str, Any] = {
            "stable": self.stable, "run_id": self.run.run_id, "mode": self.mode,
            "outcome": self.outcome, "finished_ts": time.time(),
            "stage_seconds": dict(self._stage_seconds)}
        if self.profile_result is not None:
            score = self.profile_result.score
            report["quality_score"] = score.total
            report["quality_dimensions"] = {k: d.score for k, d in score.dimensions.items()}
        if self.gate_decision is not None:
            report["gate"] = "overridden" if self.gate_decision.overridden else "passed"
        elif self.gate_refused:
            report["gate"] = "refused"
        if self.load_report is not None:
            report["rows_loaded"] = {t: v["rows"] for t, v in self.load_report.tables.items()}
            report["rejects"] = {t: v["rejects"] for t, v in self.load_report.tables.items()}
        if self.validation is not None:
            report["validation_mismatches"] = self.validation.mismatches
        if self._conn is not None and not self._conn.closed:
            report.update(metrics.metrics_from_metadata(self._conn, self.stable))
        return report

    def __enter__(self) -> Migration:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(exc)


def _interrupted(error: BaseException) -> bool:
    return isinstance(error, (Interrupted, KeyboardInterrupt))


def _resumable(error: BaseException) -> bool:
    """A run that ended with ``error`` can go on from where it stopped: it was interrupted,
    a stage failed (database, disk, a lock timeout) or a bug stopped it; not when it ended
    at a decision (bad input, preflight, a gate, validation, the lock, the canary)."""
    return not isinstance(error, EngineError) or isinstance(error, (StageError, Interrupted))


def _as_text(statement: Any, conn: psycopg.Connection) -> str:
    return statement.as_string(conn) if hasattr(statement, "as_string") else str(statement)


def drive(m: Migration, *, yes: bool, override_reason: str | None = None,
          wait: Callable[..., Any] | None = None) -> None:
    """Run the stages of ``m.mode`` in order; without ``yes``, stop at the first approval gate.

    What ``sdconsole migrate`` does; gates that fail raise their EngineError.
    Without ``yes`` the clean preview is journalled and the run stops there.
    With ``yes`` the apply journals the same per-rule counts and samples
    before its commit, so no separate preview pass is made. ``wait`` (a
    detached run's :meth:`~sdconsole.engine.detached.control.Control.wait`) makes a
    run without ``yes`` wait at each gate until a client decides instead:
    the quality gate (an override reason when it refused), the clean
    preview, the canary verdict and the cutover.
    """
    ask = None if yes else wait
    if m.profile_result is None:  # what a resumed run did stays done
        m.preflight()
        m.require_preflight()
        m.profile()
    if m.gate_decision is None:
        try:
            decision = m.gate(override_reason)
        except GateRefused as refused:
            if ask is None:
                raise
            m.gate(ask("quality", str(refused), refused=True).reason)
        else:
            if ask is not None:
                ask("quality", decision.reason)
    if m.clean_report is None:
        if not yes:
            preview = m.preview()
            changed = sum(r.changed for r in preview.rules)
            follows = f"cleaning would change {changed:,} cells, then {_what_follows(m.mode)}"
            if ask is None:
                raise ApprovalNeeded(f"stopped before changing anything: {follows}; re-run"
                                     " with --yes to go ahead")
            ask("clean", follows)
        m.clean()
    if m.mode in ("canary", "complete") and m.version is None:
        verdict = m.canary()
        if not verdict.ok:
            raise CanaryFailed(verdict.summary)  # "canary failed on K of N checks: ..."
        if m.mode == "canary":
            m.outcome = "succeeded"
            return
        if ask is not None:
            ask("canary", verdict.summary)
    load_and_cut_over(m, ask)


def load_and_cut_over(m: Migration, ask: Callable[..., Any] | None = None) -> None:
    """Load the version and validate it (backing up the active one meanwhile), cut over;
    with ``ask`` (see :func:`drive`), after the cutover gate.

    The end of :func:`drive`; a resumed run's version may be loaded, or validated, already.
    """
    if m.validation is None:
        validation = m.load_validate_and_back_up()
        if not validation.ok:
            raise ValidationFailed(f"validation failed: {validation.summary}")
    if ask is not None:
        plan = m.plan_cutover()
        change = (f"changes what dashboards read: {plan.shape.summary()}"
                  if plan.shape is not None and plan.shape.changed else "same tables and columns")
        ask("cutover", f"{plan.stable} to version {plan.to_version} ({plan.to_schema}), {change},"
                       f" {len(plan.statements)} statements in one transaction")
    m.cutover()


def _what_follows(mode: str) -> str:
    return {
        "canary": "load a canary sample and compare it with the source",
        "simple": "load a new version, validate it and cut dashboards over to it (no backup)",
        "blue-green": "load a new version, validate it, back up the active one and cut over",
        "complete": "run a canary, load a new version, validate it, back up the active one"
                    " and cut over",
    }[mode]


# -- operations outside a migration ---------------------------------------------


def plan_rollback(settings: Settings, to_version: int | None = None) -> Any:
    """What a rollback would do now: from and to versions and the statements."""
    with connect(target.resolve_dsn(settings), autocommit=True) as conn:
        metadata.ensure(conn)
        return rollbacks.plan_rollback(conn, settings.stable_schema, to_version)


rollback = rollbacks.run_rollback


def status(settings: Settings) -> Any:
    with connect(target.resolve_dsn(settings), autocommit=True) as conn:
        metadata.ensure(conn)
        return status_mod.status(conn, settings)


interrupted_runs = status_mod.interrupted_runs  # the one place that finds them


def pick_interrupted(settings: Settings, run_id: str | None = None,
                     conn: psycopg.Connection | None = None) -> status_mod.InterruptedRun:
    """The interrupted run ``run_id`` (default: the newest), or BadInput; LockHeld when none
    is found while another run holds the lock (it may be that very run, running)."""
    if conn is None:
        with connect(target.resolve_dsn(settings), autocommit=True) as opened:
            return pick_interrupted(settings, run_id, opened)
    found = next((r for r in interrupted_runs(settings, conn) if run_id in (None, r.run_id)),
                 None)
    if found is not None:
        return found
    held = lock.holder(settings, conn)
    if held:
        raise LockHeld(f"another run holds the lock on {settings.stable_schema}: {held}")
    if run_id is None:
        raise BadInput("no interrupted run to resume (sdconsole status lists the runs)")
    raise BadInput(f"run {run_id} is not an interrupted run (sdconsole status lists them)")


def resume(settings: Settings, run_id: str,
           listeners: list[Listener] | tuple[Listener, ...] = (), *,
           log_to_stderr: bool = False) -> Migration:
    """Reopen an interrupted run where it stopped, holding the run lock; :func:`drive` does
    the rest.

    What the run did durably stays done: its profile and plan, the quality
    gate it passed, its cleaned working copy, a version it loaded completely
    (kept, not loaded again), that version's validation, and a dump of the
    active version. Refused when another run cut over a version since this
    one started: its data would replace newer data in front of the dashboards.
    """
    found = pick_interrupted(settings, run_id)
    if found.run_dir is None:
        raise BadInput(f"run {found.run_id} ran in another work dir: only discarding it is"
                       f" possible here (sdconsole resume {found.run_id} --discard --yes)")
    record = read_record(found.run_dir)
    migration = Migration(settings, Path(record["source"]), listeners=listeners,
                          mode=record["mode"], run_id=found.run_id, log_to_stderr=log_to_stderr,
                          allow_shape_change=record["allow_shape_change"])
    try:
        migration._take_lock()
        found = pick_interrupted(settings, found.run_id, migration.conn)  # under the lock
        _refuse_if_superseded(migration.conn, settings.stable_schema, found)
    except BaseException:
        migration.close()  # nothing was recorded: the run stays as it was
        raise
    _reopen(migration, found, record)
    return migration


def _refuse_if_superseded(conn: psycopg.Connection, stable: str,
                          found: status_mod.InterruptedRun) -> None:
    active = deployments.active(conn, stable)
    if active is None or active.run_id == found.run_id or active.activated_at is None:
        return
    started = conn.execute("SELECT started_at FROM sdconsole.runs WHERE run_id = %s",
                           (found.run_id,)).fetchone()
    if started is not None and active.activated_at > started[0]:
        what = f"left v{found.version.version}" if found.version else "stopped"
        raise BadInput(f"run {found.run_id} {what}, but v{active.version} was cut over since:"
                       " resuming would put older data in front of the dashboards;"
                       f" discard it (sdconsole resume {found.run_id} --discard --yes)")


def _reopen(m: Migration, found: status_mod.InterruptedRun, record: dict[str, Any]) -> None:
    """Give ``m`` what its run did durably (see :func:`resume`)."""
    run_dir = found.run_dir
    m.override_reason = record.get("override_reason")
    if (run_dir / "plan.json").exists() and (run_dir / "profile.json").exists():
        m.profile_result = profiler.Profile.load(run_dir / "profile.json")
        m.plan = Plan.load(run_dir / "plan.json")
        gates = [e for e in read_journal(run_dir)
                 if isinstance(e, ev.GateReached) and e.gate == "quality"]
        if gates and gates[-1].passed:
            m.gate_decision = quality.GateDecision(
                passed=True, overridden=bool(m.override_reason), reason=gates[-1].summary)
    if m.gate_decision is not None and (run_dir / cleaner.WORKING_COPY).exists():
        m.clean_report = cleaner.CleanReport.load(run_dir / "clean.json")
    if found.version is None or m.clean_report is None:
        return
    m.version, m.version_schema = found.version.version, found.version.schema_name
    if found.version.status == "loaded" and (run_dir / LOAD_REPORT).exists():
        m.load_report = loader.LoadReport(**_read_json(run_dir / LOAD_REPORT))
        if found.validated:
            m.validation = _validation(run_dir / status_mod.VALIDATION)
    active = deployments.active(m.conn, m.stable)
    if active is None:
        return
    dumps = [Path(active.backup_path)] if active.backup_path else []  # its cutover recorded it
    dumps += [p for p in found.files if p.suffix == ".dump"
              and p.name.startswith(f"{active.schema_name}-")]
    dumps = [p for p in dumps if p.is_file()]
    if dumps:
        m._dumped = (active.version, dumps[0])


def _validation(path: Path) -> validate.ValidationReport:
    """A validation report as validate() wrote it to the run dir."""
    data = _read_json(path)
    tables = {name: validate.TableCheck(**{**t, "columns": [validate.ColumnCheck(**c)
                                                            for c in t["columns"]]})
              for name, t in data["tables"].items()}
    return validate.ValidationReport(data["schema"], tables, data["seconds"],
                                     data["source_changed"])


def discard_interrupted(settings: Settings, run_id: str,
                        listeners: list[Listener] | tuple[Listener, ...] = ()) -> list[str]:
    """Remove what an interrupted run left, mark it discarded; return what was removed.

    Exactly what :func:`interrupted_runs` says it left: its version not cut
    over, the canary schemas, its half-written files, its cleaned working copy
    and dumps no version records. Taking the lock, as every change to the
    target does, also deletes the files other dead runs were writing.
    """
    dsn = target.resolve_dsn(settings)
    stable = settings.stable_schema
    with connect(dsn, autocommit=True) as conn, \
            Run.for_settings(settings, run_id=run_id, listeners=list(listeners)) as run, \
            lock.acquire(dsn, settings, run_id, run=run) as held:
        metadata.ensure(conn)
        found = pick_interrupted(settings, run_id, conn)
        removed = [str(path) for path in held.removed]
        for name in found.schemas:
            drop = metadata.drop_schema_statement(name)
            conn.execute(drop)
            run.emit(ev.SqlExecuted(stage="discard", statement=drop.as_string(conn)))
            removed.append(f"schema {name}")
        if found.version is not None:
            rollbacks.discard(run, conn, stable, found.version.version, settings.operator)
            removed.append(f"v{found.version.version} ({found.version.schema_name})")
        for path in found.files:
            path.unlink(missing_ok=True)
            removed.append(str(path))
        deployments.record_run_end(conn, run_id, "discarded")
        update_record(run.dir, outcome="discarded", resumable=False)
    return removed


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StageError(f"cannot read {path}: {exc}") from None
