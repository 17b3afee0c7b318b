"""What the console knows about the run it follows: its events, folded, and its run dir's files.

The run process journals every event and serves them to its clients; the
console folds each one into a :class:`FlowState` (the same state whether the
events arrive live or replayed at attach), and reads the reports the engine
writes to the run dir (:class:`RunFiles`). Screens render from these two
only, so a console attaching to a run half-way shows what one there from the
start shows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdconsole.engine.records.plan import Plan
from sdconsole.engine.records.profile import Profile
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.stages.canary import CanaryReport, QueryOutcome
from sdconsole.engine.stages.clean.cleaner import CleanReport
from sdconsole.engine.stages.cutover import CutoverPlan
from sdconsole.engine.stages.loader import LoadReport
from sdconsole.engine.stages.validate import ValidationReport
from sdconsole.engine.steps import DEFAULT_MODE, PLANS, Gate, Step

SHOWN_AS = {Step.GATE: Step.PROFILE, Step.VALIDATE: Step.LOAD}
"""Steps the breadcrumb shows as part of another."""


@dataclass
class FlowState:
    """The events of one run, folded as the screens need them."""

    run_id: str = ""
    mode: str = DEFAULT_MODE
    seq: int = 0
    """The last event folded: a client attaching again asks for the events after it."""
    stage: Step | None = None
    """The step the run is in (its last StageStarted of a step)."""
    finished: set[str] = field(default_factory=set)
    """Stages that ended normally."""
    checks: dict[str, ev.CheckResult] = field(default_factory=dict)
    progress: dict[str, dict[str, ev.Progress]] = field(default_factory=dict)
    findings: list[ev.Finding] = field(default_factory=list)
    diffs: list[ev.DiffSample] = field(default_factory=list)
    metrics: list[ev.CanaryMetric] = field(default_factory=list)
    gates: dict[str, ev.GateReached] = field(default_factory=dict)
    waiting: ev.GateAwaiting | None = None
    """The gate the run waits at for a decision, until an event shows it went on."""
    passed: set[str] = field(default_factory=set)
    """Gates the run went on from (GateApproved)."""
    overridden: set[str] = field(default_factory=set)
    """'table.column' the operator changed (ColumnOverridden)."""
    rescored: ev.ColumnOverridden | None = None
    """The last column change since the quality gate decided: its new score and verdict."""
    ended: ev.RunEnded | None = None
    cancelling: bool = False
    """A cancel was accepted and the run has not ended yet."""

    def record(self, event: ev.Event) -> bool:
        """Fold one event; False (and nothing changes) for one already folded."""
        if event.seq and event.seq <= self.seq:
            return False
        self.seq = event.seq or self.seq
        self.run_id = event.run_id or self.run_id
        if self.waiting is not None and not self._still_waiting(event):
            self.waiting = None
        match event:
            case ev.StageStarted(stage=stage) if stage in Step.__members__.values():
                self.stage = Step(stage)
                self._restart(self.stage)
            case ev.StageFinished(stage=stage):
                self.finished.add(stage)
            case ev.CheckResult():
                self.checks[event.name] = event
            case ev.Progress():
                self.progress.setdefault(event.stage, {})[event.table] = event
            case ev.Finding():
                self.findings.append(event)
            case ev.DiffSample():
                self.diffs.append(event)
            case ev.CanaryMetric():
                self.metrics.append(event)
            case ev.GateReached():
                self.gates[event.gate] = event
                if event.gate == Gate.QUALITY:
                    self.rescored = None
            case ev.GateAwaiting():
                self.waiting = event
            case ev.GateApproved(gate=gate):
                self.passed.add(gate)
            case ev.RunEnded():
                self.ended, self.cancelling = event, False
            case ev.ColumnOverridden(table=table, column=column):
                self.overridden.add(f"{table}.{column}")
                self.rescored = event
        return True

    def _still_waiting(self, event: ev.Event) -> bool:
        """Whether the gate waited at is still open after ``event``: a client left, a column
        was changed (the gate is re-scored), or the gate decides again."""
        assert self.waiting is not None
        if isinstance(event, (ev.ClientDetached, ev.ColumnOverridden)):
            return True
        return isinstance(event, (ev.GateReached, ev.GateAwaiting)) and (
            event.gate == self.waiting.gate
        )

    def quality_passes(self) -> bool | None:
        """The quality gate's verdict as it stands: re-scored by the last column changed
        since it decided, else its decision (None before it decided)."""
        if self.rescored is not None:
            return self.rescored.passed
        gate = self.gates.get(Gate.QUALITY)
        return None if gate is None else gate.passed

    def _restart(self, step: Step) -> None:
        """A stage that starts (again) begins with an empty list of what it reports."""
        if step is Step.PREFLIGHT:
            self.checks.clear()
        elif step is Step.CLEAN:
            self.diffs.clear()
        elif step is Step.CANARY:
            self.metrics.clear()
        self.progress.pop(step, None)

    # -- what follows from the events ---------------------------------------------

    @property
    def steps(self) -> list[Step]:
        """The breadcrumb: the steps of the run's mode as the operator sees them."""
        return [s for s in PLANS[self.mode].steps if s not in SHOWN_AS]

    @property
    def position(self) -> Step | None:
        """Where the breadcrumb stands: the step running, or the one a gate waits before."""
        if self.waiting is not None and self.waiting.gate == Gate.CUTOVER:
            return Step.CUTOVER
        if self.waiting is not None and self.waiting.gate == Gate.CLEAN:
            return Step.CLEAN
        return SHOWN_AS.get(self.stage, self.stage) if self.stage is not None else None

    @property
    def running(self) -> str:
        """The stage working now ('' while the run waits at a gate or has ended)."""
        if self.waiting is not None or self.ended is not None or self.stage is None:
            return ""
        if self.stage is Step.CLEAN and Gate.CLEAN not in self.passed:
            return "preview"
        return str(self.stage)

    def waits_at(self, gate: Gate) -> bool:
        return self.waiting is not None and self.waiting.gate == gate

    @property
    def cutover_plan(self) -> CutoverView | None:
        """The cutover the run waits to be confirmed, as its gate announced it."""
        if self.waiting is None or self.waiting.gate != Gate.CUTOVER or not self.waiting.detail:
            return None
        return CutoverView.from_detail(self.waiting.detail)

    @property
    def canary_report(self) -> CanaryReport | None:
        """The canary's report, as the canary gate announced it."""
        detail = self.waiting.detail if self.waits_at(Gate.CANARY) and self.waiting else None
        if not detail:
            return None
        return CanaryReport(
            schema=detail["schema"],
            fraction=detail["fraction"],
            sample=dict(detail["sample"]),
            metrics=[
                ev.CanaryMetric(**{k: v for k, v in m.items() if k != "kind"})
                for m in detail["metrics"]
            ],
            queries=[QueryOutcome(**q) for q in detail["queries"]],
            seconds=detail["seconds"],
        )


