"""The headless migration end to end, against a real PostgreSQL and real SQLite files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from cli_argv import sdconsole_argv
from loading import through_clean

from sdconsole.commands.migrate import journalled_end
from sdconsole.engine import pipeline
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.run import list_runs, read_journal, read_record
from sdconsole.engine.target import lock
from sdconsole.settings import Settings


def sdconsole(
    settings: Settings, *args: str, env: dict | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sdconsole", "--workdir", str(settings.workdir), *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        **kwargs,
    )


def migrate(
    settings: Settings, source: Path, *extra: str, **kwargs
) -> subprocess.CompletedProcess[str]:
    return sdconsole(
        settings, "migrate", str(source), "--target", settings.target_dsn, *extra, **kwargs
    )


def source_count(source: Path, table: str) -> int:
    with sqlite3.connect(source) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def stable_count(dsn: str, table: str = "tickets") -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            psycopg.sql.SQL("SELECT count(*) FROM servicedesk.{}").format(
                psycopg.sql.Identifier(table)
            )
        ).fetchone()[0]


def view_target(dsn: str, table: str = "tickets") -> str:
    """The version schema the stable view reads from."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT DISTINCT table_schema FROM information_schema.view_table_usage"
            " WHERE view_schema = 'servicedesk' AND view_name = %s",
            (table,),
        ).fetchone()
    return row[0]


def deployment_statuses(dsn: str) -> dict[int, str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT version, status FROM sdconsole.deployments ORDER BY version"
        ).fetchall()
    return dict(rows)


def test_complete_migration_lands_every_row(settings: Settings, sample_db: Path) -> None:
    proc = migrate(settings, sample_db, "--mode", "complete", "--yes")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    for table in ("tickets", "comments", "timesheets"):
        assert stable_count(settings.target_dsn, table) == source_count(sample_db, table)
    assert view_target(settings.target_dsn) == "servicedesk_v1"
    assert deployment_statuses(settings.target_dsn) == {1: "active"}
    stages = {e.stage for e in read_journal(list_runs(settings.workdir)[0])}
    assert {"preflight", "profile", "clean", "canary", "load", "validate", "cutover"} <= stages
    with psycopg.connect(settings.target_dsn) as conn:
        kind = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema ="
            " 'servicedesk_v1' AND table_name = 'tickets' AND column_name = 'tkt_created_time'"
        ).fetchone()[0]
    assert kind.startswith("timestamp")


def test_without_yes_it_stops_at_the_gate_and_changes_nothing(
    settings: Settings, sample_db: Path
) -> None:
    proc = migrate(settings, sample_db, "--mode", "complete")
    assert proc.returncode == 7
    assert "--yes" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    with psycopg.connect(settings.target_dsn) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
    assert not any(s.startswith("servicedesk") for s in schemas)
    assert not (list_runs(settings.workdir)[0] / "working.db").exists()


