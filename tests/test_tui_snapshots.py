"""Snapshots of the main screens at 60x20, 80x24 and 120x40, clocks and animations frozen.

The screens are reached by pressing keys in a console that starts a real run
process on a real PostgreSQL, each taken where the run waits at a gate,
except Preflight, whose checks report this machine's free disk and memory
(and which a run passes at once): it is shown from the events of fixed check
results instead. The target is
named by libpq environment variables, the source by a relative path and
times in UTC, so nothing machine-specific appears on screen.

Update after an intended change: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from test_tui_detail import show_preflight
from test_tui_keys import end_runs
from textual.clock import MockClock
from textual.widgets import Input
from tui_pilot import (
    approve,
    measuring,
    screen_text,
    settle,
    start_run,
    until,
    until_gate,
)

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.steps import Gate
from sdconsole.settings import load_settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.preflight import PreflightScreen

SIZE = (80, 24)
SIZES = pytest.mark.parametrize(
    "size", [(60, 20), (80, 24), (120, 40)], ids=lambda size: f"{size[0]}x{size[1]}"
)
DATABASE = "sdc_tui_snapshot"
ENV = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}


@pytest.fixture
def app(
    pg_server: str, sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ConsoleApp:
    """A console on a fresh database named the same in every run, the sample as ./servicedesk.db."""
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    for key, value in conninfo_to_dict(pg_server).items():
        if key in ENV and value:
            monkeypatch.setenv(ENV[key], str(value))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    shutil.copy(sample_db, tmp_path / "servicedesk.db")
    settings = load_settings(
        None,
        workdir=tmp_path / "work",
        target_dsn=f"dbname={DATABASE}",
        source=Path("servicedesk.db"),
        operator="operator",
    )
    console = ConsoleApp(settings, clock=MockClock())
    console.animation_level = "none"
    yield console
    end_runs(settings.workdir)
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )


def keys_then_settle(*keys: str, gate: Gate | None = None):
    """A run_before for snap_compare: from Home, a run started and taken through the gates
    before ``gate`` to ``gate`` (None: no run), then press keys, waiting after each."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        if gate is not None:
            await start_run(pilot)
            for passed in list(Gate)[: list(Gate).index(gate)]:
                await approve(pilot, passed)
            await until_gate(pilot, gate)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await steady(pilot)

    return run_before


async def steady(pilot, rounds: int = 400) -> None:
    """Wait until two renders in a row show the same screen with every table measured: on a
    busy machine a table's layout can still change after the workers have settled (its
    size arrives later, and a table rebuilt for it measures its rows when next idle)."""
    last = None
    for _ in range(rounds):
        await pilot.pause(0.05)
        shown = screen_text(pilot.app)
        if shown == last and not measuring(pilot.app):
            return
        last = shown
    raise AssertionError(f"the screen never kept still\n{last}")


@SIZES
def test_home(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle())


def test_help_lists_the_keys_of_the_screen_below(snap_compare, app):
    assert snap_compare(app, terminal_size=SIZE, run_before=keys_then_settle("question_mark"))


CHECKS = [
    ev.CheckResult(
        stage="preflight",
        name="source",
        status="pass",
        reason="servicedesk.db is a readable SQLite database (0.8 MB)",
    ),
    ev.CheckResult(
        stage="preflight",
        name="target",
        status="pass",
        reason="connected to dbname=sdc_tui_snapshot",
    ),
    ev.CheckResult(
        stage="preflight",
        name="disk",
        status="warn",
        reason="1.2 GB free in the work dir; the run needs about 40 MB",
        fix="keep an eye on it: backups grow with every version",
    ),
    ev.CheckResult(
        stage="preflight",
        name="server version",
        status="fail",
        reason="PostgreSQL 13.4; 15 or newer is needed",
        fix="upgrade the server or point --target at a newer one",
    ),
]


async def preflight_shown(pilot) -> None:
    await settle(pilot)
    show_preflight(pilot.app, CHECKS)
    await until(pilot, lambda: isinstance(pilot.app.screen, PreflightScreen), "the preflight")


@SIZES
def test_preflight_shows_reason_and_fix(snap_compare, app, size):
    async def run_before(pilot) -> None:
        await preflight_shown(pilot)
        await pilot.press("down", "down", "down")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_a_check_in_full(snap_compare, app):
    async def run_before(pilot) -> None:
        await preflight_shown(pilot)
        await pilot.press("down", "down", "v")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(60, 20), run_before=run_before)


@SIZES
def test_profile(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle(gate=Gate.QUALITY))


@pytest.mark.parametrize("tab", ["2", "3"], ids=["score", "findings"])
def test_the_score_explained(snap_compare, app, tab):
    assert snap_compare(
        app, terminal_size=SIZE, run_before=keys_then_settle(tab, gate=Gate.QUALITY)
    )


@SIZES
def test_clean_preview(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle(gate=Gate.CLEAN))


@SIZES
def test_cutover_confirmation(snap_compare, app, size):
    """Over the load screen, whose measured rows/s (this machine's speed) are fixed first:
    esc puts the confirmation off, the load screen shows the fixed figures, c opens it again."""

    async def run_before(pilot) -> None:
        await keys_then_settle(gate=Gate.CUTOVER)(pilot)
        for figures in pilot.app.flow.files.load().tables.values():
            figures["rate"] = 12_345.0  # the cached report the load screen reads
        await keys_then_settle("escape", "c")(pilot)  # the load screen redrawn, then c

    assert snap_compare(app, terminal_size=size, run_before=run_before)
