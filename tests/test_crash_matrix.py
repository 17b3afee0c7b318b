"""The crash matrix: a fault in every stage of a migration over an active version, of a
resume, and of a rollback.

For each stage and each fault (SIGKILL, SIGTERM, SIGINT, the run's database
sessions terminated), ``sdconsole migrate`` starts over a target whose v1 is
active, and the fault is delivered as the stage's StageStarted event comes
out of the run's event stream (journalled first, then printed; no sleeps).
Then: the active version is unchanged, cell for cell through the stable
views; the exit status is the documented one; ``status`` names the run; and
``resume`` completes to the cutover a run without faults makes (same
content), or ``resume --discard`` leaves nothing: no version, schema, file,
process or lock. A run the fault reached too late (it had cut over) must be
complete instead. The table of cases prints at the end (``pytest -s``).
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from cli_argv import sdconsole_argv
from psycopg import sql
from psycopg.conninfo import make_conninfo

from sdconsole.engine import pipeline
from sdconsole.engine.source import sample
from sdconsole.engine.target import lock
from sdconsole.settings import Settings, load_settings

pytestmark = pytest.mark.slow

STAGES = ("preflight", "profile", "clean", "canary", "load", "validate", "backup", "cutover")
FAULTS = ("SIGKILL", "SIGTERM", "SIGINT", "dropped")
# The README's exit statuses: killed (by the signal), interrupted (10), a stage failed (9);
# 0 when the fault came after the run's cutover had committed.
EXPECTED = {"SIGKILL": {-signal.SIGKILL}, "SIGTERM": {10, 0}, "SIGINT": {10, 0}, "dropped": {9, 0}}
ENDING = {"SIGKILL": "resume", "SIGTERM": "discard", "SIGINT": "resume", "dropped": "discard"}
STABLE = "servicedesk"
TABLE: list[tuple[str, str, int | None, str, str, float]] = []


def _database(server: str, template: str | None = None) -> str:
    name = "sdc_crash_" + secrets.token_hex(4)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {}{}").format(
                sql.Identifier(name),
                sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
                if template
                else sql.SQL(""),
            )
        )
    return name


def _drop(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _settings(workdir: Path, dsn: str) -> Settings:
    return load_settings(None, workdir=workdir, target_dsn=dsn)


def content(dsn: str) -> dict[str, tuple[int, str]]:
    """Every table dashboards read: row count and a checksum of its rows, in any order."""
    with psycopg.connect(dsn) as conn:
        views = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.views WHERE table_schema = %s", (STABLE,)
            )
        ]
        return {
            view: conn.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(md5(string_agg(md5(t::text), ''"
                    " ORDER BY md5(t::text))), '') FROM {} t"
                ).format(sql.Identifier(STABLE, view))
            ).fetchone()
            for view in views
        }


@pytest.fixture(scope="module")
def matrix(pg_server: str, tmp_path_factory: pytest.TempPathFactory):
    """The sources, a template database with v1 active, and what v2 holds done right."""
    base = tmp_path_factory.mktemp("crash")
    first, second = base / "first.db", base / "second.db"
    sample.generate(first, tickets=100, seed=1)
    sample.generate(second, tickets=600, seed=2)
    template = _database(pg_server)
    reference = _database(pg_server)
    try:
        for name, sources in ((template, [first]), (reference, [first, second])):
            settings = _settings(base / f"work-{name}", make_conninfo(pg_server, dbname=name))
            for source, mode in zip(sources, ("simple", "complete"), strict=False):
                with pipeline.Migration(settings, source, mode=mode) as m:
                    pipeline.drive(m, yes=True)
        yield {
            "first": first,
            "second": second,
            "template": template,
            "v1": content(make_conninfo(pg_server, dbname=template)),
            "v2": content(make_conninfo(pg_server, dbname=reference)),
        }
    finally:
        _drop(pg_server, template)
        _drop(pg_server, reference)
        _print_table()


def _print_table() -> None:
    if not TABLE:
        return
    print(
        "\n\ncrash matrix: a fault in each stage of `sdconsole migrate --mode complete`,"
        " in a resume's load and in a rollback"
    )
    print(f"{'stage':<10} {'fault':<8} {'exit':>5}  {'then':<9} {'held':<5} {'seconds':>7}")
    for stage, fault, code, then, held, seconds in TABLE:
        print(
            f"{stage:<10} {fault:<8} {'-' if code is None else code:>5}  {then:<9}"
            f" {held:<5} {seconds:>7.1f}"
        )
    held = sum(row[4] == "yes" for row in TABLE)
    print(f"{held} of {len(TABLE)} cases held, {sum(row[5] for row in TABLE):.0f} s in all\n")


@pytest.fixture
def case(matrix, pg_server: str, tmp_path: Path):
    name = _database(pg_server, matrix["template"])
    yield _settings(tmp_path / "work", make_conninfo(pg_server, dbname=name))
    _drop(pg_server, name)


def sdconsole(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sdconsole_argv(settings, *args),
        capture_output=True,
        text=True,
        timeout=300,
    )


def faulted_run(settings: Settings, source: Path, stage: str, fault: str) -> tuple[int, str, str]:
    """``migrate`` with the fault delivered as ``stage`` starts; (exit status, run id, what it
    said on stderr)."""
    return faulted(settings, stage, fault, "migrate", str(source), "--mode", "complete")


def faulted(settings: Settings, stage: str, fault: str, *command: str) -> tuple[int, str, str]:
    """``sdconsole COMMAND ... --yes --json`` with the fault delivered as ``stage`` starts."""
    proc = subprocess.Popen(
        sdconsole_argv(settings, *command, "--yes", "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id = ""
    for line in proc.stdout:
        event = json.loads(line)
        run_id = event["run_id"]
        if event["kind"] == "StageStarted" and event["stage"] == stage:
            if fault == "dropped":
                with psycopg.connect(settings.target_dsn, autocommit=True) as admin:
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid()"
                    )
            else:
                proc.send_signal(getattr(signal, fault))
            break
    else:
        raise AssertionError(f"the run ended before {stage}: {proc.wait()} {proc.stderr.read()}")
    proc.stdout.read()
    stderr = proc.stderr.read()
    proc.wait(timeout=300)
    # The error is the last line; psycopg may log a line of its own before it when a COPY
    # loses its connection (`error ignored terminating <psycopg.Copy [BAD]>`), not the run.
    assert proc.returncode in (-signal.SIGKILL, 0) or stderr.splitlines()[-1].startswith(
        "sdconsole: error: "
    ), stderr
    assert "Traceback" not in stderr, stderr
    return proc.returncode, run_id, stderr


def statuses(dsn: str) -> dict[int, str]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT version, status FROM sdconsole.deployments"))


def leftovers(settings: Settings, source: Path, kept: Path | None = None) -> list[str]:
    """What no finished run leaves: extra schemas, half-written or unrecorded files, a
    working copy (but ``kept``: a successful run's), processes, a held lock."""
    found = []
    with psycopg.connect(settings.target_dsn, autocommit=True) as conn:
        versions = {
            r[0]
            for r in conn.execute(
                "SELECT schema_name FROM sdconsole.deployments WHERE status IN"
                " ('active', 'retired', 'rolled_back')"
            )
        }
        recorded = {
            r[0]
            for r in conn.execute(
                "SELECT backup_path FROM sdconsole.deployments WHERE backup_path IS NOT NULL"
            )
        }
        schemas = {
            r[0]
            for r in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'servicedesk%'"
            )
        }
        found += [f"schema {s}" for s in sorted(schemas - versions - {STABLE})]
        if lock.holder(settings, conn):
            found.append(f"lock held by {lock.holder(settings, conn)}")
        if conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())"
        ).fetchone()[0]:
            found.append("an advisory lock")
    for path in settings.workdir.rglob("*"):
        if (
            path.is_file()
            and path != kept
            and (
                path.name.endswith((".partial", ".partial-journal", ".tmp"))
                or path.name in ("working.db", "numbered.db")
                or path.suffix == ".dump"
                and str(path) not in recorded
            )
        ):
            found.append(str(path.relative_to(settings.workdir)))
    dbname = psycopg.conninfo.conninfo_to_dict(settings.target_dsn)["dbname"]
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["status"] != psutil.STATUS_ZOMBIE and (
            str(source) in cmdline or "pg_dump" in cmdline and dbname in cmdline
        ):
            found.append(f"process {proc.pid}: {cmdline[:60]}")
    return found


