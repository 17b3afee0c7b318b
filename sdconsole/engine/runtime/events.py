"""Events the engine streams to the console, the command line and the run journal.

Every event is a frozen, JSON-serialisable dataclass. Stages create events
with their own fields only; :meth:`sdconsole.engine.runtime.run.Run.emit` stamps
``run_id``, ``seq`` and ``ts`` before handing them on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Common envelope: which run, in what order, when, and in which stage."""

    stage: str
    run_id: str = ""
    seq: int = 0
    ts: float = 0.0

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True, kw_only=True)
class StageStarted(Event):
    """A stage began; ``detail`` says on what (source file, version, ...)."""

    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Progress(Event):
    """Work done so far on one table; ``rate`` is units per second since the table began."""

    table: str
    done: int
    total: int
    unit: str = "rows"
    rate: float = 0.0


@dataclass(frozen=True, kw_only=True)
class CheckResult(Event):
    """One preflight check: pass, warn or fail, why, and what to do about it."""

    name: str
    status: Status
    reason: str
    fix: str = ""


@dataclass(frozen=True, kw_only=True)
class Finding(Event):
    """Something in the data that costs quality points or needs review."""

    table: str
    column: str
    dimension: str
    message: str
    count: int = 0
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DiffSample(Event):
    """A cleaning rule's effect on one column: cells changed and before/after samples."""

    rule: str
    table: str
    column: str
    changed: int
    samples: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class CanaryMetric(Event):
    """One canary comparison: the source figure, the canary figure, and whether they agree."""

    table: str
    metric: str
    source: str
    canary: str
    ok: bool


@dataclass(frozen=True, kw_only=True)
class GateReached(Event):
    """The engine stopped at an approval gate; the caller decides whether to go on."""

    gate: str
    passed: bool
    summary: str


@dataclass(frozen=True, kw_only=True)
class ColumnOverridden(Event):
    """The operator changed a column's type or date order before the clean; the profile was
    re-scored: the column's invalid cells, the score, and whether the quality gate passes."""

    table: str
    column: str
    type: str
    date_order: str
    invalid: int
    score: int
    passed: bool


@dataclass(frozen=True, kw_only=True)
class GateAwaiting(Event):
    """A detached run waits at a gate until a client approves it (or overrides, when
    ``needs_reason``: the gate refused)."""

    gate: str
    summary: str
    needs_reason: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    """What the gate shows beyond its summary, so that a client attaching while the run
    waits rebuilds the same screen: the cutover's plan, the canary's report."""


@dataclass(frozen=True, kw_only=True)
class GateApproved(Event):
    """The run goes on from a gate: who decided (a client's name, or ``--yes``) and the
    override reason typed at a refused quality gate. A resume keeps the quality gate only
    when the journal shows the run went on from it; the later gates come before steps not
    yet done, so a resume asks at them again anyway."""

    gate: str
    by: str
    reason: str = ""


BY_COMMAND_LINE = "the command line"
"""GateApproved's ``by`` for a gate passed without a client: ``--yes``, or a headless run's
passing quality score."""


@dataclass(frozen=True, kw_only=True)
class ClientDetached(Event):
    """The client that controlled a detached run went away (it quit, its terminal closed,
    it was killed). Not a cancel: the run goes on, and the next client may take control."""

    client: str


@dataclass(frozen=True, kw_only=True)
class RunEnded(Event):
    """A detached run is over: its outcome and the exit status the command line gives."""

    outcome: str
    exit_code: int
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class SqlExecuted(Event):
    """A statement the engine ran against the target (for the console's command log)."""

    statement: str


@dataclass(frozen=True, kw_only=True)
class StageFinished(Event):
    """A stage ended normally; ``summary`` holds its headline figures."""

    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StageFailed(Event):
    """A stage ended with an error; ``error`` is one line for the operator."""

    error: str
    seconds: float = 0.0


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        StageStarted,
        Progress,
        CheckResult,
        Finding,
        DiffSample,
        CanaryMetric,
        GateReached,
        ColumnOverridden,
        GateAwaiting,
        GateApproved,
        ClientDetached,
        RunEnded,
        SqlExecuted,
        StageFinished,
        StageFailed,
    )
}


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event read back from a journal line."""
    data = dict(data)
    cls = EVENT_TYPES[data.pop("kind")]
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: _tuples(v) for k, v in data.items() if k in names}
    return cls(**kwargs)


def _tuples(value: Any) -> Any:
    """JSON turns tuples into lists; frozen events keep tuples."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value
