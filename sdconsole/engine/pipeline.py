"""The guided migration: the one engine API the console and the command line call.

A :class:`Migration` walks one source through the steps of its mode
(:mod:`sdconsole.engine.steps`, the one stage plan): preflight, profile, the
quality gate, clean, canary, load, validate and cutover. Each step blocks,
reports through events, returns its own report, and raises an
:class:`~sdconsole.engine.runtime.errors.EngineError` with one line when it
cannot go on. Steps check their prerequisites, so no caller can load what
was not cleaned or cut over what did not validate. :meth:`Migration.next_step`
says what comes next; :func:`drive` follows it, stopping at the mode's gates
for a decision (the operator's, through a detached run's client, or ``--yes``).
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
from sdconsole.engine.records.profile import Profile
from sdconsole.engine.records.quality import GateDecision
from sdconsole.engine.rules.values import DateOrder
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime import housekeeping, layout, logs, metrics, processes
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
    cutover,
    loader,
    preflight,
    validate,
)
from sdconsole.engine.stages import rollback as rollbacks
from sdconsole.engine.stages.canary import CanaryReport
from sdconsole.engine.stages.clean import cleaner
from sdconsole.engine.stages.clean.cleaner import CleanReport
from sdconsole.engine.stages.cutover import CutoverPlan, CutoverReport
from sdconsole.engine.stages.loader import LoadReport
from sdconsole.engine.stages.preflight import PreflightReport
from sdconsole.engine.stages.profile import profiler, quality
from sdconsole.engine.stages.validate import SourceFigures, ValidationReport
from sdconsole.engine.steps import DEFAULT_MODE, MODES, PLANS, Gate, ModePlan, Step
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
            raise StageError(
                f"{step.__name__} failed: "
                + ("the connection to the target was lost" if lost else one_line(exc))
            ) from None

    return wrapped


class Migration:
    """One migration of ``source`` into the target; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        source: Path,
        *,
        listeners: list[Listener] | tuple[Listener, ...] = (),
        mode: str = DEFAULT_MODE,
        run_id: str | None = None,
        log_to_stderr: bool = False,
        allow_shape_change: bool = False,
    ) -> None:
        if mode not in MODES:
            raise BadInput(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
        self.settings = settings
        self.source = Path(source)
        self.mode = mode
        self.mode_plan: ModePlan = PLANS[mode]
        # Removing or retyping what the active version has needs this (the console's
        # cutover confirmation shows the change and counts as it).
        self.allow_shape_change = allow_shape_change
        self.run = Run.for_settings(settings, run_id=run_id, listeners=list(listeners))
        self._log = logs.JsonRunLog(self.run.dir, to_stderr=log_to_stderr, dsn=settings.target_dsn)
        self._stage_seconds: dict[str, float] = {}
        self.run.listeners[:0] = [self._log, self._time_stage]
        self.stable = settings.stable_schema
        self.preflight_report: PreflightReport | None = None
        self.profile_result: Profile | None = None
        self.plan: Plan | None = None
        self.gate_decision: GateDecision | None = None
        self.gate_refused = False
        self.clean_report: CleanReport | None = None
        self.canary_report: CanaryReport | None = None
        self.load_report: LoadReport | None = None
        self.validation: ValidationReport | None = None
        self.cutover_report: CutoverReport | None = None
        self._dumped: tuple[int, Path] | None = None  # a backup taken beside load
        # validation's source side, computed early
        self._source_figures: Future[SourceFigures] | None = None
        self.version: int | None = None
        self.version_schema: str | None = None
        self.override_reason: str | None = None  # the quality gate's, when it was overridden
        self.approvals: dict[Gate, str] = {}  # who approved each gate this process passed
        self.outcome = "stopped"
        self._dsn: str | None = None
        self._conn: psycopg.Connection | None = None
        self._lock: lock.RunLock | None = None
        self._run_recorded = False
        self._finished = False

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
            deployments.record_run_start(
                self.conn,
                self.stable,
                self.run.run_id,
                self.mode,
                str(self.source),
                self.settings.operator,
            )
            update_record(
                self.run.dir,
                source=str(self.source),
                mode=self.mode,
                allow_shape_change=self.allow_shape_change,
                outcome=None,
                error=None,
                resumable=None,
            )
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

    def _report(self, step: Step) -> object | None:
        """What ``step`` left, or None while it is not done."""
        return {
            Step.PREFLIGHT: self.preflight_report,
            Step.PROFILE: self.profile_result,
            Step.GATE: self.gate_decision,
            Step.CLEAN: self.clean_report,
            Step.CANARY: self.canary_report,
            Step.LOAD: self.load_report,
            Step.VALIDATE: self.validation,
            Step.CUTOVER: self.cutover_report,
        }[step]

    def next_step(self) -> Step | None:
        """The step of this mode after the last one done; None when the run is complete.

        A resumed run starts after what it did durably (a version it loaded is
        not loaded again, nor its canary run again).
        """
        steps = self.mode_plan.steps
        done = [i for i, step in enumerate(steps) if self._report(step) is not None]
        following = done[-1] + 1 if done else 0
        return steps[following] if following < len(steps) else None

    # -- steps -----------------------------------------------------------------

    @_target_errors
    def preflight(self) -> PreflightReport:
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
        report = self.preflight_report or self.preflight()
        failed = [c for c in report.checks if c.status == "fail"]
        if [c.name for c in failed] == ["lock"]:
            raise LockHeld(failed[0].reason)
        if failed:
            reasons = "; ".join(f"{c.name}: {c.reason}" for c in failed)
            raise PreflightFailed(f"preflight failed: {reasons}")

    def profile(self) -> Profile:
        result = profiler.profile(self.run, self.settings, self.source)
        self.profile_result, self.plan = result, result.plan
        return result

    def _planned(self) -> Plan:
        """The plan, or BadInput when the source was not profiled."""
        self._require(self.plan is not None, "profile the source before this step")
        assert self.plan is not None
        return self.plan

    def _profiled(self) -> Profile:
        self._require(self.profile_result is not None, "profile the source before the gate")
        assert self.profile_result is not None
        return self.profile_result

    def _cleaned(self) -> CleanReport:
        self._require(self.clean_report is not None, "clean the source first")
        assert self.clean_report is not None
        return self.clean_report

    def _loaded(self) -> tuple[LoadReport, int, str]:
        """The loaded version's report, number and schema."""
        self._require(
            self.load_report is not None
            and self.version is not None
            and self.version_schema is not None,
            "load the version before validating it",
        )
        assert self.load_report is not None and self.version is not None
        assert self.version_schema is not None
        return self.load_report, self.version, self.version_schema

    def set_column(
        self,
        table: str,
        column: str,
        *,
        type: str | None = None,
        date_order: DateOrder | None = None,
    ) -> bool:
        """Operator override of one column's type or date order, before cleaning: the
        profile is re-scored, and the quality gate decides again at the next :meth:`gate`.
        Whether the new score passes the gate without an override reason."""
        profiled = self._profiled()
        self._require(self.clean_report is None, "the working copy is already cleaned")
        profiler.override(
            self.run, self.settings, profiled, table, column, type=type, date_order=date_order
        )
        self.plan = profiled.plan
        self.gate_decision, self.gate_refused = None, False
        return quality.refusal(profiled.score, self.settings) is None

    def gate(self, override_reason: str | None = None) -> GateDecision:
        profiled = self._profiled()
        if override_reason:
            self.override_reason = override_reason
            update_record(self.run.dir, override_reason=override_reason)
        try:
            self.gate_decision = quality.decide(
                self.run, profiled.score, self.settings, override_reason
            )
        except GateRefused:
            self.gate_refused = True
            raise
        return self.gate_decision

    def preview(self) -> CleanReport:
        return cleaner.clean(self.run, self.settings, self.source, self._planned(), dry_run=True)

    @_target_errors
    def clean(self) -> CleanReport:
        self.require_preflight()
        self.hold_lock()
        self._require(self.gate_decision is not None, "pass the quality gate before cleaning")
        plan = self._planned()
        self.clean_report = cleaner.clean(self.run, self.settings, self.source, plan, dry_run=False)
        self._source_figures = validate.start_source_figures(
            self.source, plan, self.settings.null_tokens
        )
        return self.clean_report

    @property
    def working_copy(self) -> Path:
        copy = self._cleaned().working_copy
        self._require(copy is not None, "the clean was a preview: nothing was written")
        assert copy is not None
        return Path(copy)

    @_target_errors
    def canary(self) -> CanaryReport:
        working = self.working_copy
        self.hold_lock()
        self.canary_report = canary.canary(
            self.run,
            self.conn,
            self.source,
            working,
            self._planned(),
            self.stable,
            self.settings.canary_fraction,
            queries.load_queries(),
            null_tokens=frozenset(self.settings.null_tokens),
        )
        return self.canary_report

    @_target_errors
    def load(self) -> LoadReport:
        """Load the cleaned copy into a new version (or the one a resumed run left unfinished);
        a resumed run's version that loaded completely stays as it is."""
        if self.load_report is not None:
            return self.load_report
        working, cleaned, plan = self.working_copy, self._cleaned(), self._planned()
        self.hold_lock()
        shape_change.require_allowed(  # before loading anything it would not cut over to
            shape_change.against_active(self.conn, self.stable, shape_change.plan_shape(plan)),
            self.allow_shape_change,
        )
        if self.version is None or self.version_schema is None:
            self.version, self.version_schema = deployments.begin(
                self.conn,
                self.stable,
                self.run.run_id,
                str(self.source),
                cleaned.sha256_before,
                self.settings.operator,
                self.profile_result.score.total if self.profile_result else None,
            )
        version, version_schema = self.version, self.version_schema
        try:
            metadata.drop_schema(self.conn, version_schema)
            for statement in schema.create_version_schema(self.conn, version_schema, plan):
                self.run.emit(
                    ev.SqlExecuted(stage=Step.LOAD, statement=_as_text(statement, self.conn))
                )
            report = loader.load(self.run, self.conn, working, plan, version_schema)
        except BaseException as exc:
            self._mark_failed(exc)
            raise
        report.version, report.schema = version, version_schema
        write_json(self.run.dir / LOAD_REPORT, dataclasses.asdict(report))
        deployments.mark(
            self.conn,
            self.stable,
            version,
            "loaded",
            row_counts={t: v["rows"] for t, v in report.tables.items()},
        )
        self.load_report = report
        return report

    def _mark_failed(self, exc: BaseException) -> None:
        """Record the partial version as failed; a dropped connection needs a new one."""
        with contextlib.suppress(Exception):
            if self._conn is not None and self._conn.broken:
                self._conn = None
            if self.version is not None:
                deployments.mark(
                    self.conn, self.stable, self.version, "failed", error=one_line(exc)
                )

    @_target_errors
    def validate(self) -> ValidationReport:
        _, version, version_schema = self._loaded()
        self.hold_lock()
        report = validate.validate(
            self.run,
            self.conn,
            self.source,
            self._planned(),
            version_schema,
            self.settings.null_tokens,
            self._source_figures,
            self._cleaned().sha256_before,
        )
        write_json(self.run.dir / status_mod.VALIDATION, report.to_dict())
        if not report.ok:
            with contextlib.suppress(Exception):
                deployments.mark(self.conn, self.stable, version, "failed", error=report.summary)
        self.validation = report
        return report

    def load_validate_and_back_up(self) -> ValidationReport:
        """Load and validate the new version while pg_dump backs up the one it will replace.

        The dump reads only the active version, which this run's lock keeps as
        it is, and pg_dump has its own connection; so it runs beside load and
        validation instead of after them, at a lower priority (nice 10): it
        takes the CPU they leave, at the end of the load most of all. Cutover
        then uses this dump. A dump whose version did not load or validate is
        deleted. A resumed run that took its dump already uses that one.
        """
        previous = deployments.active(self.conn, self.stable) if self.mode_plan.backup else None
        if previous is None or (self._dumped or (None,))[0] == previous.version:
            self.load()
            return self.validate()
        with ThreadPoolExecutor(1, thread_name_prefix="sdconsole-backup") as pool:
            dump = pool.submit(
                backup.dump_version,
                self.run,
                self.settings,
                self.dsn,
                previous.schema_name,
                previous.version,
                nice=processes.BACKGROUND_NICE,
            )
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

    def _abandon(self, dump: Future[Path]) -> None:
        """Stop a dump no longer wanted (the run ends here) and delete its file."""
        self.run.cancel_requested.set()  # pg_dump is stopped at its next check
        with contextlib.suppress(BaseException):
            dump.result().unlink(missing_ok=True)

    def _validated(self) -> int:
        """The version that validated, or BadInput."""
        self._require(
            self.validation is not None and self.validation.ok and self.version is not None,
            "the loaded version must validate before cutover",
        )
        assert self.version is not None
        return self.version

    @_target_errors
    def plan_cutover(self) -> CutoverPlan:
        return cutover.plan_cutover(
            self.conn, self.stable, self._validated(), backup=self.mode_plan.backup
        )

    @_target_errors
    def cutover(self) -> CutoverReport:
        if self.validation is None or not self.validation.ok:
            raise ValidationFailed("cutover refused: the loaded version did not validate")
        version = self._validated()
        self.hold_lock()
        self.cutover_report = cutover.cutover(
            self.run,
            self.conn,
            self.dsn,
            self.settings,
            version,
            backup=self.mode_plan.backup,
            dumped=self._dumped,
            allow_shape_change=self.allow_shape_change,
            approved_by=self.approvals.get(Gate.CUTOVER, ""),
        )
        self.outcome = "succeeded"
        return self.cutover_report

    @_target_errors
    def discard(self) -> None:
        """Before cutover: drop the in-progress version, leave the active one untouched (also
        after a cancel: it goes back, not on)."""
        version = self.version
        self._require(version is not None, "nothing loaded to discard")
        assert version is not None
        self._take_lock()
        rollbacks.discard(self.run, self.conn, self.stable, version)
        self.outcome = "discarded"

    def cancel(self) -> None:
        """Ask the running step to stop at its next safe point; thread-safe."""
        self.run.cancel_requested.set()
        conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):
                conn.cancel()

    def finish(self, error: BaseException | None = None) -> None:
        """Record how the run ended, write its metrics, release the lock and connection:
        everything a client may look at once the run's RunEnded arrives, which the command
        line journals after this. Once only."""
        if self._finished:
            return
        self._finished = True
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

    def close(self, error: BaseException | None = None) -> None:
        """:meth:`finish`, then close the run's log and journal."""
        self.finish(error)
        self._log.close()
        self.run.close()

    def _record_end(self, error: BaseException | None) -> None:
        """The run's end in ``sdconsole.runs``, its run dir (may it be resumed?) and metrics;
        after a success, old working copies go."""
        override = (
            self.gate_decision.reason
            if self.gate_decision is not None and self.gate_decision.overridden
            else None
        )
        with contextlib.suppress(Exception):
            deployments.record_run_end(
                self.conn,
                self.run.run_id,
                self.outcome,
                one_line(error) if error else None,
                override,
                self.profile_result.score.total if self.profile_result else None,
            )
        with contextlib.suppress(OSError):  # unrecorded, it counts as killed: resumable
            update_record(
                self.run.dir,
                outcome=self.outcome,
                error=one_line(error) if error else None,
                resumable=error is not None and _resumable(error),
            )
        try:
            metrics.write_run_metrics(self.settings.workdir, self._metrics_report())
        except Exception as exc:  # the run stands; the operator is told its metrics are missing
            self.run.emit(
                ev.StageFailed(stage="metrics", error=f"metrics not written: {one_line(exc)}")
            )
        if self.outcome == "succeeded":
            with contextlib.suppress(Exception):  # reported as a failed stage; the run stands
                unfinished = {r.run_dir for r in interrupted_runs(self.settings, self.conn)}
                housekeeping.prune_working_copies(
                    self.run, self.settings.working_copies, resumable=unfinished.__contains__
                )

    def _metrics_report(self) -> dict[str, Any]:
        """The run's figures in the shape metrics.write_run_metrics documents."""
        report: dict[str, Any] = {
            "stable": self.stable,
            "run_id": self.run.run_id,
            "mode": self.mode,
            "outcome": self.outcome,
            "finished_ts": time.time(),
            "stage_seconds": dict(self._stage_seconds),
        }
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
            report.update(metadata.history_metrics(self._conn, self.stable))
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


