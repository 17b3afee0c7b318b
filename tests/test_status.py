"""Status: what an operator sees before touching anything, from the target's metadata."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from versions import STABLE, make_version, sdconsole

from sdconsole.cli import main
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.stages import cutover
from sdconsole.engine.target import deployments, lock, metadata
from sdconsole.engine.target import status as status_mod


@pytest.fixture
def history(conn, pg_dsn, settings, workdir: Path) -> dict[str, int]:
    """v1 retired, v2 active, v3 failed mid-load, and the runs that did it."""
    with Run(workdir, run_id="run-b") as run:
        deployments.record_run_start(conn, STABLE, "run-b", "complete", "/q2.db", "alice")
        v1, v2 = make_version(conn, 3), make_version(conn, 5, run_id="run-b")
        cutover.cutover(run, conn, pg_dsn, settings, v1)
        cutover.cutover(run, conn, pg_dsn, settings, v2)
        deployments.record_run_end(conn, "run-b", "succeeded")
    deployments.record_run_start(conn, STABLE, "run-c", "complete", "/q3.db", "bob")
    v3, _ = deployments.begin(conn, STABLE, "run-c", "/q3.db", "cd", "bob", 71)
    deployments.mark(conn, STABLE, v3, "failed", error="connection lost during COPY")
    deployments.record_run_end(conn, "run-c", "failed", "connection lost during COPY")
    return {"v1": v1, "v2": v2, "v3": v3}


def test_status_of_a_target_never_migrated_changes_nothing(conn, settings):
    report = status_mod.status(conn, settings)

    assert report.active is None and report.deployments == [] and report.views == {}
    assert report.views_consistent and report.lock_holder is None
    assert not metadata.has_metadata(conn)


def test_status_shows_active_history_runs_and_what_was_interrupted(conn, settings, history):
    report = status_mod.status(conn, settings)

    assert report.active.version == history["v2"] and report.active.rows == 10
    assert set(report.views.values()) == {"servicedesk_v2"} and report.views_consistent
    assert [(d.version, d.status) for d in report.deployments] == [
        (3, "failed"),
        (2, "active"),
        (1, "retired"),
    ]
    assert [d.version for d in report.interrupted] == [history["v3"]]
    assert report.rollback_target == history["v1"]
    assert [(r.run_id, r.outcome) for r in report.runs] == [
        ("run-c", "failed"),
        ("run-b", "succeeded"),
    ]
    assert report.target == settings.dsn_for_display


def test_status_command_prints_it_for_people_and_for_scripts(conn, pg_dsn, workdir, history):
    text = sdconsole("--workdir", str(workdir), "status", "--target", pg_dsn)
    as_json = sdconsole("--workdir", str(workdir), "status", "--json", "--target", pg_dsn)

    assert text.returncode == 0 and as_json.returncode == 0
    out = text.stdout
    assert "active: v2 (servicedesk_v2) since " in out and ", 10 rows, quality 87.5" in out
    assert "views: 3 in servicedesk, all reading servicedesk_v2" in out
    assert "rollback: to v1 (sdconsole rollback)" in out
    assert (
        "INTERRUPTED run run-c stopped in load (connection lost during COPY); it left v3"
        " (servicedesk_v3) failed -> it ran in another work dir: resume it there, or"
        " `sdconsole resume run-c --discard --yes` removes what it left"
    ) in out
    assert "lock: free" in out
    data = json.loads(as_json.stdout)
    assert data["active"]["version"] == 2 and data["active"]["quality_score"] == 87.5
    assert [d["status"] for d in data["deployments"]] == ["failed", "active", "retired"]
    assert data["runs"][0]["error"] == "connection lost during COPY"
    assert [(r["run_id"], r["left"]) for r in data["unfinished"]] == [
        ("run-c", ["v3 (servicedesk_v3) failed"])
    ]


def test_status_warns_when_the_views_do_not_match_the_active_version(
    conn, pg_dsn, workdir, history
):
    conn.execute(
        "CREATE OR REPLACE VIEW servicedesk.comments AS SELECT * FROM servicedesk_v1.comments"
    )

    text = sdconsole("--workdir", str(workdir), "status", "--target", pg_dsn)

    assert text.returncode == 0
    assert (
        "WARNING views do not match the active version: _rejects -> servicedesk_v2,"
        " comments -> servicedesk_v1, tickets -> servicedesk_v2"
    ) in text.stdout


HOLDER = """
import sys
from pathlib import Path
from sdconsole.engine.target import lock
from sdconsole.settings import load_settings
settings = load_settings(None, workdir=Path(sys.argv[1]), target_dsn=sys.argv[2])
with lock.acquire(sys.argv[2], settings, "run-d") as held:
    held.set_stage("validate")
    print("held", flush=True)
    sys.stdin.read()
"""


def test_status_names_the_lock_holder_and_its_stage(conn, pg_dsn, settings, workdir, history):
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(workdir), pg_dsn],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout.readline().strip() == "held"
        report = status_mod.status(conn, settings)
        holder.stdin.close()
    assert report.lock_holder.startswith("run run-d by ")
    assert ", in stage validate since 20" in report.lock_holder
    with lock.acquire(pg_dsn, settings, "run-e"):
        assert status_mod.status(conn, settings).lock_holder is None, "its own run's lock"


@pytest.mark.skipif(os.geteuid() != 0, reason="the shared data home is root's layout only")
def test_embedded_data_of_deleted_work_dirs_is_found_and_pruned(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Root's embedded data dirs live outside the work dir: a deleted work dir's is found."""
    from sdconsole.engine.target import embedded

    monkeypatch.setattr(embedded, "ROOT_DATA_HOME", tmp_path / "var-lib-sdconsole")
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    for workdir in (kept, gone):
        workdir.mkdir()
        embedded.data_dir(workdir).mkdir()
    assert embedded.leftovers() == []
    shutil.rmtree(gone)
    [left] = embedded.leftovers()
    assert main(["--workdir", str(kept), "status", "--prune-embedded"]) == 0
    assert f"removed {left}" in capsys.readouterr().out and not left.exists()
    assert embedded.data_dir(kept).is_dir() and embedded.leftovers() == []
