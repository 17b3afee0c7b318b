"""The stages of each mode, their gates and where the backup runs: the one stage plan.

Every caller follows this table: :func:`sdconsole.engine.pipeline.drive`
(headless and detached runs, resume), and the console, which shows the steps
of the run's mode and renders what the run process reports. Nothing else
decides the order.

* ``simple``: load, validate, cut over; no canary, no backup.
* ``canary``: stop after the canary verdict; nothing is loaded for dashboards.
* ``blue-green``: load and validate while the active version is backed up,
  then cut over; no canary.
* ``complete``: all of it: canary, then load and validate beside the
  backup, then cut over.

Gates are where a run without ``--yes`` stops for a decision: ``quality``
(the score's verdict), ``clean`` (the preview of every change), ``canary``
(its verdict, before the load) and ``cutover`` (the statements that will
switch the views).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Step(StrEnum):
    """One step of a migration; its value is the stage name events carry."""

    PREFLIGHT = "preflight"
    PROFILE = "profile"
    GATE = "gate"  # the quality gate's verdict on the profile
    CLEAN = "clean"
    CANARY = "canary"
    LOAD = "load"
    VALIDATE = "validate"
    CUTOVER = "cutover"


class Gate(StrEnum):
    """Where a run waits for a decision (``--yes`` gives them all)."""

    QUALITY = "quality"
    CLEAN = "clean"
    CANARY = "canary"
    CUTOVER = "cutover"


@dataclass(frozen=True)
class ModePlan:
    """What a mode does: its steps in order, and whether the backup runs beside the load."""

    mode: str
    steps: tuple[Step, ...]
    backup: bool
    summary: str  # what follows the clean, in words, for the clean gate

    def gate_before(self, step: Step) -> Gate | None:
        """The gate a run without ``--yes`` stops at before ``step``, if any."""
        if step is Step.CLEAN:
            return Gate.CLEAN
        if step is Step.LOAD and Step.CANARY in self.steps:
            return Gate.CANARY
        if step is Step.CUTOVER:
            return Gate.CUTOVER
        return None

    @property
    def gates(self) -> tuple[Gate, ...]:
        """Every gate of this mode, in the order the run meets them."""
        before = [self.gate_before(step) for step in self.steps]
        return (Gate.QUALITY, *(gate for gate in before if gate is not None))


_FIRST = (Step.PREFLIGHT, Step.PROFILE, Step.GATE, Step.CLEAN)
_DELIVER = (Step.LOAD, Step.VALIDATE, Step.CUTOVER)

PLANS: dict[str, ModePlan] = {
    plan.mode: plan
    for plan in (
        ModePlan(
            "simple",
            (*_FIRST, *_DELIVER),
            backup=False,
            summary="load a new version, validate it and cut dashboards over to it (no backup)",
        ),
        ModePlan(
            "canary",
            (*_FIRST, Step.CANARY),
            backup=False,
            summary="load a canary sample and compare it with the source",
        ),
        ModePlan(
            "blue-green",
            (*_FIRST, *_DELIVER),
            backup=True,
            summary="load a new version, validate it, back up the active one and cut over",
        ),
        ModePlan(
            "complete",
            (*_FIRST, Step.CANARY, *_DELIVER),
            backup=True,
            summary="run a canary, load a new version, validate it, back up the active"
            " one and cut over",
        ),
    )
}
MODES = tuple(PLANS)
DEFAULT_MODE = "complete"  # what a run does unless told: every step, every gate