@dataclass
class CutoverView(CutoverPlan):
    """A cutover plan as its gate's event carries it, with its shape already in words."""

    lines: tuple[str, ...] = ()
    breaking: bool = False

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> CutoverView:
        return cls(
            stable=detail["stable"],
            from_version=detail["from_version"],
            to_version=detail["to_version"],
            to_schema=detail["to_schema"],
            backup=detail["backup"],
            statements=list(detail["statements"]),
            lines=tuple(detail.get("shape_lines", ())),
            breaking=bool(detail.get("breaking")),
        )

    def shape_lines(self) -> list[str]:
        return list(self.lines)


class RunFiles:
    """The reports the engine writes to a run dir, read again only when they change."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir
        self._cache: dict[str, tuple[tuple[int, int], Any]] = {}

    def _read(self, name: str, load: Any) -> Any:
        if self.run_dir is None:
            return None
        path = self.run_dir / name
        try:
            stat = os.stat(path)
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            value = load(path)
        except (OSError, ValueError, KeyError):
            return None  # being replaced: the next event reads it again
        self._cache[name] = (stamp, value)
        return value

    def profile(self) -> Profile | None:
        return self._read("profile.json", Profile.load)

    def plan(self) -> Plan | None:
        return self._read("plan.json", Plan.load)

    def clean(self) -> CleanReport | None:
        return self._read("clean.json", CleanReport.load)

    def load(self) -> LoadReport | None:
        return self._read("load.json", lambda path: LoadReport(**_json(path)))

    def validation(self) -> ValidationReport | None:
        return self._read("validation.json", ValidationReport.load)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
