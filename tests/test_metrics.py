"""Prometheus metrics: the per-run textfile, the metadata figures, and the 127.0.0.1 server."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sdconsole.cli import main
from sdconsole.commands.metrics import metadata_refresh
from sdconsole.engine.runtime import metrics
from sdconsole.engine.target import metadata
from sdconsole.settings import load_settings

REPORT = {
    "stable": "servicedesk",
    "run_id": "20250101T000000Z-abc123",
    "mode": "complete",
    "outcome": "succeeded",
    "finished_ts": 1_735_700_000.0,
    "stage_seconds": {"preflight": 0.4, "load": 3.25},
    "rows_loaded": {"tickets": 2002, "comments": 8011},
    "rejects": {"tickets": 5, "comments": 0},
    "quality_score": 87.5,
    "quality_dimensions": {"completeness": 91.0, "validity": 80.0},
    "gate": "passed",
    "validation_mismatches": 0,
    "active_version": 2,
    "last_cutover_ts": 1_735_699_990.0,
    "last_rollback_ts": None,
    "last_success_ts": 1_735_700_000.0,
}


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of an exposition as {(name, sorted labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_run_metrics_file_has_every_figure_with_conventional_names(workdir: Path):
    path = metrics.write_run_metrics(workdir, REPORT)
    assert path == workdir / "metrics" / "sdconsole.prom"
    got = samples(path.read_text())
    assert got[("sdconsole_run_rows_loaded", (("table", "tickets"),))] == 2002
    assert got[("sdconsole_run_rejects", (("table", "tickets"),))] == 5
    assert got[("sdconsole_stage_duration_seconds", (("stage", "load"),))] == 3.25
    assert got[("sdconsole_quality_score", ())] == 87.5
    assert got[("sdconsole_quality_dimension_score", (("dimension", "validity"),))] == 80
    assert got[("sdconsole_quality_gate", (("outcome", "passed"),))] == 1
    assert got[("sdconsole_quality_gate", (("outcome", "refused"),))] == 0
    assert got[("sdconsole_run_outcome", (("outcome", "succeeded"),))] == 1
    assert got[("sdconsole_run_outcome", (("outcome", "failed"),))] == 0
    assert got[("sdconsole_validation_mismatches", ())] == 0
    assert got[("sdconsole_active_version", ())] == 2
    assert got[("sdconsole_last_cutover_timestamp_seconds", ())] == 1_735_699_990
    assert got[("sdconsole_last_success_timestamp_seconds", ())] == 1_735_700_000
    assert got[("sdconsole_last_run_timestamp_seconds", ())] == 1_735_700_000
    info = (("mode", "complete"), ("run_id", REPORT["run_id"]), ("stable", "servicedesk"))
    assert got[("sdconsole_run_info", info)] == 1
    assert not any(name == "sdconsole_last_rollback_timestamp_seconds" for name, _ in got)
    assert not any(name.endswith("_total") for name, _ in got)


def test_each_run_replaces_the_file_without_leaving_temp_files(workdir: Path):
    metrics.write_run_metrics(workdir, REPORT)
    failed = {
        "stable": "servicedesk",
        "run_id": "r2",
        "outcome": "failed",
        "stage_seconds": {"preflight": 0.2},
    }
    path = metrics.write_run_metrics(workdir, failed)
    got = samples(path.read_text())
    assert got[("sdconsole_run_outcome", (("outcome", "failed"),))] == 1
    assert not any(name == "sdconsole_run_rows_loaded" for name, _ in got)
    assert ("sdconsole_stage_duration_seconds", (("stage", "load"),)) not in got
    assert [p.name for p in path.parent.iterdir()] == ["sdconsole.prom"]


def _record_history(dsn: str) -> None:
    """Version 3 active, cut over then rolled back once, one successful and one failed run."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        metadata.ensure(conn)
        conn.execute(
            "INSERT INTO sdconsole.deployments (stable, version, schema_name, status, run_id)"
            " VALUES ('servicedesk', 3, 'servicedesk_v3', 'active', 'r3'),"
            " ('servicedesk', 4, 'servicedesk_v4', 'rolled_back', 'r4'),"
            " ('other', 9, 'other_v9', 'active', 'r9')"
        )
        conn.execute(
            "INSERT INTO sdconsole.audit (stable, action, at, from_version, to_version) VALUES"
            " ('servicedesk', 'cutover', to_timestamp(1700000000), 3, 4),"
            " ('servicedesk', 'rollback', to_timestamp(1700000500), 4, 3),"
            " ('other', 'rollback', to_timestamp(1800000000), 9, 8)"
        )
        conn.execute(
            "INSERT INTO sdconsole.runs (run_id, stable, finished_at, outcome) VALUES"
            " ('r3', 'servicedesk', to_timestamp(1690000000), 'succeeded'),"
            " ('r4', 'servicedesk', to_timestamp(1700000000), 'succeeded'),"
            " ('r5', 'servicedesk', to_timestamp(1710000000), 'failed')"
        )


