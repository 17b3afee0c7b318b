"""Starting a detached run (``launch.start``): the run process gets the parent's settings
whole, and the target's password never reaches its command line or its run dir."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sdconsole.engine.detached import launch
from sdconsole.engine.detached.client import attach
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import StageError
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
        workdir: Path, pg_dsn: str, sample_db: Path, started) -> None:
    dsn, password = with_password(pg_dsn)
    settings = load_settings(None, workdir=workdir, target_dsn=dsn, stable_schema="helpdesk",
                             quality_threshold=100, flag_words=["sim/não"])
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
        views = conn.execute("SELECT count(*) FROM information_schema.views"
                             " WHERE table_schema = 'helpdesk'").fetchone()
        assert views is not None and views[0] > 0, "dashboards read the stable schema given"
    files = [p for p in run.run_dir.rglob("*") if p.is_file()]
    assert any(p.name == launch.OUTPUT for p in files)
    for path in files:
        assert password.encode() not in path.read_bytes(), path


def test_a_run_process_that_cannot_start_is_one_line(settings: Settings, sample_db: Path,
                                                     started) -> None:
    with pytest.raises(StageError, match=r"ended at once \(exit 2\): .*unknown mode|invalid"
                                         r" choice"):
        started.append(launch.start(settings, sample_db, mode="sideways"))
