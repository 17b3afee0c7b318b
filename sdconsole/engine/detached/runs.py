"""The migration runs of a work dir and the state of each: running, waiting at a gate,
interrupted, or ended.

Read from the run dirs alone (and the lock, for a headless run in progress):
a run's record says its source and mode; its journal's tail says the stage it
is in, the gate it waits at and how it ended. Journals may hold a hundred
thousand lines, so only their tail is read, block by block from the end. A
run is *running* while its control socket answers (or it holds the work dir's
lock), *waiting* when it is running and its last event is a ``GateAwaiting``,
*interrupted* as :func:`sdconsole.engine.target.status.interrupted_runs`
defines it (the one definition ``status`` and ``resume`` use too), and
*ended* otherwise.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sdconsole.engine.detached.control import reachable, socket_path
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime import run as runs_mod
from sdconsole.engine.runtime.run import journal_event, journal_tail, read_record
from sdconsole.engine.target import lock
from sdconsole.engine.target.status import AFTER_THE_RUN, interrupted_runs
from sdconsole.settings import Settings

State = Literal["running", "waiting", "interrupted", "ended"]
ANSWER_SECONDS = 2.0  # how long a control socket may take to accept a connection
# A run's exit status when its journal does not say (a run killed, or from an older version).
EXIT_OF_OUTCOME = {"succeeded": 0, "discarded": 0, "stopped": 7, "failed": 9, "interrupted": 10}
KILLED_EXIT = 10


@dataclass(frozen=True)
class RunInfo:
    """One migration run as ``sdconsole runs`` lists it."""

    run_id: str
    run_dir: Path
    source: str | None
    mode: str | None
    stage: str | None  # the last stage started; None before the first
    state: State
    gate: str | None = None  # the gate a waiting run waits at
    outcome: str | None = None  # how an ended or interrupted run ended, when it said
    exit_code: int | None = None  # ... and its exit status
    pid: int | None = None  # the process of a running run
    started: datetime | None = None
    waiting_since: datetime | None = None  # when a waiting run began to wait at its gate

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "source": self.source,
            "mode": self.mode,
            "stage": self.stage,
            "state": self.state,
            "gate": self.gate,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "pid": self.pid,
            "started": self.started.isoformat() if self.started else None,
            "waiting_since": self.waiting_since.isoformat() if self.waiting_since else None,
        }


def list_runs(settings: Settings) -> list[RunInfo]:
    """The work dir's migration runs, newest first."""
    interrupted = {r.run_id for r in interrupted_runs(settings)}
    holder = lock.holder_record(settings) or {}
    found = []
    for run_dir in runs_mod.list_runs(settings.workdir):
        info = read_run(run_dir, interrupted, holder)
        if info is not None:
            found.append(info)
    return found


def find_run(settings: Settings, run_id: str) -> RunInfo | None:
    """One run of the work dir, or None when it has no such migration run."""
    return next((r for r in list_runs(settings) if r.run_id == run_id), None)


def read_run(run_dir: Path, interrupted: set[str], holder: dict[str, Any]) -> RunInfo | None:
    """A run dir as a RunInfo; None for a dir that is not a migration's (a profile's, say)."""
    record = read_record(run_dir)
    pid = serving_pid(run_dir)
    if pid is None and holder.get("run_id") == run_dir.name:
        pid = holder.get("pid")  # a headless run: no socket, but it holds the lock
    if not record and pid is None:
        return None
    stage, last, ended = _tail_facts(run_dir)
    state: State
    if pid is not None:
        state = "waiting" if isinstance(last, ev.GateAwaiting) else "running"
    elif run_dir.name in interrupted:
        state = "interrupted"
    else:
        state = "ended"
    outcome = (
        ended.outcome
        if ended is not None
        else record.get("outcome")
        if state in ("ended", "interrupted")
        else None
    )
    exit_code = None
    if ended is not None:
        exit_code = ended.exit_code
    elif state in ("ended", "interrupted"):
        exit_code = EXIT_OF_OUTCOME.get(outcome or "", KILLED_EXIT)
    waiting = last if state == "waiting" and isinstance(last, ev.GateAwaiting) else None
    return RunInfo(
        run_id=run_dir.name,
        run_dir=run_dir,
        source=record.get("source"),
        mode=record.get("mode"),
        stage=stage,
        state=state,
        gate=waiting.gate if waiting is not None else None,
        outcome=outcome,
        exit_code=exit_code,
        pid=pid,
        started=_started(run_dir),
        waiting_since=datetime.fromtimestamp(waiting.ts, UTC) if waiting is not None else None,
    )


def listening_runs(workdir: Path) -> list[Path]:
    """The run dirs of ``workdir`` whose run process answers on its control socket, newest
    first (run ids sort by their start); a killed one's socket file stays, unanswered."""
    found = (d for d in runs_mod.runs_dir(workdir).glob("*") if serving_pid(d) is not None)
    return sorted(found, reverse=True)


def serving_pid(run_dir: Path) -> int | None:
    """The pid of the process answering on the run's control socket, or None."""
    path = socket_path(run_dir)
    if not path.exists():
        return None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(ANSWER_SECONDS)
        try:
            with reachable(path) as address:
                sock.connect(address)
            credentials = sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
            )
        except OSError:
            return None
    pid, _uid, _gid = struct.unpack("3i", credentials)
    return pid


def _tail_facts(run_dir: Path) -> tuple[str | None, ev.Event | None, ev.RunEnded | None]:
    """From the journal's end: the last stage started, the last event, and the RunEnded
    that came after that stage (the run's end; a resumed run's earlier end does not count)."""
    last: ev.Event | None = None
    ended: ev.RunEnded | None = None
    for event in journal_tail(run_dir):
        if last is None:
            last = event
        if isinstance(event, ev.RunEnded) and ended is None:
            ended = event
        if isinstance(event, ev.StageStarted) and event.stage not in AFTER_THE_RUN:
            return event.stage, last, ended
    return None, last, ended


def _started(run_dir: Path) -> datetime | None:
    """When the run's first event was journalled."""
    try:
        with (run_dir / runs_mod.JOURNAL).open("rb") as journal:
            first = journal_event(journal.readline())
    except OSError:
        return None
    return datetime.fromtimestamp(first.ts, UTC) if first is not None else None