def test_history_metrics_read_the_stable_schemas_history(pg_dsn: str):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert metadata.history_metrics(conn, "servicedesk") == {}
    _record_history(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert metadata.history_metrics(conn, "servicedesk") == {
            "active_version": 3,
            "last_cutover_ts": 1_700_000_000.0,
            "last_rollback_ts": 1_700_000_500.0,
            "last_success_ts": 1_700_000_000.0,
        }
        assert metadata.history_metrics(conn, "nothing") == {
            "active_version": None,
            "last_cutover_ts": None,
            "last_rollback_ts": None,
            "last_success_ts": None,
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(collector: metrics.RunMetricsCollector) -> tuple[tuple, str]:
    port = _free_port()
    server, thread = metrics.serve(collector, port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            return server.server_address, resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_server_binds_loopback_and_serves_the_file_with_fresh_metadata(workdir, pg_dsn):
    _record_history(pg_dsn)
    metrics.write_run_metrics(workdir, REPORT)
    settings = load_settings(None, workdir=workdir, target_dsn=pg_dsn)
    collector = metrics.RunMetricsCollector(
        metrics.metrics_path(workdir), metadata_refresh(settings)
    )
    address, text = _scrape(collector)
    assert address[0] == "127.0.0.1"
    got = samples(text)
    assert got[("sdconsole_run_rows_loaded", (("table", "comments"),))] == 8011
    assert got[("sdconsole_metadata_up", ())] == 1
    # the file said version 2 and no rollback; the metadata knows better
    assert got[("sdconsole_active_version", ())] == 3
    assert got[("sdconsole_last_rollback_timestamp_seconds", ())] == 1_700_000_500
    assert got[("sdconsole_last_success_timestamp_seconds", ())] == 1_700_000_000
    assert text.count("# TYPE sdconsole_active_version ") == 1


def test_server_serves_the_file_when_the_target_is_down(workdir):
    metrics.write_run_metrics(workdir, REPORT)
    down = load_settings(
        None, workdir=workdir, target_dsn=f"host=127.0.0.1 port={_free_port()} user=x password=pw"
    )
    collector = metrics.RunMetricsCollector(metrics.metrics_path(workdir), metadata_refresh(down))
    _, text = _scrape(collector)
    got = samples(text)
    assert got[("sdconsole_metadata_up", ())] == 0
    assert got[("sdconsole_active_version", ())] == 2
    assert "pw" not in text


def test_cli_once_prints_the_metrics_and_refuses_when_there_are_none(workdir, capsys):
    assert main(["--workdir", str(workdir), "metrics", "--once"]) == 2
    assert "no metrics yet" in capsys.readouterr().err
    metrics.write_run_metrics(workdir, REPORT)
    assert main(["--workdir", str(workdir), "metrics", "--once"]) == 0
    got = samples(capsys.readouterr().out)
    assert got[("sdconsole_quality_score", ())] == 87.5


def test_cli_rejects_a_port_out_of_range(workdir, capsys):
    assert main(["--workdir", str(workdir), "metrics", "--port", "70000"]) == 2
    assert capsys.readouterr().err.strip() == (
        "sdconsole: error: --port must be between 1 and 65535, not 70000"
    )


@pytest.mark.parametrize("outcome", ["succeeded", "failed", "stopped"])
def test_outcome_state_set_has_exactly_one_series_at_1(workdir, outcome):
    path = metrics.write_run_metrics(workdir, {"outcome": outcome})
    got = samples(path.read_text())
    states = {
        dict(labels)["outcome"]: v
        for (name, labels), v in got.items()
        if name == "sdconsole_run_outcome"
    }
    assert states[outcome] == 1
    assert sum(states.values()) == 1
    assert set(states) >= set(metrics.OUTCOMES)


def _run_metrics(settings) -> dict[tuple[str, tuple], float]:
    return samples(metrics.metrics_path(settings.workdir).read_text())


def _outcome(got: dict) -> str:
    (outcome,) = [
        dict(labels)["outcome"]
        for (name, labels), value in got.items()
        if name == "sdconsole_run_outcome" and value == 1
    ]
    return outcome


def _run_id(got: dict) -> str:
    (run_id,) = [dict(labels)["run_id"] for name, labels in got if name == "sdconsole_run_info"]
    return run_id


def test_the_file_of_a_successful_a_failed_and_a_resumed_run(settings, sample_db):
    from loading import through_clean
    from versions import sdconsole

    from sdconsole.engine import pipeline
    from sdconsole.engine.runtime.errors import Interrupted, ValidationFailed

    with pipeline.Migration(settings, sample_db, mode="simple") as m:
        pipeline.drive(m, yes=True)
    got = _run_metrics(settings)
    assert (_outcome(got), _run_id(got)) == ("succeeded", m.run.run_id)
    assert got[("sdconsole_validation_mismatches", ())] == 0
    assert got[("sdconsole_run_rows_loaded", (("table", "tickets"),))] == 301
    assert got[("sdconsole_active_version", ())] == 1
    assert got[("sdconsole_stage_duration_seconds", (("stage", "validate"),))] > 0

    def spoil(event) -> None:  # a row goes missing between load and validation
        if event.kind == "StageStarted" and event.stage == "validate":
            with psycopg.connect(settings.target_dsn, autocommit=True) as conn:
                conn.execute(
                    "DELETE FROM servicedesk_v2.tickets WHERE ctid IN"
                    " (SELECT ctid FROM servicedesk_v2.tickets LIMIT 1)"
                )

    with (
        pytest.raises(ValidationFailed),
        pipeline.Migration(settings, sample_db, mode="simple", listeners=[spoil]) as m,
    ):
        pipeline.drive(m, yes=True)
    got = _run_metrics(settings)
    assert (_outcome(got), _run_id(got)) == ("failed", m.run.run_id)
    assert got[("sdconsole_validation_mismatches", ())] >= 1
    assert got[("sdconsole_active_version", ())] == 1

    def cancel_at_first_row(event) -> None:
        if event.kind == "Progress" and event.stage == "load" and event.done:
            m.cancel()

    with (
        pytest.raises(Interrupted),
        pipeline.Migration(
            settings, sample_db, mode="simple", listeners=[cancel_at_first_row]
        ) as m,
    ):
        through_clean(m)
        m.load()
    assert _outcome(_run_metrics(settings)) == "interrupted"
    done = sdconsole(
        "--workdir",
        str(settings.workdir),
        "resume",
        m.run.run_id,
        "--yes",
        "--target",
        settings.target_dsn,
    )
    assert done.returncode == 0, done.stderr
    got = _run_metrics(settings)
    assert (_outcome(got), _run_id(got)) == ("succeeded", m.run.run_id)
    assert got[("sdconsole_validation_mismatches", ())] == 0
    assert got[("sdconsole_active_version", ())] == 3


def test_metrics_that_cannot_be_written_are_reported_not_swallowed(settings, sample_db):
    from sdconsole.engine import pipeline
    from sdconsole.engine.runtime.errors import ApprovalNeeded
    from sdconsole.engine.runtime.run import read_journal

    (settings.workdir / "metrics").write_text("not a directory")
    with pytest.raises(ApprovalNeeded), pipeline.Migration(settings, sample_db) as m:
        pipeline.drive(m, yes=False)
    failed = [e for e in read_journal(m.run.dir) if e.kind == "StageFailed"]
    assert [e.stage for e in failed] == ["metrics"]
    assert failed[0].error.startswith("metrics not written: ")
