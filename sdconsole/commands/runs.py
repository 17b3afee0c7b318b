"""``sdconsole runs [--json]`` and ``sdconsole wait RUN_ID``: the work dir's migration runs,
and waiting for one to end.

``runs`` lists them newest first, one line each: the run, its mode, the last
stage it started (or the gate it waits at) and its state -- running (with
its pid), waiting (for how long: a waiting run holds the lock), interrupted
(``sdconsole resume`` finishes or discards it) or how it ended.
``--json`` prints one JSON array, an object a run
(:class:`sdconsole.engine.detached.runs.RunInfo`).

``wait`` blocks until the run ends, then says how it ended and exits with the
run's own exit status, as ``migrate`` would have; for a run that has already
ended, at once. ctrl+c stops waiting; the run goes on.

Exit status: ``runs`` 0; ``wait`` the run's own status (0 succeeded, 3 to 10 as
for ``migrate``; 10 for a run killed before it said how it ended), 2 when the
work dir has no such run, 10 when the wait itself is interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime

import psutil

from sdconsole.commands.flags import target_flag
from sdconsole.engine.detached import runs
from sdconsole.engine.detached.client import RunLost, attach
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.runtime.run import journal_tail, runs_dir
from sdconsole.settings import Settings

WIDTH = 80  # columns of a line of ``runs``
POLL_SECONDS = 0.5  # how often ``wait`` looks at a headless run's process


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="the work dir's migration runs and the state of each")
    p.add_argument("--json", action="store_true", help="print the runs as one JSON array")
    target_flag(p)
    p.set_defaults(run=run_runs)
    p = sub.add_parser("wait", help="wait until a run ends; exit with its exit status")
    p.add_argument("run_id", metavar="RUN_ID")
    target_flag(p)
    p.set_defaults(run=run_wait)


def run_runs(args: argparse.Namespace, settings: Settings) -> int:
    found = runs.list_runs(settings)
    if args.json:
        print(json.dumps([info.to_dict() for info in found]))
        return 0
    if not found:
        print(f"no migration runs in {runs_dir(settings.workdir)}")
        return 0
    print(line("RUN", "MODE", "STAGE", "STATE"))
    for info in found:
        where = f"{info.gate} gate" if info.gate else info.stage or "-"
        print(line(info.run_id, info.mode or "?", where, state_of(info)))
    return 0


def line(run_id: str, mode: str, stage: str, state: str) -> str:
    return f"{run_id:<27} {mode[:10]:<10} {stage[:12]:<12} {state}"[:WIDTH].rstrip()


def state_of(info: runs.RunInfo) -> str:
    """The state column: what the run is doing, or how it ended."""
    if info.state == "running":
        return f"running, pid {info.pid}"
    if info.state == "waiting":
        return f"waiting for {waited(info.waiting_since)}" if info.waiting_since else "waiting"
    if info.state == "interrupted":
        return "interrupted: resume it"
    return f"{info.outcome or 'ended'} (exit {info.exit_code})"


def waited(since: datetime) -> str:
    """How long since ``since``, to the unit that matters: '40 s', '12 min', '3 h 05 min',
    '2 d 04 h' (a run that waits for days at a gate holds the lock all that time)."""
    seconds = max(0, int((datetime.now(UTC) - since).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 90:
        return f"{seconds} s"
    if minutes < 90:
        return f"{minutes} min"
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{days} d {hours % 24:02d} h"


def run_wait(args: argparse.Namespace, settings: Settings) -> int:
    info = _find(settings, args.run_id)
    if runs.serving_pid(info.run_dir) is not None:
        asyncio.run(_follow(settings, info))
    elif info.state == "running" and info.pid is not None:  # headless: no socket to follow
        while alive(info.pid):
            time.sleep(POLL_SECONDS)
    info = _find(settings, args.run_id)
    code = info.exit_code if info.exit_code is not None else runs.KILLED_EXIT
    print(f"run {info.run_id} {info.outcome or info.state} (exit {code})")
    return code


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs: one that has exited but is not reaped yet (a
    zombie of the process that started it) has ended."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _find(settings: Settings, run_id: str) -> runs.RunInfo:
    info = runs.find_run(settings, run_id)
    if info is None:
        raise BadInput(f"no migration run {run_id} in {runs_dir(settings.workdir)}")
    return info


async def _follow(settings: Settings, info: runs.RunInfo) -> None:
    """Follow the run's events from the journal's end until its RunEnded (or it is gone:
    its state then says it was interrupted)."""
    last = next(journal_tail(info.run_dir), None)
    async with attach(settings.workdir, info.run_id) as run:
        with contextlib.suppress(RunLost):
            async for event in run.events(since=last.seq if last is not None else 0):
                if isinstance(event, ev.RunEnded):
                    return
