"""pg_dump backups of a version: private files, restorable, nothing left when they fail."""

from __future__ import annotations

import resource
import stat
import subprocess
import sys
import threading
import time

import psutil
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from versions import STABLE, make_version, seen, statuses, views_point_at

from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.stages import cutover
from sdconsole.engine.target import backup, lock, metadata
from sdconsole.settings import load_settings

CUTOVER = """
import sys
from pathlib import Path
import psycopg
from sdconsole.engine.stages import cutover
from sdconsole.engine.runtime.errors import EngineError
from sdconsole.engine.runtime.run import Run
from sdconsole.settings import load_settings
from sdconsole.settings import load_settings
workdir, dsn, version = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
settings = load_settings(None, workdir=workdir, target_dsn=dsn)
with Run(workdir) as run, psycopg.connect(dsn, autocommit=True) as conn:
    try:
        cutover.cutover(run, conn, dsn, settings, version)
    except EngineError as exc:
        print(exc)
        sys.exit(exc.exit_code)
"""


def test_a_dump_is_private_and_restores_the_version(conn, pg_dsn, settings):
    v1 = make_version(conn, 3)

    path = backup.dump_version(None, settings, pg_dsn, "servicedesk_v1", v1)

    assert path.parent == settings.workdir / "backups"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes()[:5] == b"PGDMP"  # custom format
    metadata.drop_schema(conn, "servicedesk_v1")

    backup.restore_version(settings, pg_dsn, path)

    rows = conn.execute("SELECT count(*), min(marker) FROM servicedesk_v1.tickets").fetchone()
    assert rows == (3, v1)
    key = conn.execute(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'servicedesk_v1'"
        " AND tablename = 'tickets'"
    ).fetchone()[0]
    assert key == 1


def test_two_dumps_in_the_same_second_get_different_files(conn, pg_dsn, settings):
    v1 = make_version(conn, 3)
    paths = {backup.dump_version(None, settings, pg_dsn, "servicedesk_v1", v1) for _ in range(3)}
    assert len(paths) == 3


