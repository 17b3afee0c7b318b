"""A change of shape is shown and confirmed: preflight warns, headless needs --allow-shape-change.

Real PostgreSQL, real SQLite files, the real command line.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg

from sdconsole.engine.stages import cutover
from sdconsole.engine.target import metadata
from sdconsole.settings import Settings

CHINOOK = Path(__file__).parent / "data" / "chinook.sqlite"


def sdconsole(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sdconsole", "--workdir", str(settings.workdir), *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ), timeout=300
    )


def migrate(settings: Settings, source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return sdconsole(
        settings,
        "migrate",
        str(source),
        "--target",
        settings.target_dsn,
        "--mode",
        "simple",
        "--yes",
        *extra,
    )


def stable_tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {
            t
            for (t,) in conn.execute(
                "SELECT table_name FROM information_schema.views WHERE table_schema = 'servicedesk'"
                " AND table_name <> '_rejects'"
            )
        }


def versions(dsn: str) -> list[tuple[int, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT version, status FROM sdconsole.deployments ORDER BY version"
        ).fetchall()


def small(path: Path, values: list) -> Path:
    with sqlite3.connect(path) as db:
        db.execute('CREATE TABLE assets ("Asset ID" INTEGER, "Tag" TEXT)')
        db.executemany("INSERT INTO assets VALUES (?, ?)", [(i, v) for i, v in enumerate(values)])
    db.close()
    return path


def test_an_unrelated_database_needs_allow_shape_change(
    settings: Settings, sample_db: Path
) -> None:
    assert migrate(settings, sample_db).returncode == 0
    dashboards = stable_tables(settings.target_dsn)
    assert dashboards == {"tickets", "comments", "timesheets"}

    checked = sdconsole(settings, "preflight", str(CHINOOK), "--target", settings.target_dsn)
    said = " ".join(checked.stdout.split())  # the output wraps at 80 columns
    assert "shape" in said and "3 tables removed: comments, tickets, timesheets" in said, said

    refused = migrate(settings, CHINOOK)
    assert refused.returncode == 7, refused.stderr
    assert "3 tables removed: comments, tickets, timesheets" in refused.stderr
    assert "--allow-shape-change" in refused.stderr and "\n" not in refused.stderr.strip()
    assert stable_tables(settings.target_dsn) == dashboards
    assert [s for _, s in versions(settings.target_dsn)] == ["active"]  # nothing was loaded

    allowed = migrate(settings, CHINOOK, "--allow-shape-change")
    assert allowed.returncode == 0, allowed.stderr
    assert "album" in stable_tables(settings.target_dsn)


def test_a_retyped_column_is_named_and_an_added_one_needs_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    assert migrate(settings, small(tmp_path / "a.db", ["1", "2", "3"])).returncode == 0
    retyped = migrate(settings, small(tmp_path / "b.db", ["x1", "x2", "x3"]))
    assert retyped.returncode == 7
    assert "1 columns retyped: assets.tag bigint -> text" in retyped.stderr

    wider = tmp_path / "c.db"
    small(wider, ["4", "5", "6"])
    with sqlite3.connect(wider) as db:
        db.execute('ALTER TABLE assets ADD COLUMN "Location" TEXT')
    db.close()
    added = migrate(settings, wider)
    assert added.returncode == 0, added.stderr


def test_the_cutover_confirmation_lists_the_change(settings: Settings, sample_db: Path) -> None:
    """What the console's cutover modal shows above the statements."""
    from sdconsole.engine import pipeline

    assert migrate(settings, sample_db).returncode == 0
    with pipeline.Migration(settings, CHINOOK, mode="simple", allow_shape_change=True) as m:
        m.preflight()
        m.profile()
        m.gate()
        m.clean()
        m.load()
        m.validate()
        plan = m.plan_cutover()
    assert plan.shape is not None and plan.shape.breaking
    lines = plan.shape_lines()
    assert lines[0] == "This version REMOVES or RETYPES what dashboards read:"
    assert any("3 tables removed: comments, tickets, timesheets" in line for line in lines)
    with psycopg.connect(settings.target_dsn) as conn:
        assert metadata.active_version(conn, "servicedesk") == 1
        assert cutover.plan_cutover(conn, "servicedesk", 2).shape.tables_added
