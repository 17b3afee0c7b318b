"""Resuming an interrupted run as a detached run (what the console's resume does): it goes on
from where it stopped, waits at the gates it has not passed, numbers its journal on, and cuts
over once; on a real PostgreSQL, with real run processes.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import psycopg
from test_detached import sdconsole, until
from tui_pilot import run_processes

from sdconsole.engine.detached import launch
from sdconsole.engine.detached.client import attach
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import read_journal
from sdconsole.engine.target import deployments
from sdconsole.settings import Settings


async def test_a_run_cancelled_at_its_cutover_gate_resumes_detached_and_cuts_over_once(
    settings: Settings, sample_db: Path
) -> None:
    started = launch.start(settings, sample_db, mode="simple")
    try:
        async with attach(settings.workdir, started.run_id) as run:
            seen = await until(run, 0, ev.GateAwaiting, gate="quality")
            await run.approve("quality")
            seen += await until(run, seen[-1].seq, ev.GateAwaiting, gate="clean")
            await run.approve("clean")
            seen += await until(run, seen[-1].seq, ev.GateAwaiting, gate="cutover")
            await run.cancel()
            seen += await until(run, seen[-1].seq, ev.RunEnded)
        assert seen[-1].outcome == "interrupted"

        resumed = launch.resume(settings, started.run_id)
        assert resumed.run_dir == started.run_dir
        async with attach(settings.workdir, started.run_id) as run:
            after = await until(run, seen[-1].seq, ev.GateAwaiting, gate="cutover")
            assert not any(isinstance(e, ev.StageStarted) and e.stage == "load" for e in after)
            await run.approve("cutover")
            after += await until(run, after[-1].seq, ev.RunEnded)
        assert after[-1].outcome == "succeeded", after[-1]
    finally:
        for process in run_processes(started.run_id):
            process.kill()

    journal = [e.seq for e in read_journal(started.run_dir)]
    assert journal == list(range(1, len(journal) + 1)), "one numbering, no gap, no duplicate"
    with psycopg.connect(settings.target_dsn, autocommit=True) as conn:
        history = deployments.history(conn, settings.stable_schema)
    assert [d.status for d in history] == ["active"]
    assert run_processes(started.run_id) == []
    assert not _defunct({started.pid, resumed.pid}), "the starting process reaps its runs"


async def test_a_run_killed_waiting_at_a_passed_quality_gate_asks_there_again_on_resume(
    settings: Settings, sample_db: Path
) -> None:
    """A score that passes is no approval: the resumed run keeps its profile and asks again,
    and the journal says who approved."""
    started = launch.start(settings, sample_db, mode="simple")
    try:
        async with attach(settings.workdir, started.run_id) as run:
            seen = await until(run, 0, ev.GateAwaiting, gate="quality")
        assert any(isinstance(e, ev.GateReached) and e.passed for e in seen)
        [process] = run_processes(started.run_id)
        process.kill()
        process.wait(30)

        launch.resume(settings, started.run_id)
        async with attach(settings.workdir, started.run_id) as run:
            after = await until(run, seen[-1].seq, ev.GateAwaiting)
        assert after[-1].gate == "quality", "asked again, not passed on its score"
        assert not any(isinstance(e, ev.StageStarted) and e.stage == "profile" for e in after)
        approved = sdconsole(settings, "approve", started.run_id, "quality")
        assert approved.returncode == 0, approved.stderr
        async with attach(settings.workdir, started.run_id) as run:
            later = await until(run, after[-1].seq, ev.GateAwaiting, gate="clean")
            await run.cancel()
        [approval] = [e for e in later if isinstance(e, ev.GateApproved)]
        assert approval.gate == "quality"
        assert approval.by.startswith(f"sdconsole approve of {settings.operator} (pid ")
    finally:
        for process in run_processes(started.run_id):
            process.kill()


def _defunct(pids: set[int], seconds: float = 5.0) -> list[int]:
    """Which of ``pids`` are still defunct children of this process after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        left = [
            c.pid
            for c in psutil.Process().children()
            if c.pid in pids and c.status() == psutil.STATUS_ZOMBIE
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