def settled(check, seconds: float = 10.0):
    """``check()`` once what the dead run's processes and sessions did has settled: the
    server notices a dead client's session, and orphans exit, a moment after."""
    deadline = time.monotonic() + seconds
    while (found := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("stage", STAGES)
def test_a_fault_in_a_stage(stage: str, fault: str, matrix, case: Settings) -> None:
    started = time.monotonic()
    row = [stage, fault, None, "", "no"]
    try:
        code, run_id, said = faulted_run(case, matrix["second"], stage, fault)
        row[2] = code
        assert code in EXPECTED[fault], said
        assert content(case.target_dsn) in (matrix["v1"], matrix["v2"])
        completed = statuses(case.target_dsn).get(2) == "active"
        assert (code == 0) <= completed, "exit 0 for a run that did not cut over"
        if completed:  # the fault came after the switch committed
            assert content(case.target_dsn) == matrix["v2"]
            assert pipeline.interrupted_runs(case) == []
            row[3] = "complete"
        else:
            assert content(case.target_dsn) == matrix["v1"], "the active version changed"
            said = sdconsole(case, "status")
            assert f"INTERRUPTED run {run_id} stopped in " in said.stdout, said.stdout
            row[3] = ENDING[fault]
            discard = ENDING[fault] == "discard"
            done = sdconsole(case, "resume", run_id, *(["--discard"] if discard else []), "--yes")
            assert done.returncode == 0, done.stderr
            if discard:
                assert content(case.target_dsn) == matrix["v1"]
                assert set(statuses(case.target_dsn).values()) <= {"active", "discarded"}
            else:
                assert content(case.target_dsn) == matrix["v2"]
                assert statuses(case.target_dsn) == {1: "retired", 2: "active"}
            assert pipeline.interrupted_runs(case) == []
        kept = None if row[3] == "discard" else case.workdir / "runs" / run_id / "working.db"
        assert settled(lambda: leftovers(case, matrix["second"], kept)) == [], row
        row[4] = "yes"
    finally:
        TABLE.append((*row, time.monotonic() - started))


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_while_resuming(fault: str, matrix, case: Settings) -> None:
    """A run killed in its load is resumed, and the resume is faulted in its own load: the
    active version stays as it was, and resuming again (or discarding) finishes the job."""
    started = time.monotonic()
    row = ["resume", fault, None, "", "no"]
    try:
        code, run_id, said = faulted_run(case, matrix["second"], "load", "SIGKILL")
        assert code == -signal.SIGKILL, said
        code, _, said = faulted(case, "load", fault, "resume", run_id)
        row[2] = code
        assert code in EXPECTED[fault], said
        assert content(case.target_dsn) == matrix["v1"], "the active version changed"
        row[3] = ENDING[fault]
        discard = ENDING[fault] == "discard"
        done = sdconsole(case, "resume", run_id, *(["--discard"] if discard else []), "--yes")
        assert done.returncode == 0, done.stderr
        assert content(case.target_dsn) == (matrix["v1"] if discard else matrix["v2"])
        assert pipeline.interrupted_runs(case) == []
        kept = None if discard else case.workdir / "runs" / run_id / "working.db"
        assert settled(lambda: leftovers(case, matrix["second"], kept)) == [], row
        row[4] = "yes"
    finally:
        TABLE.append((*row, time.monotonic() - started))


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_while_rolling_back(fault: str, matrix, case: Settings) -> None:
    """A rollback from v2 to v1 faulted as it starts: one transaction, so dashboards read
    v1 or v2 whole, the lock is free again, and a second rollback gets to v1."""
    started = time.monotonic()
    row = ["rollback", fault, None, "", "no"]
    try:
        done = sdconsole(case, "migrate", str(matrix["second"]), "--mode", "complete", "--yes")
        assert done.returncode == 0, done.stderr
        code, _, said = faulted(case, "rollback", fault, "rollback")
        row[2] = code
        assert code in EXPECTED[fault], said
        assert content(case.target_dsn) in (matrix["v1"], matrix["v2"])
        if content(case.target_dsn) == matrix["v2"]:
            again = sdconsole(case, "rollback", "--yes")
            assert again.returncode == 0, again.stderr
            row[3] = "again"
        else:
            row[3] = "complete"
        assert content(case.target_dsn) == matrix["v1"]
        # the migration's working copy stays, as every successful run's does
        assert (
            settled(
                lambda: [
                    f for f in leftovers(case, matrix["second"]) if not f.endswith("working.db")
                ]
            )
            == []
        ), row
        row[4] = "yes"
    finally:
        TABLE.append((*row, time.monotonic() - started))
