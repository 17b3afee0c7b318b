"""Starting a detached run (``launch.start``): the run process gets the parent's settings
whole, and the target's password never reaches its command line or its run dir."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sdconsole.engine.detached import launch
from sdconsole.engine.detached.client import attach
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.run import journal_tail
from sdconsole.settings import Settings, load_settings


@pytest.fixture
def started():
    """Runs a test starts; none outlives it."""
    runs: list[launch.StartedRun] = []
    yield runs
    for run in runs:
        if psutil.pid_exists(run.pid):
            psutil.Process(run.pid).kill()


def with_password(dsn: str) -> tuple[str, str]:
    """The DSN with a password (its own, or one a trusting server ignores) and that password."""
    password = conninfo_to_dict(dsn).get("password") or f"pw-{secrets.token_hex(8)}"
    return make_conninfo(dsn, password=password), str(password)


async def follow_to_the_end(workdir: Path, run_id: str) -> list[ev.Event]:
    """Approve each gate as the run reaches it (overriding the refused quality gate)."""
    seen: list[ev.Event] = []
    async with attach(workdir, run_id) as run:
        async for event in run.events():
            seen.append(event)
            if isinstance(event, ev.GateAwaiting):
                if event.needs_reason:
                    await run.override("accepted for the test", event.gate)
                else:
                    await run.approve(event.gate)
    return seen


def test_the_run_process_uses_the_parents_settings_and_never_shows_the_password(
    workdir: Path, pg_dsn: str, sample_db: Path, started
) -> None:
    dsn, password = with_password(pg_dsn)
    settings = load_settings(
        None,
        workdir=workdir,
        target_dsn=dsn,
        stable_schema="helpdesk",
        quality_threshold=100,
        flag_words=["sim/não"],
    )
    run = launch.start(settings, sample_db, mode="simple")
    started.append(run)
    process = psutil.Process(run.pid)
    cmdline = " ".join(process.cmdline())
    assert run.run_id in cmdline and "--serve" in cmdline
    assert password not in cmdline and "helpdesk" not in cmdline

    events = asyncio.run(follow_to_the_end(workdir, run.run_id))
    [quality] = [e for e in events if isinstance(e, ev.GateAwaiting) and e.gate == "quality"]
    assert quality.needs_reason and "below the threshold 100" in quality.summary
    assert events[-1] == next(e for e in events if isinstance(e, ev.RunEnded))
    assert events[-1].outcome == "succeeded", events[-1]
    process.wait(30)
    with psycopg.connect(dsn) as conn:
        views = conn.execute(
            "SELECT count(*) FROM information_schema.views WHERE table_schema = 'helpdesk'"
        ).fetchone()
        assert views is not None and views[0] > 0, "dashboards read the stable schema given"
    files = [p for p in run.run_dir.rglob("*") if p.is_file()]
    assert any(p.name == launch.OUTPUT for p in files)
    for path in files:
        assert password.encode() not in path.read_bytes(), path


def test_a_run_process_that_cannot_start_is_one_line(
    offline_settings: Settings, sample_db: Path, started
) -> None:
    with pytest.raises(
        StageError,
        match=r"ended at once \(exit 2\): .*unknown mode|invalid"
        r" choice",
    ):
        started.append(launch.start(offline_settings, sample_db, mode="sideways"))


def command(settings: Settings, *args: str) -> dict[str, Any]:
    """``sdconsole ARGS`` in the test's work dir, against its database, for subprocess."""
    return {
        "args": [sys.executable, "-m", "sdconsole", "--workdir", str(settings.workdir), *args],
        "env": {**os.environ, "SDCONSOLE_TARGET_DSN": str(settings.target_dsn)},
        "text": True,
    }