Ask = Callable[..., Any]
"""A detached run's :meth:`~sdconsole.engine.detached.control.Control.wait`: announce a gate
(``gate, summary, refused=...``) and block until a client decides."""


def drive(
    m: Migration, *, yes: bool, override_reason: str | None = None, wait: Ask | None = None
) -> None:
    """Run the rest of ``m``'s steps (:meth:`Migration.next_step`), stopping at its gates.

    What ``sdconsole migrate``, ``resume`` and a detached run do; gates that
    fail raise their EngineError. With ``yes`` every gate that passes is
    approved (the apply journals the same per-rule counts and samples as a
    preview, so no separate preview pass is made). Without it, and without
    ``wait``, the run stops at the clean gate with the preview journalled
    (ApprovalNeeded). ``wait`` makes a run without ``yes`` wait at each gate
    of its mode until a client decides instead: the quality gate (an override
    reason when it refused), the clean preview, the canary verdict and the
    cutover.
    """
    ask = None if yes else wait
    while (step := m.next_step()) is not None:
        gate = m.mode_plan.gate_before(step)
        if gate is not None:
            _approved(m, gate, ev.BY_COMMAND_LINE if yes else _stop_at(m, gate, ask))
        _STEPS[step](m, override_reason, ask)
    if m.mode_plan.steps[-1] is Step.CANARY:
        m.outcome = "succeeded"  # a canary run ends at its verdict


