"""The console's logic as a plain object: events in, the screen to show and commands out.

The console is a client of a detached run process. :class:`Flow` folds the
run's events into the state (:mod:`sdconsole.tui.state`), says which screen
the operator should see (:meth:`Flow.view`), and turns an operator's request
(approve, override, change a column, cancel) into the :class:`Command` the
run takes, or into the reason it cannot be sent now. No App, no database:
the App carries the commands out and shows what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.steps import PLANS, Gate, Step
from sdconsole.tui.state import CutoverView, FlowState, RunFiles

GATE_SCREENS = {
    Gate.QUALITY: Step.PROFILE,
    Gate.CLEAN: Step.CLEAN,
    Gate.CANARY: Step.CANARY,
    Gate.CUTOVER: Step.LOAD,
}
"""The screen a run waiting at each gate is shown on."""
STAGE_SCREENS = {
    Step.PREFLIGHT: Step.PREFLIGHT,
    Step.PROFILE: Step.PROFILE,
    Step.GATE: Step.PROFILE,
    Step.CANARY: Step.CANARY,
    Step.LOAD: Step.LOAD,
    Step.VALIDATE: Step.LOAD,
    Step.CUTOVER: Step.LOAD,
}
"""The screen a running stage is shown on (the clean: see :meth:`Flow.view`)."""


@dataclass(frozen=True)
class Command:
    """One command for the run's control socket: ``op`` and its arguments."""

    op: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """A toast for the operator."""

    text: str
    title: str
    severity: str = "information"


@dataclass(frozen=True)
class View:
    """What the console shows: the step screen (None: Home), the cutover waiting to be
    confirmed, and how the run ended."""

    screen: Step | None
    cutover: CutoverView | None = None
    ended: ev.RunEnded | None = None


class Flow:
    """The run the console follows (at most one), and what the operator may send it."""

    def __init__(self, *, watch: bool = False) -> None:
        self.watch = watch
        """Read-only: this console sends no command."""
        self.state = FlowState()
        self.files = RunFiles()

    @property
    def following(self) -> bool:
        return bool(self.state.run_id)

    def follow(self, run_id: str, run_dir: Path, mode: str) -> None:
        """Start following a run: nothing known yet but its name, dir and mode."""
        self.state = FlowState(run_id=run_id, mode=mode)
        self.files = RunFiles(run_dir)

    def leave(self) -> None:
        """Stop following the run (it has ended, or the operator left it going)."""
        self.state = FlowState()
        self.files = RunFiles()

    # -- events in -------------------------------------------------------------------

    def record(self, event: ev.Event) -> Notice | None:
        """Fold one of the run's events; what the operator must be told of it, if anything."""
        if not self.state.record(event):
            return None
        match event:
            case ev.ClientDetached(client=client) if not self.state.ended:
                return Notice(
                    f"{client} detached; the run goes on and waits at its next gate.",
                    "Client detached",
                )
            case ev.RunEnded(outcome="succeeded"):
                return Notice(self._success(), "Run done")
        return None

    def _success(self) -> str:
        if Step.CUTOVER in PLANS[self.state.mode].steps:
            return "The cutover is done: dashboards read the new version."
        return "The canary run is done: nothing was loaded for dashboards."

    def view(self) -> View:
        """The screen for the run as it stands (Home when none is followed)."""
        state = self.state
        if not state.run_id:
            return View(None)
        if state.waiting is not None:
            screen = GATE_SCREENS[Gate(state.waiting.gate)]
        elif state.stage is None:
            screen = Step.PREFLIGHT
        elif state.stage is Step.CLEAN:
            # The preview runs on the clean screen; the clean approved runs under the next step.
            after = Step.CANARY if Step.CANARY in PLANS[state.mode].steps else Step.LOAD
            screen = after if Gate.CLEAN in state.passed else Step.CLEAN
        else:
            screen = STAGE_SCREENS[state.stage]
        return View(screen, state.cutover_plan, state.ended)

    # -- commands out ----------------------------------------------------------------

    def command(self, op: str, **args: Any) -> Command | str:
        """The command for the operator's request, or why it cannot be sent now."""
        state = self.state
        if not state.run_id:
            return "no run is followed: n starts one"
        if self.watch:
            return (
                f"this console only watches run {state.run_id}; `sdconsole attach"
                f" {state.run_id}` without --watch controls it"
            )
        if state.ended is not None:
            return f"run {state.run_id} has ended ({state.ended.outcome})"
        if op == "cancel":
            return "a cancel was sent already" if state.cancelling else Command("cancel")
        waiting = state.waiting
        if waiting is None:
            return f"{state.running or 'the run'} is running: the run has not reached a gate"
        # the quality gate's verdict as it stands: a column changed at the gate re-scores it,
        # and the run waits on the new verdict (an approval, or a reason when it refuses)
        refused = not state.quality_passes() if waiting.gate == Gate.QUALITY else False
        if op == "approve":
            gate = args["gate"]
            if waiting.gate != gate:
                return f"the run waits at the {waiting.gate} gate, not {gate}"
            if refused:
                return f"the {gate} gate refused: o overrides it with a reason"
            return Command("approve", {"gate": str(gate)})
        if waiting.gate != Gate.QUALITY:
            return "the quality gate is passed: the columns and the score are settled"
        if op == "override":
            if not refused:
                return "the quality gate passed: there is nothing to override"
            return Command("override", {"reason": args["reason"], "gate": str(Gate.QUALITY)})
        if op == "set_column":
            return Command("set_column", dict(args))
        raise ValueError(f"unknown request {op!r}")

    def answered(self, command: Command, refusal: str | None) -> Notice | None:
        """The run's answer to ``command``: a toast when it refused, or for a cancel."""
        if refusal is not None:
            return Notice(refusal, f"{command.op.replace('_', ' ')} refused", "error")
        if command.op == "cancel":
            self.state.cancelling = True
            return Notice(
                "The run stops at its next safe point; it can be resumed or discarded afterwards.",
                "Cancel sent",
                "warning",
            )
        return None
