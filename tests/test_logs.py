"""Structured JSON logs: one JSON object per event line, sensible levels, no passwords."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.logs import FIELDS, JsonRunLog, scrub
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.stages.profile import profiler
from sdconsole.settings import load_settings

KEYS = ["level" if f == "levelname" else f for f in FIELDS]


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def short_run(workdir: Path, log_kwargs: dict | None = None) -> tuple[Run, Path]:
    """A run with a passing and a warning check, a table load with progress, and a failed stage."""
    with Run(workdir) as run:
        log = JsonRunLog(run.dir, **(log_kwargs or {}))
        run.listeners.append(log)
        with run.stage("preflight", "servicedesk.db") as summary:
            run.emit(ev.CheckResult(stage="preflight", name="disk", status="pass", reason="9 GB"))
            run.emit(
                ev.CheckResult(
                    stage="preflight",
                    name="memory",
                    status="warn",
                    reason="300 MB available",
                    fix="close other programs",
                )
            )
            summary["checks"] = 2
        with run.stage("clean") as summary:
            run.emit(
                ev.DiffSample(
                    stage="clean",
                    rule="trim",
                    table="tickets",
                    column="TKT-Title",
                    changed=7,
                    samples=(("  Secret customer text ", "Secret customer text"),),
                )
            )
            summary["changed"] = 7
        with run.stage("load", "servicedesk_v1") as summary:
            for done in range(0, 2501, 50):
                run.progress("load", "tickets", done, 2500)
            summary["rows"] = 2500
        with pytest.raises(RuntimeError), run.stage("cutover"):
            raise RuntimeError("server closed the connection unexpectedly")
        log.close()
    return run, run.dir / "log.jsonl"


def test_a_run_writes_one_json_object_per_event_with_the_same_keys(workdir: Path):
    run, path = short_run(workdir)
    lines = read_lines(path)
    assert all(list(line) == KEYS for line in lines)
    assert {line["run_id"] for line in lines} == {run.run_id}
    seqs = [line["seq"] for line in lines]
    assert seqs == sorted(seqs)
    assert all(datetime.fromisoformat(line["timestamp"]).tzinfo for line in lines)

    by_event = [
        (line["stage"], line["event"], line["level"])
        for line in lines
        if line["event"] != "Progress"
    ]
    assert by_event == [
        ("preflight", "StageStarted", "INFO"),
        ("preflight", "CheckResult", "INFO"),
        ("preflight", "CheckResult", "WARNING"),
        ("preflight", "StageFinished", "INFO"),
        ("clean", "StageStarted", "INFO"),
        ("clean", "DiffSample", "INFO"),
        ("clean", "StageFinished", "INFO"),
        ("load", "StageStarted", "INFO"),
        ("load", "StageFinished", "INFO"),
        ("cutover", "StageStarted", "INFO"),
        ("cutover", "StageFailed", "ERROR"),
    ]
    finished = next(x for x in lines if x["event"] == "StageFinished" and x["stage"] == "load")
    assert finished["counts"] == {"rows": 2500}
    assert isinstance(finished["duration"], float)
    failed = lines[-1]
    assert failed["error"] == "RuntimeError: server closed the connection unexpectedly"
    assert failed["message"] == "cutover failed: " + failed["error"]
    warning = next(x for x in lines if x["level"] == "WARNING")
    assert warning["detail"] == {
        "name": "memory",
        "status": "warn",
        "reason": "300 MB available",
        "fix": "close other programs",
    }


def test_progress_is_debug_and_does_not_flood(workdir: Path):
    _, path = short_run(workdir)
    progress = [x for x in read_lines(path) if x["event"] == "Progress"]
    assert 1 <= len(progress) <= 2
    assert {x["level"] for x in progress} == {"DEBUG"}
    assert progress[-1]["table"] == "tickets"
    assert progress[-1]["counts"]["done"] == progress[-1]["counts"]["total"] == 2500


def test_customer_text_from_cleaning_samples_stays_out_of_the_log(workdir: Path):
    _, path = short_run(workdir)
    text = path.read_text(encoding="utf-8")
    assert "Secret customer text" not in text
    diff = next(x for x in read_lines(path) if x["event"] == "DiffSample")
    assert diff["counts"] == {"changed": 7}
    assert diff["table"] == "tickets"


def test_stderr_gets_the_same_lines_only_when_asked(workdir: Path, capfd):
    _, path = short_run(workdir)
    assert capfd.readouterr().err == ""
    _, path = short_run(workdir, {"to_stderr": True})
    err = capfd.readouterr().err
    assert err == path.read_text(encoding="utf-8")


def test_a_password_in_an_error_never_reaches_the_log(workdir: Path, capfd):
    dsn = "host=db.example port=5432 user=admin password=Tr0ub4dor dbname=sd"
    with Run(workdir) as run:
        log = JsonRunLog(run.dir, to_stderr=True, dsn=dsn)
        run.listeners.append(log)
        with pytest.raises(ConnectionError), run.stage("load"):
            raise ConnectionError(
                f"cannot connect to postgresql://admin:s3cr%40t@db.example/sd"
                f" ({dsn}); server said: bad password Tr0ub4dor"
            )
        run.emit(ev.SqlExecuted(stage="load", statement="SELECT 1 -- password='p w'"))
        log.close()
    written = (run.dir / "log.jsonl").read_text(encoding="utf-8") + capfd.readouterr().err
    for secret in ("Tr0ub4dor", "s3cr%40t", "p w"):
        assert secret not in written
    failed = next(x for x in read_lines(run.dir / "log.jsonl") if x["event"] == "StageFailed")
    assert "postgresql://admin:***@db.example/sd" in failed["error"]
    assert "password=*** dbname=sd" in failed["error"]


def test_scrub_covers_nested_values_and_both_dsn_forms():
    nested = {"a": ["postgres://u:pw@h:5432/db", ("password = 'x y' host=h",)], "n": 3}
    assert scrub(nested) == {"a": ["postgres://u:***@h:5432/db", ["password = *** host=h"]], "n": 3}
    assert scrub("postgresql://h/db?user=u&password=pw&sslmode=require") == (
        "postgresql://h/db?user=u&password=***&sslmode=require"
    )
    assert scrub("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_real_profile_run_logs_its_stage_and_one_final_progress_per_table(workdir, sample_db):
    settings = load_settings(None, workdir=workdir)
    with Run(workdir) as run:
        log = JsonRunLog(run.dir)
        run.listeners.append(log)
        profiler.profile(run, settings, sample_db)
        log.close()
    lines = read_lines(run.dir / "log.jsonl")
    stages = [(x["event"], x["stage"]) for x in lines if x["event"].startswith("Stage")]
    assert stages == [("StageStarted", "profile"), ("StageFinished", "profile")]
    finals = {
        x["table"]: x["counts"]
        for x in lines
        if x["event"] == "Progress" and x["counts"]["done"] == x["counts"]["total"]
    }
    assert set(finals) == {"tickets", "comments", "timesheets"}
    progress = [x for x in lines if x["event"] == "Progress"]
    assert len(progress) <= 2 * len(finals)
    journal = (run.dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= len(journal)