def sdconsole(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(**command(settings, *args), capture_output=True, timeout=300)


def test_runs_lists_each_run_with_its_state_and_wait_gives_its_exit_status(
    settings: Settings, sample_db: Path, started
) -> None:
    done = sdconsole(settings, "migrate", str(sample_db), "--mode", "simple", "--yes")
    assert done.returncode == 0, done.stderr
    run = launch.start(settings, sample_db, mode="simple")
    started.append(run)

    async def at_the_gate() -> None:
        async with attach(settings.workdir, run.run_id) as client:
            async for event in client.events():
                if isinstance(event, ev.GateAwaiting):
                    return

    asyncio.run(at_the_gate())
    listed = sdconsole(settings, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    waiting, ended = json.loads(listed.stdout)
    assert (waiting["run_id"], waiting["state"], waiting["gate"], waiting["pid"]) == (
        run.run_id,
        "waiting",
        "quality",
        run.pid,
    )
    assert waiting["mode"] == "simple" and waiting["source"] == str(sample_db)
    assert (ended["state"], ended["outcome"], ended["exit_code"]) == ("ended", "succeeded", 0)
    assert ended["stage"] == "cutover"
    text = sdconsole(settings, "runs").stdout.splitlines()
    assert all(len(line) <= 80 for line in text), text
    assert re.search(f"^{run.run_id} simple +quality gate +waiting for \\d+ s$", text[1])
    assert "succeeded (exit 0)" in text[2]
    since = datetime.fromisoformat(waiting["waiting_since"])
    assert timedelta(0) <= datetime.now(UTC) - since < timedelta(minutes=5)
    second = sdconsole(settings, "migrate", str(sample_db), "--yes")
    assert second.returncode == 6, second.stderr
    assert (
        ", waiting at the quality gate since 20" in second.stderr
        and f"(sdconsole attach {run.run_id}, or sdconsole cancel {run.run_id})" in second.stderr
    ), "a second operator learns the holder waits, and how to go on"

    waiter = subprocess.Popen(
        **command(settings, "wait", run.run_id), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert sdconsole(settings, "cancel", run.run_id).returncode == 0
        out, err = waiter.communicate(timeout=120)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 10, err
    assert out.strip() == f"run {run.run_id} interrupted (exit 10)"
    again = sdconsole(settings, "wait", run.run_id)  # it has ended: at once, from its journal
    assert again.returncode == 10 and again.stdout == out
    listed_after = json.loads(sdconsole(settings, "runs", "--json").stdout)
    assert listed_after[0]["state"] == "interrupted"
    first = sdconsole(settings, "wait", ended["run_id"])
    assert first.returncode == 0 and "succeeded (exit 0)" in first.stdout
    missing = sdconsole(settings, "wait", "20000101T000000.000Z-000000")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "sdconsole: error: no migration run 20000101T000000.000Z-000000 in"
        f" {settings.workdir / 'runs'}"
    ]


def test_runs_reads_only_the_tail_of_a_long_journal(tmp_path: Path) -> None:
    """A journal of 100k lines: the stage is the last one started, found from the end."""
    journal = tmp_path / "events.jsonl"
    lines = [json.dumps(ev.StageStarted(stage="load", seq=1).to_dict())]
    lines += [
        json.dumps(
            ev.Progress(stage="load", table="tickets", done=i, total=10**5, seq=i + 2).to_dict()
        )
        for i in range(100_000)
    ]
    lines.append('{"kind": "Progress", "torn')
    journal.write_text("\n".join(lines))
    newest = list(journal_tail(tmp_path))
    assert newest[0].seq == 100_001, "the torn last line is skipped"
    assert [e.seq for e in newest] == list(range(100_001, 0, -1)), "every line, none twice"
    assert isinstance(newest[-1], ev.StageStarted)


def test_wait_follows_a_headless_run_until_its_process_has_gone(
    settings: Settings, holder_process: subprocess.Popen[str]
) -> None:
    """A run without a control socket is followed through the lock its process holds; its
    process ending unreaped (a zombie of the process that started it) is its end."""
    from sdconsole.commands.runs import alive
    from sdconsole.engine.detached import runs

    run_dir = settings.workdir / "runs" / "run-of-alice"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(
        json.dumps({"source": "s.db", "mode": "simple", "outcome": None})
    )
    [info] = runs.list_runs(settings)
    assert (info.state, info.pid, info.stage) == ("running", holder_process.pid, None)
    waiter = subprocess.Popen(
        **command(settings, "wait", "run-of-alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        holder_process.stdin.close()  # it ends, and nobody reaps it yet
        out, err = waiter.communicate(timeout=120)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert not alive(holder_process.pid) and psutil.pid_exists(holder_process.pid)
    assert waiter.returncode == 10, err
    assert out == "run run-of-alice interrupted (exit 10)\n", "killed before it said how it ended"
