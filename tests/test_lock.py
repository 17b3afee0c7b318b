"""The run lock: one mutating run per target and work dir, holder named, stale files taken over."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from cli_argv import sdconsole_argv
from versions import STABLE, make_version, sdconsole, statuses

from sdconsole.engine.runtime.errors import LockHeld
from sdconsole.engine.target import deployments, lock
from sdconsole.settings import load_settings


def _holder_line(proc: subprocess.Popen) -> str:
    return f"run run-of-alice by alice (pid {proc.pid} on {socket.gethostname()}) since 20"


def test_a_second_run_fails_at_once_naming_the_holder(holder_process, settings, pg_dsn, workdir):
    started = time.monotonic()
    with pytest.raises(LockHeld) as info:
        lock.acquire(pg_dsn, settings, "run-of-bob")
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert message.startswith(
        f"another run holds the lock on work dir {workdir}: " + _holder_line(holder_process)
    )
    assert message.endswith(" UTC") and "\n" not in message
    assert lock.holder(settings).startswith(_holder_line(holder_process))

    done = sdconsole("--workdir", str(workdir), "rollback", "--yes", "--target", pg_dsn)
    assert done.returncode == 6
    assert done.stderr.startswith("sdconsole: error: another run holds the lock")
    assert "run-of-alice by alice" in done.stderr and done.stderr.count("\n") == 1


def test_the_target_lock_holds_across_work_dirs(holder_process, pg_dsn, tmp_path):
    elsewhere = load_settings(None, workdir=tmp_path / "other-machine", target_dsn=pg_dsn)

    with pytest.raises(LockHeld) as info:
        lock.acquire(pg_dsn, elsewhere, "run-of-bob")

    assert str(info.value).startswith(
        f"another run holds the lock on {STABLE}: " + _holder_line(holder_process)
    )
    assert lock.holder(elsewhere) is None  # its own work dir is free ...
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # ... the target is not
        assert lock.holder(elsewhere, conn).startswith(_holder_line(holder_process))


def test_the_lock_is_free_again_after_release(settings, pg_dsn, workdir):
    with lock.acquire(pg_dsn, settings, "first") as held:
        assert json.loads((workdir / "sdconsole.lock").read_text())["run_id"] == "first"
        assert held.taken_over is None
    assert not (workdir / "sdconsole.lock").exists()
    assert lock.holder(settings) is None
    with (
        lock.acquire(pg_dsn, settings, "second") as held,
        psycopg.connect(pg_dsn, autocommit=True) as conn,
    ):
        held.set_stage("load")
        assert conn.execute("SELECT run_id, stage FROM sdconsole.locks").fetchall() == [
            ("second", "load")
        ]
        assert json.loads((workdir / "sdconsole.lock").read_text())["stage"] == "load"
        assert lock.holder(settings, conn) is None, "this process's own run is not another's"


def test_a_killed_holder_leaves_a_stale_file_that_is_taken_over(
    holder_process, settings, pg_dsn, workdir, caplog
):
    holder_process.send_signal(signal.SIGKILL)
    holder_process.wait(timeout=30)
    assert (workdir / "sdconsole.lock").exists()

    deadline = time.monotonic() + 10  # the server notices the dead client's socket
    with caplog.at_level(logging.WARNING, logger="sdconsole.lock"):
        while True:
            try:
                held = lock.acquire(pg_dsn, settings, "run-of-bob")
                break
            except LockHeld:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    with held:
        assert held.taken_over["run_id"] == "run-of-alice"
        assert held.taken_over["pid"] == holder_process.pid
    assert "took over a stale lock file" in caplog.text
    assert lock.holder(settings) is None


def test_a_stale_lock_file_from_a_dead_process_is_taken_over_with_a_warning(
    settings, pg_dsn, workdir, caplog
):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = {
        "run_id": "crashed",
        "operator": "carol",
        "pid": int(dead),
        "host": socket.gethostname(),
        "since": "2025-01-31T09:00:00+00:00",
    }
    (workdir / "sdconsole.lock").write_text(json.dumps(stale))

    with (
        caplog.at_level(logging.WARNING, logger="sdconsole.lock"),
        lock.acquire(pg_dsn, settings, "fresh") as held,
    ):
        assert held.taken_over == stale
        assert json.loads((workdir / "sdconsole.lock").read_text())["run_id"] == "fresh"
    assert (
        f"took over a stale lock file {workdir / 'sdconsole.lock'} left by run crashed by"
        f" carol (pid {dead} on {socket.gethostname()}) since 2025-01-31 09:00:00 UTC"
        in caplog.text
    )


def test_taking_the_lock_marks_what_a_dead_run_left_loading_as_failed(settings, pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        v1 = make_version(conn, 3)
        deployments.record_run_start(conn, STABLE, "dead-run", "complete", "/x.db", "alice")
        v2, _ = deployments.begin(conn, STABLE, "dead-run", "/x.db", "ab", "alice", 90)

        with lock.acquire(pg_dsn, settings, "next-run") as held:
            assert held.abandoned_versions == [v2]

        assert statuses(conn) == {v1: "loaded", v2: "failed"}
        left = deployments.interrupted(conn, STABLE)
        assert [d.version for d in left] == [v2]
        assert left[0].error == (
            "run dead-run ended before the load finished (killed or disconnected)"
        )
        assert deployments.failed_version(conn, STABLE, "dead-run") == v2
        assert [r.outcome for r in deployments.last_runs(conn, STABLE)] == ["abandoned"]


def test_lock_keys_are_the_same_in_every_process_and_differ_per_schema():
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sdconsole.engine.target import lock; print(lock.lock_key('servicedesk'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(other) == lock.lock_key("servicedesk")
    keys = {
        lock.lock_key("servicedesk"),
        lock.lock_key("servicedesk", "switch"),
        lock.lock_key("helpdesk"),
    }
    assert len(keys) == 3 and all(-(2**63) <= k < 2**63 for k in keys)


def _paused_at(stage: str, settings, source: Path) -> subprocess.Popen:
    """A migration stopped (SIGSTOP) as ``stage`` starts: it holds the lock, frozen there."""
    proc = subprocess.Popen(
        sdconsole_argv(settings, "migrate", str(source), "--mode", "simple", "--yes", "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:
        event = json.loads(line)
        if event["kind"] == "StageStarted" and event["stage"] == stage:
            proc.send_signal(signal.SIGSTOP)
            return proc
    raise AssertionError(f"the migration ended before {stage}: {proc.wait()}")


@pytest.mark.parametrize("stage", ["preflight", "clean"])
def test_a_migration_holds_the_lock_from_its_first_stage(
    stage, settings, pg_dsn, workdir, sample_db, tmp_path
):
    first = _paused_at(stage, settings, sample_db)
    try:
        run_id = json.loads((workdir / "sdconsole.lock").read_text())["run_id"]
        named = f"run {run_id} by "
        in_stage = f", in stage {stage} since 20"
        (tmp_path / "other").mkdir()  # an existing work dir: no "created" notice
        started = time.monotonic()
        second = sdconsole(
            "--workdir", str(workdir), "migrate", str(sample_db), "--yes", "--target", pg_dsn
        )
        elsewhere = sdconsole(
            "--workdir",
            str(tmp_path / "other"),
            "migrate",
            str(sample_db),
            "--yes",
            "--target",
            pg_dsn,
        )
        back = sdconsole("--workdir", str(workdir), "rollback", "--yes", "--target", pg_dsn)
        said = sdconsole("--workdir", str(workdir), "status", "--target", pg_dsn)
        assert time.monotonic() - started < 60
        for refused in (second, elsewhere, back):
            assert refused.returncode == 6, refused.stderr
            assert refused.stderr.count("\n") == 1
            assert named in refused.stderr and in_stage in refused.stderr
        assert f"another run holds the lock on {STABLE}: {named}" in elsewhere.stderr
        assert f"lock: held by {named}" in said.stdout and in_stage in said.stdout
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert statuses(conn) == {1: "active"}
        assert [r.outcome for r in deployments.last_runs(conn, STABLE)] == ["succeeded"]
    assert lock.holder(settings) is None