def test_gate_refusal_and_override(settings: Settings, sample_copy: Path) -> None:
    with sqlite3.connect(sample_copy) as conn:  # a third of the comments lose their ticket
        conn.execute("""UPDATE comments SET "CT-TKT-ID" = '999999' WHERE rowid % 3 = 0""")
    refused = migrate(settings, sample_copy, "--mode", "simple", "--yes")
    assert refused.returncode == 4, refused.stderr
    assert "integrity 0 is below the floor 50: comments.CT-TKT-ID" in refused.stderr
    with psycopg.connect(settings.target_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('servicedesk') IS NULL").fetchone()[0]
    passed = migrate(
        settings,
        sample_copy,
        "--mode",
        "simple",
        "--yes",
        "--override-reason",
        "known orphans, accepted by ops lead",
    )
    assert passed.returncode == 0, passed.stderr
    with psycopg.connect(settings.target_dsn) as conn:
        reasons = [
            r[0]
            for r in conn.execute(
                "SELECT gate_override_reason FROM sdconsole.runs WHERE outcome = 'succeeded'"
            )
        ]
    assert reasons == ["known orphans, accepted by ops lead"]


def test_two_migrations_rollback_and_roll_forward(
    settings: Settings, sample_db: Path, tmp_path: Path
) -> None:
    assert migrate(settings, sample_db, "--mode", "simple", "--yes").returncode == 0
    bigger = tmp_path / "bigger.db"
    from sdconsole.engine.source import sample

    sample.generate(bigger, tickets=400, seed=5)
    second = migrate(settings, bigger, "--mode", "blue-green", "--yes")
    assert second.returncode == 0, second.stderr
    assert stable_count(settings.target_dsn) == source_count(bigger, "tickets")
    assert list((settings.workdir / "backups").glob("servicedesk_v1*.dump"))

    back = sdconsole(settings, "rollback", "--yes", "--target", settings.target_dsn)
    assert back.returncode == 0, back.stderr
    assert stable_count(settings.target_dsn) == source_count(sample_db, "tickets")
    assert deployment_statuses(settings.target_dsn) == {1: "active", 2: "rolled_back"}

    forward = sdconsole(settings, "rollback", "--to", "2", "--yes", "--target", settings.target_dsn)
    assert forward.returncode == 0, forward.stderr
    assert view_target(settings.target_dsn) == "servicedesk_v2"


def lingering(argument: str, seconds: float = 5.0) -> list[int]:
    """Pids of processes whose command line holds ``argument`` still alive after ``seconds``
    (forked workers keep their parent's command line)."""
    deadline = time.monotonic() + seconds
    while True:
        found = [
            p.pid for p in psutil.process_iter(["cmdline"]) if argument in (p.info["cmdline"] or [])
        ]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def until_unlocked(settings: Settings, seconds: float = 30.0) -> None:
    """Until no one holds the run lock: the server ends a killed client's session, and
    with it the advisory lock, only once it notices the client is gone."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(settings.target_dsn, autocommit=True) as conn:
        while lock.holder_record(settings, conn) is not None:
            assert time.monotonic() < deadline, f"the lock is still held: {lock.holder(settings)}"
            time.sleep(0.1)


def test_kill_during_load_leaves_active_version_and_resumes(
    settings: Settings, sample_db: Path, tmp_path: Path
) -> None:
    assert migrate(settings, sample_db, "--mode", "simple", "--yes").returncode == 0
    from sdconsole.engine.source import sample

    big = tmp_path / "big.db"
    sample.generate(big, tickets=3000, seed=9)
    command = sdconsole_argv(settings, "migrate", str(big), "--mode", "simple", "--yes", "--json")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        event = json.loads(line)
        if event["kind"] == "Progress" and event["stage"] == "load" and event["done"] > 0:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not lingering(str(big)), "a worker process outlived the killed run"
    assert view_target(settings.target_dsn) == "servicedesk_v1"
    assert stable_count(settings.target_dsn) == source_count(sample_db, "tickets")

    until_unlocked(settings)
    interrupted = pipeline.interrupted_runs(settings)
    assert [i.stage for i in interrupted] == ["load"]
    with pipeline.resume(settings, interrupted[0].run_id) as resumed:
        resumed.load()
        assert resumed.validate().ok
        resumed.cutover()
    assert view_target(settings.target_dsn) == "servicedesk_v2"
    assert stable_count(settings.target_dsn) == source_count(big, "tickets")
    assert pipeline.interrupted_runs(settings) == []


def test_dropped_connection_fails_in_one_line_then_resumes(
    settings: Settings, tmp_path: Path
) -> None:
    from sdconsole.engine.source import sample

    big = tmp_path / "big.db"
    sample.generate(big, tickets=3000, seed=9)
    killed = []

    def terminate_load(event) -> None:
        if event.kind == "Progress" and event.stage == "load" and not killed:
            with psycopg.connect(settings.target_dsn, autocommit=True) as admin:
                killed.extend(
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND query ILIKE 'COPY%%'"
                    ).fetchall()
                )

    with pipeline.Migration(settings, big, listeners=[terminate_load], mode="simple") as m:
        through_clean(m)
        with pytest.raises(StageError) as info:
            m.load()
        run_id = m.run.run_id
    assert killed and "\n" not in str(info.value)
    assert deployment_statuses(settings.target_dsn) == {1: "failed"}
    with pipeline.resume(settings, run_id) as resumed:
        resumed.load()
        assert resumed.validate().ok
        resumed.cutover()
    assert deployment_statuses(settings.target_dsn) == {1: "active"}


def test_health_floor_stops_the_stage_cleanly(settings: Settings, sample_db: Path) -> None:
    proc = migrate(
        settings,
        sample_db,
        "--mode",
        "simple",
        "--yes",
        env={"SDCONSOLE_MIN_FREE_DISK_MB": str(10**9)},
    )
    assert proc.returncode == 9
    assert "free disk" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    with psycopg.connect(settings.target_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('servicedesk') IS NULL").fetchone()[0]


def test_an_interrupt_wherever_it_strikes_the_clean_is_an_interrupt(
    settings: Settings, tmp_path: Path
) -> None:
    """A SIGINT-like signal at moments into the clean: also at the entry of a function SQLite
    calls, where SQLite reports it only as 'user-defined function raised exception'."""
    from sdconsole.engine.runtime.run import Run
    from sdconsole.engine.source import sample
    from sdconsole.engine.stages.clean import cleaner
    from sdconsole.engine.stages.profile import profiler

    big = tmp_path / "big.db"
    sample.generate(big, tickets=3000, seed=9)
    with Run.for_settings(settings) as run:
        plan = profiler.profile(run, settings, big).plan
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)  # raises as SIGINT
    try:
        for delay in (0.01, 0.03, 0.1, 0.2) * 2:

            def arm(event, delay=delay) -> None:
                if event.kind == "Progress" and not signal.getitimer(signal.ITIMER_REAL)[0]:
                    signal.setitimer(signal.ITIMER_REAL, delay)

            with (
                Run.for_settings(settings, listeners=[arm]) as run,
                pytest.raises(KeyboardInterrupt),
            ):
                cleaner.clean(run, settings, big, plan, dry_run=False)
            assert [p.name for p in run.dir.iterdir() if p.name.startswith("working")] == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_disk_full_while_writing_the_working_copy(settings: Settings, sample_db: Path) -> None:
    import resource

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    proc = migrate(settings, sample_db, "--mode", "simple", "--yes", preexec_fn=small_files)
    assert proc.returncode == 9, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    with psycopg.connect(settings.target_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('servicedesk') IS NULL").fetchone()[0]


def test_lock_held_by_another_run(settings: Settings, sample_db: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from sdconsole.settings import load_settings\n"
            "from sdconsole.engine.target import lock\n"
            f"s = load_settings(None, workdir={str(settings.workdir)!r},"
            f" target_dsn={settings.target_dsn!r})\n"
            "with lock.acquire(s.target_dsn, s, 'holder-run'):\n"
            "    print('held', flush=True); time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        proc = migrate(settings, sample_db, "--mode", "simple", "--yes")
        assert time.monotonic() - started < 60
        assert proc.returncode == 6
        assert "holder-run" in proc.stderr
    finally:
        holder.kill()
        holder.wait()


def test_a_tampered_load_fails_validation_and_blocks_cutover(
    settings: Settings, sample_db: Path
) -> None:
    from sdconsole.engine.runtime.errors import ValidationFailed

    with pipeline.Migration(settings, sample_db, mode="simple") as m:
        through_clean(m)
        m.load()
        with psycopg.connect(settings.target_dsn, autocommit=True) as conn:
            conn.execute(
                "UPDATE servicedesk_v1.tickets SET tkt_title = 'tampered'"
                " WHERE tkt_ticket_id = (SELECT min(tkt_ticket_id)"
                " FROM servicedesk_v1.tickets)"
            )
        report = m.validate()
        assert not report.ok
        assert "tickets" in report.summary
        with pytest.raises(ValidationFailed):
            m.cutover()
    with psycopg.connect(settings.target_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('servicedesk') IS NULL").fetchone()[0]
    assert deployment_statuses(settings.target_dsn) == {1: "failed"}


def cleaned_over_an_active_version(
    settings: Settings, source: Path, listeners=()
) -> pipeline.Migration:
    """A blue-green migration of ``source`` stopped after its clean; v1 is active."""
    assert migrate(settings, source, "--mode", "simple", "--yes").returncode == 0
    m = pipeline.Migration(settings, source, mode="blue-green", listeners=listeners)
    through_clean(m)
    return m


def test_the_backup_taken_beside_load_and_validation_is_the_cutovers(
    settings: Settings, sample_db: Path
) -> None:
    with cleaned_over_an_active_version(settings, sample_db) as m:
        assert m.load_validate_and_back_up().ok
        dumps = list((settings.workdir / "backups").glob("servicedesk_v1-*.dump"))
        assert len(dumps) == 1 and dumps[0].stat().st_mode & 0o777 == 0o600
        report = m.cutover()
    assert report.backup_path == str(dumps[0])
    assert list((settings.workdir / "backups").iterdir()) == dumps  # no second dump
    events = [(type(e).__name__, e.stage) for e in read_journal(m.run.dir)]
    assert events.index(("StageStarted", "backup")) < events.index(("StageFinished", "load"))
    stages = [stage for kind, stage in events if kind == "StageFinished"]
    assert stages.count("backup") == 1 and stages.index("backup") < stages.index("cutover")
    with psycopg.connect(settings.target_dsn) as conn:
        recorded = conn.execute(
            "SELECT backup_path FROM sdconsole.deployments WHERE version = 1"
        ).fetchone()[0]
    assert recorded == str(dumps[0])
    assert view_target(settings.target_dsn) == "servicedesk_v2"


def test_a_failed_load_leaves_no_backup_behind(settings: Settings, sample_db: Path) -> None:
    def drop_copy(event) -> None:
        if event.kind == "Progress" and event.stage == "load" and event.done:
            with psycopg.connect(settings.target_dsn, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query ILIKE 'COPY%%'"
                )

    with cleaned_over_an_active_version(settings, sample_db, [drop_copy]) as m:
        with pytest.raises(StageError, match="connection to the target was lost"):
            m.load_validate_and_back_up()
    assert list((settings.workdir / "backups").iterdir()) == []
    assert deployment_statuses(settings.target_dsn) == {1: "active", 2: "failed"}
    assert view_target(settings.target_dsn) == "servicedesk_v1"


def test_a_failed_validation_leaves_no_backup_behind(settings: Settings, sample_db: Path) -> None:
    def spoil(event) -> None:  # a row goes missing between load and validation
        if event.kind == "StageStarted" and event.stage == "validate":
            with psycopg.connect(settings.target_dsn, autocommit=True) as conn:
                conn.execute("DELETE FROM servicedesk_v2.comments WHERE ct_comment_id = 7")

    with cleaned_over_an_active_version(settings, sample_db, [spoil]) as m:
        report = m.load_validate_and_back_up()
        assert not report.ok and "comments" in report.summary
    assert list((settings.workdir / "backups").iterdir()) == []
    assert deployment_statuses(settings.target_dsn) == {1: "active", 2: "failed"}
    assert view_target(settings.target_dsn) == "servicedesk_v1"
    asked = sdconsole(settings, "resume", "--discard", "--target", settings.target_dsn)
    assert asked.returncode == 7
    assert (
        f"run {m.run.run_id} stopped in validate (validation of servicedesk_v2 failed:"
        in asked.stderr
    )
    assert "; it left v2 (servicedesk_v2) failed, " in asked.stderr
    gone = sdconsole(settings, "resume", "--discard", "--yes", "--target", settings.target_dsn)
    assert gone.returncode == 0, gone.stderr
    assert deployment_statuses(settings.target_dsn) == {1: "active", 2: "discarded"}


def test_a_successful_run_deletes_old_working_copies_but_not_a_resumable_one(
    settings: Settings, sample_db: Path
) -> None:
    keep_one = {"SDCONSOLE_WORKING_COPIES": "1"}
    assert migrate(settings, sample_db, "--mode", "simple", "--yes", env=keep_one).returncode == 0
    first = list_runs(settings.workdir)[0]
    interrupted = settings.workdir / "runs" / interrupted_in_load(settings, sample_db)
    assert [r.run_id for r in pipeline.interrupted_runs(settings)] == [interrupted.name]

    last = migrate(settings, sample_db, "--mode", "simple", "--yes", env=keep_one)
    assert last.returncode == 0, last.stderr
    (newest,) = set(list_runs(settings.workdir)) - {first, interrupted}
    assert not (first / "working.db").exists()
    assert (first / "events.jsonl").exists() and (first / "clean.json").exists()
    assert (interrupted / "working.db").exists() and (newest / "working.db").exists()
    housekeeping = [
        e for e in read_journal(newest) if e.stage == "housekeeping" and e.kind == "StageFinished"
    ]
    assert [e.summary["removed"] for e in housekeeping] == [1]


def interrupted_in_load(
    settings: Settings, source: Path, mode: str = "blue-green", then=None
) -> str:
    """Cancel a migration of ``source`` at its first loaded rows, then ``then(migration)``
    while it is still open; returns the run id."""
    from sdconsole.engine.runtime.errors import Interrupted

    def cancel_at_first_row(event) -> None:
        if event.kind == "Progress" and event.stage == "load" and event.done > 0:
            m.cancel()

    with pipeline.Migration(settings, source, listeners=[cancel_at_first_row], mode=mode) as m:
        through_clean(m)
        with pytest.raises(Interrupted):
            m.load()
        if then is not None:
            then(m)
    return m.run.run_id


def test_headless_resume_finishes_an_interrupted_run(settings: Settings, sample_db: Path) -> None:
    assert migrate(settings, sample_db, "--mode", "simple", "--yes").returncode == 0
    run_id = interrupted_in_load(settings, sample_db)
    assert deployment_statuses(settings.target_dsn) == {1: "active", 2: "failed"}
    said = sdconsole(settings, "status", "--target", settings.target_dsn).stdout
    assert f"sdconsole resume {run_id} --yes" in said
    warned = sdconsole(settings, "preflight", str(sample_db), "--target", settings.target_dsn)
    assert warned.returncode == 0 and "[WARN] sdconsole metadata" in warned.stdout
    assert f"v2 (failed, run {run_id})" in warned.stdout

    asked = sdconsole(settings, "resume", "--target", settings.target_dsn)
    assert asked.returncode == 7 and f"run {run_id} stopped in load" in asked.stderr
    done = sdconsole(settings, "resume", "--yes", "--target", settings.target_dsn)

    assert done.returncode == 0, done.stderr
    assert deployment_statuses(settings.target_dsn) == {1: "retired", 2: "active"}
    assert view_target(settings.target_dsn) == "servicedesk_v2"
    assert stable_count(settings.target_dsn) == source_count(sample_db, "tickets")
    assert list((settings.workdir / "backups").glob("servicedesk_v1-*.dump"))
    assert pipeline.interrupted_runs(settings) == []


def test_a_run_superseded_by_a_later_cutover_is_discarded_not_resumed(
    settings: Settings, sample_db: Path
) -> None:
    run_id = interrupted_in_load(settings, sample_db)
    assert migrate(settings, sample_db, "--mode", "simple", "--yes").returncode == 0
    assert deployment_statuses(settings.target_dsn) == {1: "failed", 2: "active"}

    refused = sdconsole(settings, "resume", run_id, "--yes", "--target", settings.target_dsn)
    assert refused.returncode == 2
    assert "left v1, but v2 was cut over since" in refused.stderr
    discarded = sdconsole(
        settings, "resume", run_id, "--discard", "--yes", "--target", settings.target_dsn
    )

    assert discarded.returncode == 0, discarded.stderr
    assert deployment_statuses(settings.target_dsn) == {1: "discarded", 2: "active"}
    assert view_target(settings.target_dsn) == "servicedesk_v2"
    with psycopg.connect(settings.target_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('servicedesk_v1') IS NULL").fetchone()[0]
    nothing = sdconsole(settings, "resume", "--target", settings.target_dsn)
    assert nothing.returncode == 2 and "no interrupted run to resume" in nothing.stderr


def killed_in(
    stage: str, settings: Settings, source: Path, *extra: str, kind: str = "Progress"
) -> str:
    """SIGKILL a headless migration of ``source`` at the first ``kind`` event of ``stage``
    (by default: as it reports progress); its run id."""
    command = sdconsole_argv(settings, "migrate", str(source), "--yes", "--json", *extra)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        event = json.loads(line)
        if event["kind"] == kind and event["stage"] == stage:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    until_unlocked(settings)
    return event["run_id"]


def test_a_kill_during_the_clean_leaves_a_partial_copy_that_discard_removes(
    settings: Settings, tmp_path: Path
) -> None:
    from sdconsole.engine.source import sample

    big = tmp_path / "big.db"
    sample.generate(big, tickets=3000, seed=9)
    run_id = killed_in("clean", settings, big, "--mode", "simple")
    partial = settings.workdir / "runs" / run_id / "working.db.partial"
    assert partial.exists() and not partial.with_name("working.db").exists()

    gone = sdconsole(
        settings, "resume", run_id, "--discard", "--yes", "--target", settings.target_dsn
    )
    assert gone.returncode == 0, gone.stderr
    assert f"discarded run {run_id}: removed {partial}" in gone.stdout
    assert not partial.exists()


def loads_of(settings: Settings, run_id: str) -> int:
    """How many times the run started a load."""
    return sum(
        1
        for e in read_journal(settings.workdir / "runs" / run_id)
        if e.kind == "StageStarted" and e.stage == "load"
    )


def interrupted_line(settings: Settings, run_id: str) -> str:
    said = sdconsole(settings, "status", "--target", settings.target_dsn)
    assert said.returncode == 0, said.stderr
    (line,) = [x for x in said.stdout.splitlines() if x.startswith(f"INTERRUPTED run {run_id} ")]
    return line


def killed_in_validation(settings: Settings, sample_db: Path, tmp_path: Path) -> str:
    """v1 active, then a blue-green run of a bigger source killed as its validation starts."""
    from sdconsole.engine.source import sample

    assert migrate(settings, sample_db, "--mode", "simple", "--yes").returncode == 0
    bigger = tmp_path / "bigger.db"
    sample.generate(bigger, tickets=400, seed=5)
    run_id = killed_in("validate", settings, bigger, "--mode", "blue-green", kind="StageStarted")
    assert deployment_statuses(settings.target_dsn) == {1: "active", 2: "loaded"}
    line = interrupted_line(settings, run_id)
    assert "validate" in line.split(" (", 1)[0] and "(the process stopped" in line
    assert "it left v2 (servicedesk_v2) loaded, " in line and "working.db" in line
    assert f"`sdconsole resume {run_id} --yes` validates v2 and cuts it over" in line
    return run_id


def test_a_run_killed_during_validation_is_validated_and_cut_over_not_reloaded(
    settings: Settings, sample_db: Path, tmp_path: Path
) -> None:
    run_id = killed_in_validation(settings, sample_db, tmp_path)

    done = sdconsole(settings, "resume", "--yes", "--target", settings.target_dsn)

    assert done.returncode == 0, done.stderr
    assert deployment_statuses(settings.target_dsn) == {1: "retired", 2: "active"}
    assert loads_of(settings, run_id) == 1, "the loaded version was not loaded again"
    assert stable_count(settings.target_dsn) == source_count(tmp_path / "bigger.db", "tickets")
    assert pipeline.interrupted_runs(settings) == []
    with psycopg.connect(settings.target_dsn) as conn:
        recorded = {
            r[0]
            for r in conn.execute(
                "SELECT backup_path FROM sdconsole.deployments WHERE backup_path IS NOT NULL"
            )
        }
    assert {str(p) for p in (settings.workdir / "backups").iterdir()} == recorded


def test_a_run_killed_during_validation_can_be_discarded(
    settings: Settings, sample_db: Path, tmp_path: Path
) -> None:
    run_id = killed_in_validation(settings, sample_db, tmp_path)
    working = settings.workdir / "runs" / run_id / "working.db"

    gone = sdconsole(
        settings, "resume", run_id, "--discard", "--yes", "--target", settings.target_dsn
    )

    assert gone.returncode == 0, gone.stderr
    assert f"discarded run {run_id}: removed " in gone.stdout
    assert "removed v2 (servicedesk_v2)" in gone.stdout and f"removed {working}" in gone.stdout
    assert "removed " + str(settings.workdir / "backups" / "servicedesk_v1-") in gone.stdout, (
        "the dump of v1 the run took beside its load (complete or not), which no version records"
    )
    assert deployment_statuses(settings.target_dsn) == {1: "active", 2: "discarded"}
    assert view_target(settings.target_dsn) == "servicedesk_v1"
    with psycopg.connect(settings.target_dsn) as conn:
        schemas = {
            r[0]
            for r in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'servicedesk%'"
            )
        }
    assert schemas == {"servicedesk", "servicedesk_v1"}
    assert not working.exists() and list((settings.workdir / "backups").glob("*")) == []
    assert pipeline.interrupted_runs(settings) == []


def test_after_a_lock_timeout_at_cutover_resume_cuts_over_without_reloading(
    settings: Settings, sample_db: Path
) -> None:
    assert migrate(settings, sample_db, "--mode", "simple", "--yes").returncode == 0
    with psycopg.connect(settings.target_dsn) as reader:  # a dashboard's open transaction
        reader.execute("SELECT count(*) FROM servicedesk.tickets")
        failed = migrate(settings, sample_db, "--mode", "simple", "--yes")
    assert failed.returncode == 9, failed.stderr
    assert "readers kept the views of servicedesk locked" in failed.stderr
    assert deployment_statuses(settings.target_dsn) == {1: "active", 2: "loaded"}
    (run_id,) = [r.run_id for r in pipeline.interrupted_runs(settings)]
    line = interrupted_line(settings, run_id)
    assert f"INTERRUPTED run {run_id} stopped in cutover (cutover of servicedesk" in line
    assert "it left v2 (servicedesk_v2) loaded, validated" in line and "cuts v2 over" in line

    done = sdconsole(settings, "resume", run_id, "--yes", "--target", settings.target_dsn)

    assert done.returncode == 0, done.stderr
    assert deployment_statuses(settings.target_dsn) == {1: "retired", 2: "active"}
    assert loads_of(settings, run_id) == 1
    assert view_target(settings.target_dsn) == "servicedesk_v2"


def test_a_cancelled_load_can_still_be_discarded(settings: Settings, sample_db: Path) -> None:
    # going back is not going on: the cancel does not stop the discard
    interrupted_in_load(settings, sample_db, "simple", then=lambda m: m.discard())
    assert deployment_statuses(settings.target_dsn) == {1: "discarded"}


def test_a_run_is_recorded_and_unlocked_before_it_says_it_ended(
    settings: Settings, sample_db: Path
) -> None:
    """What a client reads once RunEnded arrives (Home's last run, `status`, the lock a next
    run takes) is already the run's end: read by a listener as the event is emitted."""
    seen: dict[str, object] = {}

    def at_the_end(event: ev.Event) -> None:
        if isinstance(event, ev.RunEnded):
            seen["record"] = read_record(run_dir)["outcome"]
            with psycopg.connect(settings.target_dsn) as conn:
                seen["holder"] = lock.holder_record(settings, conn)
                seen["recorded"] = conn.execute(
                    "SELECT outcome FROM sdconsole.runs WHERE run_id = %s", (run_dir.name,)
                ).fetchone()

    with pipeline.Migration(settings, sample_db, listeners=[at_the_end], mode="simple") as m:
        run_dir = m.run.dir
        with journalled_end(m):
            pipeline.drive(m, yes=True)
    assert seen == {"record": "succeeded", "holder": None, "recorded": ("succeeded",)}