def test_pg_dump_gets_the_password_from_its_environment_only(conn, pg_dsn, settings):
    secret = conninfo_to_dict(pg_dsn).get("password") or "dump-pw-0451"
    v1 = make_version(conn, 4000, padding=1500)
    seen_dumps: list[tuple[list[str], str | None]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            # This test's pg_dump only: other tests (other workers) dump at the same time.
            for proc in psutil.Process().children(recursive=True):
                try:
                    if proc.name() == "pg_dump":
                        cmdline, environ = proc.cmdline(), proc.environ()
                        # A pg_dump exiting (or exited, not reaped yet) reads as no command
                        # line and no environment at all: only a full read counts.
                        if environ and proc.status() != psutil.STATUS_ZOMBIE:
                            seen_dumps.append((cmdline, environ.get("PGPASSWORD")))
                except psutil.Error:
                    continue

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        backup.dump_version(
            None, settings, make_conninfo(pg_dsn, password=secret), "servicedesk_v1", v1
        )
    finally:
        done.set()
        watcher.join()

    assert seen_dumps, "pg_dump finished before it could be observed"
    for cmdline, password in seen_dumps:
        assert secret not in " ".join(cmdline)
        assert password == secret


def test_a_pg_dump_error_is_one_line_and_leaves_no_file(pg_dsn, settings):
    with pytest.raises(StageError) as info:
        backup.dump_version(None, settings, pg_dsn, "servicedesk_v7", 7)
    message = str(info.value)
    assert message.startswith("pg_dump of servicedesk_v7 to ")
    assert "no matching schemas were found" in message and "\n" not in message
    assert list((settings.workdir / "backups").iterdir()) == []


def test_restoring_over_an_existing_schema_fails_and_changes_nothing(conn, pg_dsn, settings):
    v1 = make_version(conn, 3)
    path = backup.dump_version(None, settings, pg_dsn, "servicedesk_v1", v1)
    conn.execute("INSERT INTO servicedesk_v1.tickets VALUES (99, 1, 'kept', NULL)")

    with pytest.raises(StageError, match=r"^pg_restore of .* failed: .*already exists"):
        backup.restore_version(settings, pg_dsn, path)

    assert conn.execute("SELECT count(*) FROM servicedesk_v1.tickets").fetchone()[0] == 4


def test_a_backup_that_runs_out_of_space_stops_the_cutover_cleanly(conn, pg_dsn, settings, workdir):
    v1 = make_version(conn, 2000, padding=400)
    v2 = make_version(conn, 5)
    with Run(workdir) as run:
        cutover.cutover(run, conn, pg_dsn, settings, v1)
    limit = 64 * 1024  # bytes any file of the process may have: the dump needs more

    done = subprocess.run(
        [sys.executable, "-c", CUTOVER, str(workdir), pg_dsn, str(v2)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )

    assert done.returncode == StageError.exit_code, done.stderr
    message = done.stdout.strip()
    assert message.startswith("pg_dump of servicedesk_v1 to ") and "\n" not in message
    assert "file size limit" in message or "could not write" in message
    assert list((workdir / "backups").iterdir()) == []
    assert seen(conn) == (2000, v1) and views_point_at(conn) == {"servicedesk_v1"}
    assert statuses(conn) == {v1: "active", v2: "loaded"}
    assert (
        conn.execute(
            "SELECT count(*) FROM sdconsole.audit WHERE stable = %s", (STABLE,)
        ).fetchone()[0]
        == 1
    )


@pytest.fixture
def full_workdir(tmp_path):
    """A work dir on a 256 KiB tmpfs (needs permission to mount, as in the CI container)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_backup_on_a_full_disk_names_the_cause_and_leaves_no_file(conn, pg_dsn, full_workdir):
    v1 = make_version(conn, 2000, padding=400)
    settings = load_settings(None, workdir=full_workdir, target_dsn=pg_dsn)

    with pytest.raises(StageError) as info:
        backup.dump_version(None, settings, pg_dsn, "servicedesk_v1", v1)

    assert str(info.value).startswith(f"pg_dump of servicedesk_v1 to {full_workdir}/backups/")
    assert str(info.value).endswith("No space left on device")
    assert list((full_workdir / "backups").iterdir()) == []


def _dead(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_killed_run_leaves_no_pg_dump_and_no_dump_under_its_name(conn, pg_dsn, settings, workdir):
    v1 = make_version(conn, 3)
    with Run(workdir) as run:
        cutover.cutover(run, conn, pg_dsn, settings, v1)
    v2 = make_version(conn, 5)
    with psycopg.connect(pg_dsn) as blocker:  # pg_dump waits for this lock, for ever
        blocker.execute("LOCK TABLE servicedesk_v1.tickets IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen([sys.executable, "-c", CUTOVER, str(workdir), pg_dsn, str(v2)])
        while not conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name"
            " = 'pg_dump' AND wait_event_type = 'Lock'"
        ).fetchone()[0]:
            assert proc.poll() is None, "the cutover ended before its dump could be seen"
        dumps = [c for c in psutil.Process(proc.pid).children() if c.name() == "pg_dump"]
        assert dumps

        proc.kill()
        proc.wait(timeout=30)

        deadline = time.monotonic() + 10
        while not all(_dead(d) for d in dumps) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_dead(d) for d in dumps), "pg_dump outlived the run that started it"
    assert not list((workdir / "backups").glob("*.dump")), "no dump under its final name"
    (partial,) = (workdir / "backups").glob("*.dump.partial")
    assert statuses(conn) == {v1: "active", v2: "loaded"}
    with lock.acquire(pg_dsn, settings, "next-run") as held:  # the next run's start
        assert held.removed == [partial]
    assert list((workdir / "backups").iterdir()) == []
