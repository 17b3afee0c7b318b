"""What the console knows about the migration in progress.

The App owns one :class:`FlowState` per migration and updates it from engine
events and step results; screens render from it. A screen opened late (or
reopened) therefore shows everything so far, not only what arrives next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sdconsole.engine.runtime import events as ev

STEPS = ("preflight", "profile", "clean", "canary", "load", "cutover")
"""The breadcrumb, in order."""


@dataclass
class FlowState:
    """Events and step results of one migration, as the screens need them."""

    run_id: str = ""
    step: str = ""
    checks: dict[str, ev.CheckResult] = field(default_factory=dict)
    progress: dict[str, dict[str, ev.Progress]] = field(default_factory=dict)
    findings: list[ev.Finding] = field(default_factory=list)
    diffs: list[ev.DiffSample] = field(default_factory=list)
    metrics: list[ev.CanaryMetric] = field(default_factory=list)
    gates: dict[str, ev.GateReached] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    """Step name -> what the engine returned (PreflightReport, Profile, ...)."""
    stopping: str = ""
    """The step the operator asked to stop, until it has."""
    stopped: str = ""
    """The step the operator stopped, until it runs again or the migration is left."""

    def record(self, event: ev.Event) -> None:
        """Fold one engine event into the state."""
        match event:
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
            case ev.StageStarted() if event.stage == "preflight":
                self.checks.clear()
            case ev.StageStarted() if event.stage == "clean":
                self.diffs.clear()
            case ev.StageStarted() if event.stage == "canary":
                self.metrics.clear()

    def result(self, step: str) -> Any:
        return self.results.get(step)