def _approved(m: Migration, gate: Gate, by: str, reason: str | None = None) -> None:
    """Journal that the run goes on from ``gate`` (what a resume goes on from)."""
    m.approvals[gate] = by
    m.run.emit(ev.GateApproved(stage="gate", gate=gate, by=by, reason=reason or ""))


def _stop_at(m: Migration, gate: Gate, ask: Ask | None) -> str:
    """Before a step: what the gate shows, then the client's decision (or the headless
    stop); who decided to go on."""
    if gate is Gate.CLEAN:
        changed = sum(r.changed for r in m.preview().rules)
        follows = f"cleaning would change {changed:,} cells, then {m.mode_plan.summary}"
        if ask is None:
            raise ApprovalNeeded(
                f"stopped before changing anything: {follows}; re-run with --yes to go ahead"
            )
        return str(ask(gate, follows).by)
    if ask is None:
        return ev.BY_COMMAND_LINE  # a headless run without --yes stopped at the clean gate already
    if gate is Gate.CANARY:
        assert m.canary_report is not None  # the canary step comes just before its gate
        return str(ask(gate, m.canary_report.summary).by)
    plan = m.plan_cutover()  # the cutover gate
    change = (
        f"changes what dashboards read: {plan.shape.summary()}"
        if plan.shape is not None and plan.shape.changed
        else "same tables and columns"
    )
    summary = (
        f"{plan.stable} to version {plan.to_version} ({plan.to_schema}), {change},"
        f" {len(plan.statements)} statements in one transaction"
    )
    return str(ask(gate, summary).by)


