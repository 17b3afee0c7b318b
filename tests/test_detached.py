"""Runs that survive the terminal: a detached run process, clients that attach, approve,
detach and attach again, on a real PostgreSQL and real SQLite files.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import pytest
from tui_pilot import run_processes

from sdconsole.engine.detached.client import CommandRefused, RunLost, attach
from sdconsole.engine.detached.control import socket_path
from sdconsole.engine.detached.runs import listening_runs
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import runs_dir
from sdconsole.settings import Settings


def sdconsole(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sdconsole", "--workdir", str(settings.workdir), *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ), timeout=300
    )


@pytest.fixture
def detach(settings: Settings):
    """Start detached runs (simple mode); whatever the test does, none outlives it."""
    started: list[str] = []

    def start(source: Path, *extra: str) -> str:
        done = sdconsole(
            settings,
            "migrate",
            str(source),
            "--target",
            settings.target_dsn,
            "--mode",
            "simple",
            "--detach",
            *extra,
        )
        assert done.returncode == 0, done.stderr
        run_id = done.stdout.split()[1]
        assert f"sdconsole attach {run_id}" in done.stdout
        started.append(run_id)
        return run_id

    yield start
    for run_id in started:
        for process in run_processes(run_id):
            process.kill()


async def until(run, since: int, kind: type, **fields) -> list[ev.Event]:
    """Events after ``since`` up to the first of ``kind`` with ``fields``."""
    seen = []
    async for event in run.events(since=since):
        seen.append(event)
        if isinstance(event, kind) and all(getattr(event, k) == v for k, v in fields.items()):
            return seen
    raise AssertionError(f"the run ended before a {kind.__name__} {fields}: {seen[-3:]}")


def run_process(run_id: str) -> psutil.Process:
    [process] = run_processes(run_id)
    return process


async def test_a_detached_run_waits_at_gates_and_clients_come_and_go(
    settings: Settings, sample_db: Path, detach
) -> None:
    run_id = detach(sample_db)
    process = run_process(run_id)
    assert os.getsid(process.pid) != os.getsid(0), "its own session, away from the terminal"
    assert process.terminal() is None
    path = socket_path(runs_dir(settings.workdir) / run_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    async with attach(settings.workdir, run_id) as first:
        events = await until(first, 0, ev.GateAwaiting, gate="quality")
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "the journal replayed in order, from 1"

    process.send_signal(signal.SIGHUP)  # a hang-up of the terminal it started from: no effect
    async with (
        attach(settings.workdir, run_id) as second,
        attach(settings.workdir, run_id) as watcher,
    ):
        await second.approve("quality")
        with pytest.raises(CommandRefused, match="another client controls this run"):
            await watcher.approve("clean")
        later = await until(second, seqs[-1], ev.GateAwaiting, gate="clean")
        assert later[0].seq == seqs[-1] + 1, "no gap and no duplicate at the seam"
        with pytest.raises(CommandRefused, match="waits at the clean gate, not cutover"):
            await second.approve("cutover")
        await second.approve("clean")
        last = (await until(second, later[-1].seq, ev.GateAwaiting, gate="cutover"))[-1]
    # The controlling client has gone; the run waits at its gate for the next one.
    approved = sdconsole(settings, "approve", run_id, "cutover")
    assert approved.returncode == 0, approved.stderr
    followed = sdconsole(settings, "attach", run_id, "--since", str(last.seq))
    assert followed.returncode == 0, followed.stderr
    assert "== cutover done" in followed.stdout and "== run succeeded (exit 0)" in followed.stdout
    process.wait(30)
    with psycopg.connect(settings.target_dsn) as conn:
        assert conn.execute("SELECT status FROM sdconsole.deployments").fetchall() == [("active",)]
        [detail] = conn.execute("SELECT detail FROM sdconsole.audit WHERE action = 'cutover'")
    assert f"approved by sdconsole approve of {settings.operator} (pid " in detail[0]
    assert not path.exists()


def test_cancel_stops_a_waiting_run_and_a_refused_gate_needs_a_reason(
    settings: Settings, sample_db: Path, detach
) -> None:
    run_id = detach(sample_db, "--quality-threshold", "100")
    process = run_process(run_id)

    async def at_the_gate() -> ev.GateAwaiting:
        async with attach(settings.workdir, run_id) as run:
            return (await until(run, 0, ev.GateAwaiting, gate="quality"))[-1]

    gate = asyncio.run(at_the_gate())
    assert gate.needs_reason and "below the threshold 100" in gate.summary
    refused = sdconsole(settings, "approve", run_id, "quality")
    assert refused.returncode == 2 and "override it with a typed reason" in refused.stderr
    cancelled = sdconsole(settings, "cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    followed = sdconsole(settings, "attach", run_id)
    assert followed.returncode == 10 and "== run interrupted (exit 10)" in followed.stdout
    process.wait(30)
    replayed = sdconsole(settings, "attach", run_id)  # an ended run: its journal
    assert replayed.returncode == 10 and replayed.stdout == followed.stdout
    gone = sdconsole(settings, "approve", run_id, "quality")
    assert gone.returncode == 2 and "is not running" in gone.stderr


def test_what_a_run_writes_is_its_owners_only(settings: Settings, sample_db: Path) -> None:
    """Runs hold customer data: every file 0600, every directory 0700."""
    done = sdconsole(
        settings,
        "migrate",
        str(sample_db),
        "--target",
        settings.target_dsn,
        "--mode",
        "blue-green",
        "--yes",
    )
    assert done.returncode == 0, done.stderr
    again = sdconsole(
        settings,
        "migrate",
        str(sample_db),
        "--target",
        settings.target_dsn,
        "--mode",
        "blue-green",
        "--yes",
    )  # a backup of the first version too
    assert again.returncode == 0, again.stderr
    for folder in ("runs", "backups"):
        for path in [settings.workdir / folder, *(settings.workdir / folder).rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert list((settings.workdir / "backups").glob("*.dump")), "the backup was checked too"


async def test_a_column_changed_at_the_quality_gate_is_decided_again_before_the_run_goes_on(
    settings: Settings, sample_db: Path, detach
) -> None:
    run_id = detach(sample_db)
    async with attach(settings.workdir, run_id) as run:
        seen = await until(run, 0, ev.GateAwaiting, gate="quality")
        await run.set_column("tickets", "TKT-Title", type="text")  # as it is: still passes
        changed = await until(run, seen[-1].seq, ev.ColumnOverridden)
        assert changed[-1].passed
        await run.approve("quality")
        after = await until(run, changed[-1].seq, ev.GateAwaiting, gate="clean")
        [decided] = [e for e in after if isinstance(e, ev.GateReached)]
        assert decided.gate == "quality" and decided.passed, "decided again, on the new score"

        with pytest.raises(CommandRefused, match="only while the run waits at the quality"):
            await run.set_column("tickets", "TKT-Title", type="text")
        await run.cancel()


async def test_a_refused_gate_waits_on_the_verdict_of_the_last_column_changed(
    settings: Settings, sample_db: Path, detach
) -> None:
    run_id = detach(sample_db, "--quality-threshold", "95")  # the sample scores 94
    async with attach(settings.workdir, run_id) as run:
        seen = await until(run, 0, ev.GateAwaiting, gate="quality")
        assert seen[-1].needs_reason, "refused: it waits for a reason"
        await run.set_column("tickets", "TKT-Closure Date", type="text")  # its invalid go
        passes = await until(run, seen[-1].seq, ev.ColumnOverridden)
        assert passes[-1].passed, passes[-1]
        await run.set_column("tickets", "TKT-Closure Date", type="timestamp")
        fails = await until(run, passes[-1].seq, ev.ColumnOverridden)
        assert not fails[-1].passed, fails[-1]
        with pytest.raises(CommandRefused, match="override it with a typed reason"):
            await run.approve("quality")
        await run.set_column("tickets", "TKT-Closure Date", type="text")
        again = await until(run, fails[-1].seq, ev.ColumnOverridden)

        await run.approve("quality")  # no reason: the new score passes

        after = await until(run, again[-1].seq, ev.GateAwaiting, gate="clean")
        [decided] = [e for e in after if isinstance(e, ev.GateReached)]
        assert decided.passed and "meets the threshold 95" in decided.summary
        await run.cancel()


async def test_a_killed_run_process_is_reported_as_interrupted_not_as_done(
    settings: Settings, sample_db: Path, detach
) -> None:
    run_id = detach(sample_db)
    path = socket_path(runs_dir(settings.workdir) / run_id)
    async with attach(settings.workdir, run_id) as run:
        await until(run, 0, ev.GateAwaiting, gate="quality")
        process = run_process(run_id)
        process.kill()
        process.wait(30)
        with pytest.raises(RunLost, match="stopped without saying how it ended"):
            async for _ in run.events():
                pass
    assert path.exists(), "a killed process leaves its socket file"
    assert listening_runs(settings.workdir) == [], "but nothing listens there"

    printed = sdconsole(settings, "attach", run_id, "--print")
    assert printed.returncode == 10, "interrupted, not done"
    assert printed.stderr.count("\n") == 1, printed.stderr
    assert f"`sdconsole resume {run_id}` goes on with it" in printed.stderr
    newest = sdconsole(settings, "attach", "--print")
    assert newest.returncode == 2 and "no run is running" in newest.stderr
    waited = sdconsole(settings, "wait", run_id)
    assert waited.returncode == 10 and waited.stdout == f"run {run_id} interrupted (exit 10)\n"


def test_a_run_in_a_work_dir_too_long_for_a_socket_address_is_reached(
    settings: Settings, sample_db: Path, tmp_path: Path
) -> None:
    """A Unix socket address holds 108 bytes; a deep work dir's socket path is longer."""
    deep = settings.model_copy(update={"workdir": tmp_path / ("w" * 60) / ("d" * 60)})
    started = sdconsole(
        deep, "migrate", str(sample_db), "--target", deep.target_dsn, "--mode", "simple", "--detach"
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[1]
    path = socket_path(runs_dir(deep.workdir) / run_id)
    assert len(str(path).encode()) > 108
    try:
        assert listening_runs(deep.workdir) == [path.parent]

        async def at_the_gate() -> ev.GateAwaiting:
            async with attach(deep.workdir, run_id) as run:
                return (await until(run, 0, ev.GateAwaiting, gate="quality"))[-1]

        assert asyncio.run(at_the_gate()).gate == "quality"
        assert sdconsole(deep, "cancel", run_id).returncode == 0
        assert sdconsole(deep, "wait", run_id).returncode == 10
    finally:
        for process in run_processes(run_id):
            process.kill()
