"""``sdconsole runs [--json]`` and ``sdconsole wait RUN_ID``: the work dir's migration runs,
and waiting for one to end.

``runs`` lists them newest first, one line each: the run, its mode, the last
stage it started and its state -- running (with its pid), waiting at a gate,
interrupted (``sdconsole resume`` finishes or discards it) or how it ended.
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
import json
import time

import psutil

from sdconsole.commands.flags import target_flag
from sdconsole.engine.detached import runs
from sdconsole.engine.detached.client import attach
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
        print(line(info.run_id, info.mode or "?", info.stage or "-", state_of(info)))
    return 0


def line(run_id: str, mode: str, stage: str, state: str) -> str:
    return f"{run_id:<27} {mode[:10]:<10} {stage[:12]:<12} {state}"[:WIDTH].rstrip()


def state_of(info: runs.RunInfo) -> str:
    """The state column: what the run is doing, or how it ended."""
    if info.state == "running":
        return f"running, pid {info.pid}"
    if info.state == "waiting":
        return f"waiting at the {info.gate} gate"
    if info.state == "interrupted":
        return "interrupted: resume it"
    return f"{info.outcome or 'ended'} (exit {info.exit_code})"


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
    """Follow the run's events from the journal's end until its RunEnded (or it is gone)."""
    last = next(journal_tail(info.run_dir), None)
    async with attach(settings.workdir, info.run_id) as run:
        async for event in run.events(since=last.seq if last is not None else 0):
            if isinstance(event, ev.RunEnded):
                return