def _preflight(m: Migration, *_: Any) -> None:
    m.preflight()
    m.require_preflight()


def _gate(m: Migration, override_reason: str | None, ask: Ask | None) -> None:
    """The quality gate: its verdict, then (waiting for a client) an approval or, when it
    refused, the override reason the client gives.

    A column the client changes while the gate waits re-scores the profile and
    takes the decision back (:meth:`Migration.set_column`); the wait then takes
    what the new score's verdict needs (an approval, or an override reason when
    it refuses), and the gate decides again on the new score once the client
    answers.
    """
    reason, by = override_reason, ev.BY_COMMAND_LINE
    asked = False
    while m.gate_decision is None:
        try:
            decision = m.gate(reason)
        except GateRefused as refused:
            if ask is None:
                raise
            answer = ask(Gate.QUALITY, str(refused), refused=True)
            reason, by, asked = answer.reason, answer.by, True
            continue
        if ask is not None and not asked:  # an override given here counts if a change needs it
            answer = ask(Gate.QUALITY, decision.reason)
            reason, by, asked = answer.reason or reason, answer.by, True
    _approved(m, Gate.QUALITY, by, m.gate_decision.reason if m.gate_decision.overridden else None)


def _canary(m: Migration, *_: Any) -> None:
    verdict = m.canary()
    if not verdict.ok:
        raise CanaryFailed(verdict.summary)  # "canary failed on K of N checks: ..."


