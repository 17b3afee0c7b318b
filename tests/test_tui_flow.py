"""The console driven by keys, Home to cutover and back, on a real PostgreSQL.

Nothing is mocked: the App runs the real engine in its workers against the
test database; the tests press keys, wait for the workers and look at the
screens and at what PostgreSQL holds afterwards.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from textual.clock import MockClock
from tui_pilot import (
    cut_over,
    deployments,
    footer_keys,
    press,
    schemas,
    screen_text,
    to_load,
    to_profile,
    type_text,
    views_read,
)

from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.clean import CleanScreen
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.cutover import CutoverModal
from sdconsole.tui.screens.error import ErrorModal
from sdconsole.tui.screens.eventlog import EventLogScreen
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.screens.prompt import PromptModal
from sdconsole.tui.widgets.keyed_table import KeyedTable


def console(settings: Settings, source: Path, **changes) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source, **changes}),
                      clock=MockClock())


@pytest.fixture
def orphaned(sample_copy: Path) -> Path:
    """The sample with a third of its comments pointing at tickets that do not exist."""
    with sqlite3.connect(sample_copy) as conn:
        conn.execute("""UPDATE comments SET "CT-TKT-ID" = '999999' || rowid"""
                     " WHERE rowid % 3 = 0")
    return sample_copy


async def migrate(pilot) -> str:
    await to_profile(pilot)
    assert "passed" in screen_text(pilot.app)
    await to_load(pilot)
    return await cut_over(pilot)


async def test_keys_take_a_migration_to_cutover_and_roll_it_back(settings, sample_db):
    dsn = settings.target_dsn
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await migrate(pilot) == "servicedesk_v1"
        assert views_read(dsn) == {"servicedesk_v1"}
        assert "Active    v1 servicedesk_v1" in screen_text(app)
        assert footer_keys(app)["Rollback"] is False, "nothing to roll back to yet"
        await press(pilot, "ctrl+r")
        assert isinstance(app.screen, HomeScreen)

        await to_profile(pilot)
        await to_load(pilot)
        await press(pilot, "c")
        plan_text = screen_text(app)
        assert "shows version 1 now; after: version 2" in plan_text
        assert "pg_dump" in plan_text
        await type_text(pilot, "servicedesk_v2")
        await press(pilot, "enter")
        assert views_read(dsn) == {"servicedesk_v2"}
        assert footer_keys(app)["Rollback"] is True
        versions = app.screen.query_one(KeyedTable)
        assert [row.value for row in versions.rows] == ["2", "1"], "newest version first"

        await press(pilot, "ctrl+r")
        assert isinstance(app.screen, ConfirmModal)
        assert "from version 2 to version 1" in screen_text(app)
        await press(pilot, "y")
        assert views_read(dsn) == {"servicedesk_v1"}
        assert deployments(dsn) == {1: "active", 2: "rolled_back"}
        assert "Active    v1 servicedesk_v1" in screen_text(app)

        await press(pilot, "l")
        assert isinstance(app.screen, EventLogScreen)
        log = "\n".join(line.text for line in app.event_lines.lines)
        assert 'CREATE OR REPLACE VIEW "servicedesk"."tickets"' in log
        assert "== rollback" in log


async def test_gate_refusal_needs_a_typed_reason_which_is_recorded(settings, orphaned):
    app = console(settings, orphaned, quality_threshold=100)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_profile(pilot)
        assert "refused" in screen_text(app)
        keys = footer_keys(app)
        assert "Override gate" in keys and "Preview clean" not in keys
        await press(pilot, "enter")
        assert isinstance(app.screen, ProfileScreen), "enter must not pass a refused gate"

        await press(pilot, "o")
        assert isinstance(app.screen, PromptModal)
        await press(pilot, "enter")
        assert isinstance(app.screen, PromptModal), "an empty reason is not a reason"
        assert "an answer is required" in screen_text(app)
        await type_text(pilot, "orphans are known, ops lead agreed")
        await press(pilot, "enter")
        assert isinstance(app.screen, CleanScreen)

        await press(pilot, "a")
        assert isinstance(app.screen, CanaryScreen)
        await press(pilot, "escape")
        await press(pilot, "y")
        assert isinstance(app.screen, HomeScreen)
    with psycopg.connect(settings.target_dsn) as conn:
        reasons = conn.execute("SELECT gate_override_reason FROM sdconsole.runs").fetchall()
    assert reasons == [("orphans are known, ops lead agreed",)]


@pytest.mark.parametrize("where", ["gate", "preview", "canary", "cutover"])
async def test_stopping_at_an_approval_leaves_postgresql_as_it_was(settings, sample_db, where):
    dsn = settings.target_dsn
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_profile(pilot)
        if where == "preview":
            await press(pilot, "enter")
            assert isinstance(app.screen, CleanScreen)
            await press(pilot, "escape")
            assert isinstance(app.screen, ProfileScreen), "esc on the preview goes back"
        elif where in ("canary", "cutover"):
            await press(pilot, "enter", "a")
            assert isinstance(app.screen, CanaryScreen)
            if where == "cutover":
                await press(pilot, "a", "c")
                assert isinstance(app.screen, CutoverModal)
                await press(pilot, "escape")
                assert isinstance(app.screen, LoadScreen)
                assert views_read(dsn) == set()
        await press(pilot, "escape")
        assert isinstance(app.screen, ConfirmModal)
        question = screen_text(app)
        if where == "cutover":
            assert "drop servicedesk_v1" in question
        else:
            assert "Nothing has been changed" in question
        await press(pilot, "y")
        assert isinstance(app.screen, HomeScreen)
        assert app.flow.migration is None
    assert views_read(dsn) == set()
    assert schemas(dsn) == set(), "no version, canary or stable schema is left"
    assert deployments(dsn) == ({1: "discarded"} if where == "cutover" else {})


async def test_an_engine_failure_is_a_modal_and_the_console_stays(settings, sample_db,
                                                                 pg_server):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_profile(pilot)
        await press(pilot, "enter", "a")
        assert isinstance(app.screen, CanaryScreen)
        dbname = psycopg.conninfo.conninfo_to_dict(settings.target_dsn)["dbname"]
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(psycopg.sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                psycopg.sql.Identifier(dbname)))
        await press(pilot, "a")
        assert isinstance(app.screen, ErrorModal)
        modal = app.screen
        assert "load failed" in screen_text(app)
        assert modal.message and "\n" not in modal.message, "one line for the operator"
        assert modal.message in screen_text(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, LoadScreen)
        assert app.is_running
