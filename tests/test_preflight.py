"""Preflight against a real PostgreSQL and real files: every check with reason and fix."""

import json
import secrets
import sqlite3

import psycopg
from loading import write_source
from psycopg import sql
from psycopg.conninfo import make_conninfo

from sdconsole.cli import main
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import Run, read_journal
from sdconsole.engine.stages.preflight import DISK_FACTOR, preflight
from sdconsole.engine.target import lock, metadata
from sdconsole.settings import load_settings

CHECKS = [
    "source",
    "source integrity",
    "tables",
    "target",
    "server version",
    "create permission",
    "sdconsole metadata",
    "shape",
    "lock",
    "disk",
    "memory",
    "pg_dump",
    "run time",
]


def run_preflight(settings, source):
    with Run(settings.workdir) as run:
        return preflight(run, settings, source), run.dir


def by_name(report):
    return {c.name: c for c in report.checks}


def test_everything_passes(settings, sample_db):
    report, run_dir = run_preflight(settings, sample_db)
    assert [c.name for c in report.checks] == CHECKS
    assert report.ok and {c.status for c in report.checks} == {"pass"}
    checks = by_name(report)
    assert "tickets" in checks["tables"].reason and "comments" in checks["tables"].reason
    assert checks["server version"].reason.startswith("PostgreSQL ")
    assert "no sdconsole metadata yet" in checks["sdconsole metadata"].reason
    assert report.estimates["disk_bytes"] == DISK_FACTOR * sample_db.stat().st_size
    assert report.estimates["rows"] > 0 and report.estimates["seconds"] > 0
    assert "rows/s" in checks["run time"].reason
    journal = [e for e in read_journal(run_dir) if isinstance(e, ev.CheckResult)]
    assert [e.name for e in journal] == CHECKS


def test_unreachable_target_fails_without_showing_the_password(workdir, sample_db, capsys):
    dsn = "postgresql://migrator:s3cret-pw@127.0.0.1:1/servicedesk"
    settings = load_settings(None, workdir=workdir, target_dsn=dsn)
    report, run_dir = run_preflight(settings, sample_db)
    checks = by_name(report)
    assert not report.ok and report.failed == ["target"]
    assert checks["target"].reason.startswith("cannot connect to postgresql://migrator:***@")
    assert checks["target"].reason.endswith(
        ": Connection refused (Is the server running on"
        " that host and accepting TCP/IP connections?)"
    )
    assert checks["target"].fix
    for name in ("server version", "create permission", "sdconsole metadata"):
        assert (checks[name].status, checks[name].reason) == (
            "warn",
            "not checked: the target is unreachable",
        )
    assert checks["pg_dump"].status == "warn"
    assert "s3cret" not in (run_dir / "events.jsonl").read_text()
    assert main(["--workdir", str(workdir), "preflight", str(sample_db), "--target", dsn]) == 3
    out, err = capsys.readouterr()
    assert "s3cret" not in out + err
    assert "[FAIL] target" in out and err == "sdconsole: error: preflight failed: target\n"


def test_bad_sources_are_failed_checks(settings, tmp_path):
    missing = tmp_path / "missing.db"
    report, _ = run_preflight(settings, missing)
    checks = by_name(report)
    assert checks["source"].status == "fail"
    assert checks["source"].reason == f"source {missing} does not exist"
    assert checks["tables"].reason == "not checked: the source cannot be read"
    assert checks["target"].status == "pass"  # the rest is still checked
    text = tmp_path / "export.csv"
    text.write_text("TKT-Ticket ID,TKT-Title\n1,Printer\n")
    report, _ = run_preflight(settings, text)
    assert by_name(report)["source"].reason == f"source {text} is not a SQLite database"


def test_damaged_source_fails_the_integrity_check(settings, tmp_path):
    path = write_source(tmp_path / "damaged.db", {"t": (["a"], [("alpha-1",), ("beta-2",)])})
    with sqlite3.connect(path) as db:
        db.execute("CREATE INDEX t_a ON t (a)")
    db.close()
    data = path.read_bytes()  # the table row changes, its index entry does not
    path.write_bytes(data.replace(b"alpha-1", b"alpha-9", 1))
    report, _ = run_preflight(settings, path)
    checks = by_name(report)
    assert checks["source"].status == "pass"
    assert checks["source integrity"].status == "fail"
    assert checks["source integrity"].reason.startswith("PRAGMA integrity_check reports")
    assert checks["source integrity"].fix


def test_metadata_and_active_version_are_reported(settings, sample_db, pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        metadata.ensure(conn)
        conn.execute(
            "INSERT INTO sdconsole.deployments (stable, version, schema_name, status,"
            " run_id) VALUES ('servicedesk', 3, 'servicedesk_v3', 'active', 'r1')"
        )
    report, _ = run_preflight(settings, sample_db)
    assert (
        by_name(report)["sdconsole metadata"].reason
        == "metadata present; servicedesk serves version 3 (servicedesk_v3)"
    )


def test_missing_create_permission_fails_with_the_grant(settings, sample_db, pg_dsn):
    role = "sdc_reader_" + secrets.token_hex(4)  # roles are server-wide
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(role)
            )
        )  # servers with password auth need one
    try:
        reader = load_settings(
            None,
            workdir=settings.workdir,
            target_dsn=make_conninfo(pg_dsn, user=role, password=role),
        )
        report, _ = run_preflight(reader, sample_db)
        check = by_name(report)["create permission"]
        assert check.status == "fail" and f"{role} may not create schemas" in check.reason
        assert check.fix.startswith("as the owner: GRANT CREATE ON DATABASE ")
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_held_lock_fails_naming_the_holder(settings, sample_db, holder_process):
    report, _ = run_preflight(settings, sample_db)
    check = by_name(report)["lock"]
    assert check.status == "fail" and "run-of-alice by alice" in check.reason
    holder_process.stdin.close()
    holder_process.wait(timeout=30)
    report, _ = run_preflight(settings, sample_db)
    assert by_name(report)["lock"].status == "pass"


def test_the_own_runs_lock_is_not_another_holder(settings, sample_db, pg_dsn):
    """A migration takes the lock before its preflight: that is no other run's."""
    with lock.acquire(pg_dsn, settings, "this-run"):
        report, _ = run_preflight(settings, sample_db)
    assert by_name(report)["lock"].status == "pass"


def test_preflight_command(settings, sample_db, pg_dsn, capsys):
    argv = ["--workdir", str(settings.workdir), "preflight", str(sample_db), "--target", pg_dsn]
    assert main(argv) == 0
    assert "[PASS] server version" in capsys.readouterr().out
    assert main([*argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] and [c["name"] for c in document["checks"]] == CHECKS