def _load_and_validate(m: Migration, *_: Any) -> None:
    """Load and validate, with the active version backed up beside them in a mode that keeps
    a backup; a resumed run's version may be loaded already."""
    validation = m.load_validate_and_back_up()
    if not validation.ok:
        raise ValidationFailed(f"validation failed: {validation.summary}")


_STEPS: dict[Step, Callable[[Migration, str | None, Ask | None], None]] = {
    Step.PREFLIGHT: _preflight,
    Step.PROFILE: lambda m, *_: m.profile() and None,
    Step.GATE: _gate,
    Step.CLEAN: lambda m, *_: m.clean() and None,
    Step.CANARY: _canary,
    Step.LOAD: _load_and_validate,
    Step.VALIDATE: _load_and_validate,
    Step.CUTOVER: lambda m, *_: m.cutover() and None,
}
"""How :func:`drive` carries out each step."""


# -- operations outside a migration ---------------------------------------------


def plan_rollback(settings: Settings, to_version: int | None = None) -> rollbacks.RollbackPlan:
    """What a rollback would do now: from and to versions and the statements."""
    with connect(target.resolve_dsn(settings), autocommit=True) as conn:
        metadata.ensure(conn)
        return rollbacks.plan_rollback(conn, settings.stable_schema, to_version)


rollback = rollbacks.run_rollback  # the one way in, for the console and the command line


def lock_holder(settings: Settings) -> str | None:
    """Who holds the run lock of the stable schema now, in words; None when nobody does."""
    with connect(target.resolve_dsn(settings), autocommit=True) as conn:
        metadata.ensure(conn)
        return lock.holder(settings, conn)


def status(settings: Settings) -> status_mod.StatusReport:
    with connect(target.resolve_dsn(settings), autocommit=True) as conn:
        metadata.ensure(conn)
        return status_mod.status(conn, settings)


interrupted_runs = status_mod.interrupted_runs  # the one place that finds them


def pick_interrupted(
    settings: Settings, run_id: str | None = None, conn: psycopg.Connection | None = None
) -> status_mod.InterruptedRun:
    """The interrupted run ``run_id`` (default: the newest), or BadInput; LockHeld when none
    is found while another run holds the lock (it may be that very run, running)."""
    if conn is None:
        with connect(target.resolve_dsn(settings), autocommit=True) as opened:
            return pick_interrupted(settings, run_id, opened)
    found = next((r for r in interrupted_runs(settings, conn) if run_id in (None, r.run_id)), None)
    if found is not None:
        return found
    held = lock.holder(settings, conn)
    if held:
        raise LockHeld(f"another run holds the lock on {settings.stable_schema}: {held}")
    if run_id is None:
        raise BadInput("no interrupted run to resume (sdconsole status lists the runs)")
    raise BadInput(f"run {run_id} is not an interrupted run (sdconsole status lists them)")


def resume(
    settings: Settings,
    run_id: str,
    listeners: list[Listener] | tuple[Listener, ...] = (),
    *,
    log_to_stderr: bool = False,
) -> Migration:
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
        raise BadInput(
            f"run {found.run_id} ran in another work dir: only discarding it is"
            f" possible here (sdconsole resume {found.run_id} --discard --yes)"
        )
    record = read_record(found.run_dir)
    migration = Migration(
        settings,
        Path(record["source"]),
        listeners=listeners,
        mode=record["mode"],
        run_id=found.run_id,
        log_to_stderr=log_to_stderr,
        allow_shape_change=record["allow_shape_change"],
    )
    try:
        migration._take_lock()
        found = pick_interrupted(settings, found.run_id, migration.conn)  # under the lock
        _refuse_if_superseded(migration.conn, settings.stable_schema, found)
    except BaseException:
        migration.close()  # nothing was recorded: the run stays as it was
        raise
    _reopen(migration, found, record)
    return migration


def _refuse_if_superseded(
    conn: psycopg.Connection, stable: str, found: status_mod.InterruptedRun
) -> None:
    """Refuse to resume a run when the active version was cut over after it started.

    Its cutover would put older data in front of the dashboards. A version a
    rollback made live again counts from its own cutover (``activated_at``).
    """
    active = deployments.active(conn, stable)
    if active is None or active.run_id == found.run_id or active.activated_at is None:
        return
    started = conn.execute(
        "SELECT started_at FROM sdconsole.runs WHERE run_id = %s", (found.run_id,)
    ).fetchone()
    if started is not None and active.activated_at > started[0]:
        what = f"left v{found.version.version}" if found.version else "stopped"
        raise BadInput(
            f"run {found.run_id} {what}, but v{active.version} was cut over since:"
            " resuming would put older data in front of the dashboards;"
            f" discard it (sdconsole resume {found.run_id} --discard --yes)"
        )


def _reopen(m: Migration, found: status_mod.InterruptedRun, record: dict[str, Any]) -> None:
    """Give ``m`` what its run did durably (see :func:`resume`)."""
    run_dir = found.run_dir
    assert run_dir is not None  # resume() refuses a run of another work dir
    m.override_reason = record.get("override_reason")
    if (run_dir / "plan.json").exists() and (run_dir / "profile.json").exists():
        m.profile_result = Profile.load(run_dir / "profile.json")
        m.plan = Plan.load(run_dir / "plan.json")
        verdict = _approved_verdict(read_journal(run_dir))
        if verdict is not None:
            m.gate_decision = GateDecision(
                passed=True, overridden=bool(m.override_reason), reason=verdict.summary
            )
    if m.gate_decision is not None and (run_dir / layout.WORKING_COPY).exists():
        m.clean_report = CleanReport.load(run_dir / "clean.json")
    if found.version is None or m.clean_report is None:
        return
    m.version, m.version_schema = found.version.version, found.version.schema_name
    if found.version.status == "loaded" and (run_dir / LOAD_REPORT).exists():
        m.load_report = LoadReport(**_read_json(run_dir / LOAD_REPORT))
        if found.validated:
            m.validation = _validation(run_dir / status_mod.VALIDATION)
    active = deployments.active(m.conn, m.stable)
    if active is None:
        return
    dumps = [Path(active.backup_path)] if active.backup_path else []  # its cutover recorded it
    dumps += [
        p
        for p in found.files
        if p.suffix == ".dump" and p.name.startswith(f"{active.schema_name}-")
    ]
    dumps = [p for p in dumps if p.is_file()]
    if dumps:
        m._dumped = (active.version, dumps[0])


def _approved_verdict(events: list[ev.Event]) -> ev.GateReached | None:
    """The quality gate's last verdict when the run went on from it: it was approved
    (GateApproved), or the clean started (a caller of the library went on); None when it
    was refused, or the run stopped while the gate waited (a resume asks again)."""
    verdict: ev.GateReached | None = None
    went_on = False
    for event in events:
        if isinstance(event, ev.GateReached) and event.gate == Gate.QUALITY:
            verdict, went_on = event, False  # decided again: only what follows counts
        elif isinstance(event, ev.GateApproved) and event.gate == Gate.QUALITY:
            went_on = True
        elif isinstance(event, ev.StageStarted) and event.stage == Step.CLEAN:
            went_on = True
    return verdict if went_on and verdict is not None and verdict.passed else None


def _validation(path: Path) -> ValidationReport:
    """A validation report as validate() wrote it to the run dir."""
    data = _read_json(path)
    tables = {
        name: validate.TableCheck(
            **{**t, "columns": [validate.ColumnCheck(**c) for c in t["columns"]]}
        )
        for name, t in data["tables"].items()
    }
    return ValidationReport(data["schema"], tables, data["seconds"], data["source_changed"])


def discard_interrupted(
    settings: Settings, run_id: str, listeners: list[Listener] | tuple[Listener, ...] = ()
) -> list[str]:
    """Remove what an interrupted run left, mark it discarded; return what was removed.

    Exactly what :func:`interrupted_runs` says it left: its version not cut
    over, the canary schemas, its half-written files, its cleaned working copy
    and dumps no version records. Taking the lock, as every change to the
    target does, also deletes the files other dead runs were writing.
    """
    dsn = target.resolve_dsn(settings)
    stable = settings.stable_schema
    with (
        connect(dsn, autocommit=True) as conn,
        Run.for_settings(settings, run_id=run_id, listeners=list(listeners)) as run,
        lock.acquire(dsn, settings, run_id, run=run) as held,
    ):
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
