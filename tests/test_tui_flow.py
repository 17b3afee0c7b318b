"""The console driven by keys, Home to cutover and back, on a real PostgreSQL.

Nothing is mocked: n starts a real run process against the test database,
the console follows it; the tests press keys, wait for the run to reach its
gates and look at the screens and at what PostgreSQL holds afterwards.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg
import pytest
from textual.clock import MockClock
from tui_pilot import (
    approve,
    cut_over,
    deployments,
    footer_keys,
    notices,
    press,
    schemas,
    screen_text,
    screen_words,
    to_load,
    to_profile,
    toasts,
    type_text,
    until,
    until_ended,
    until_gate,
    until_no_run_process,
    views_read,
)

from sdconsole.engine import pipeline
from sdconsole.engine.runtime.run import read_record, runs_dir
from sdconsole.engine.steps import Gate
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.choice import ChoiceModal
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.error import ErrorModal
from sdconsole.tui.screens.eventlog import EventLogScreen
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.screens.prompt import PromptModal
from sdconsole.tui.screens.resume import ResumeModal
from sdconsole.tui.widgets.keyed_table import KeyedTable


def console(settings: Settings, source: Path | None, **changes) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source, **changes}), clock=MockClock())


@pytest.fixture
def orphaned(sample_copy: Path) -> Path:
    """The sample with a third of its comments pointing at tickets that do not exist."""
    with sqlite3.connect(sample_copy) as conn:
        conn.execute(
            """UPDATE comments SET "CT-TKT-ID" = '999999' || rowid"""
            " WHERE rowid % 3 = 0"
        )
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
        await until(
            pilot,
            lambda: "Active    v1 servicedesk_v1" in screen_text(app),
            "Home shows the new active version",
        )
        assert footer_keys(app)["Rollback"] is False, "nothing to roll back to yet"
        await press(pilot, "ctrl+r")
        assert isinstance(app.screen, HomeScreen)

        await to_profile(pilot)
        await to_load(pilot)
        await press(pilot, "c")
        plan_text = screen_text(app)
        assert "shows version 1 now; after: version 2" in plan_text
        assert "pg_dump" in plan_text
        run_id = app.flow.state.run_id
        await type_text(pilot, "servicedesk_v2")
        await pilot.press("enter")
        assert (await until_ended(pilot, run_id)).outcome == "succeeded"
        log = "\n".join(line.text for line in app.event_lines.lines)
        assert 'CREATE OR REPLACE VIEW "servicedesk"."tickets"' in log, "the cutover's SQL"
        assert views_read(dsn) == {"servicedesk_v2"}
        await until(
            pilot, lambda: footer_keys(app).get("Rollback") is True, "a rollback is offered"
        )
        versions = app.screen.query_one(KeyedTable)
        assert [row.value for row in versions.rows] == ["2", "1"], "newest version first"

        await press(pilot, "ctrl+r")
        assert isinstance(app.screen, ConfirmModal)
        assert "from version 2 to version 1" in screen_text(app)
        app.NOTIFICATION_TIMEOUT = 600  # its toast stays until compared with the log
        await press(pilot, "y")
        assert views_read(dsn) == {"servicedesk_v1"}
        assert deployments(dsn) == {1: "active", 2: "rolled_back"}
        await until(
            pilot,
            lambda: "Active    v1 servicedesk_v1" in screen_text(app),
            "Home shows the version rolled back to",
        )

        await press(pilot, "l")
        assert isinstance(app.screen, EventLogScreen)
        log = "\n".join(line.text for line in app.event_lines.lines)
        took = re.search(r"== rollback done in (\d+\.\d\d)s", log)
        assert took, "the rollback is in the console's log"
        told = [n for n in notices(app).splitlines() if n.startswith("Rolled back: ")]
        assert told == [f"Rolled back: servicedesk is back on version 1 ({took[1]}s)"], "one time"
    until_no_run_process(run_id)


async def test_gate_refusal_needs_a_typed_reason_which_is_recorded(settings, orphaned):
    app = console(settings, orphaned, quality_threshold=100)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        run_id = await to_profile(pilot)
        assert "refused" in screen_text(app)
        keys = footer_keys(app)
        assert "Override gate" in keys and "Preview clean" not in keys
        await press(pilot, "enter")
        assert isinstance(app.screen, ProfileScreen), "enter must not pass a refused gate"
        assert "quality gate refused" in toasts(app) and "typed reason" in toasts(app)
        assert app.flow.state.waits_at(Gate.QUALITY)

        await press(pilot, "o")
        assert isinstance(app.screen, PromptModal)
        await press(pilot, "enter")
        assert isinstance(app.screen, PromptModal), "an empty reason is not a reason"
        assert "an answer is required" in screen_text(app)
        await type_text(pilot, "orphans are known, ops lead agreed")
        await press(pilot, "enter")
        await until_gate(pilot, Gate.CLEAN)

        await approve(pilot, Gate.CLEAN)
        await until_gate(pilot, Gate.CANARY)
        await press(pilot, "escape")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "y")
        assert (await until_ended(pilot, run_id)).outcome == "interrupted"
    with psycopg.connect(settings.target_dsn) as conn:
        reasons = conn.execute("SELECT gate_override_reason FROM sdconsole.runs").fetchall()
    assert reasons == [("orphans are known, ops lead agreed",)]
    until_no_run_process(run_id)


@pytest.mark.parametrize("where", ["gate", "preview", "canary", "cutover"])
async def test_stopping_at_an_approval_leaves_postgresql_as_it_was(settings, sample_db, where):
    """esc at any gate stops the run after a y/n; the views are untouched, and back Home
    the stopped run is offered to resume or discard: discarded, nothing of it is left."""
    dsn = settings.target_dsn
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        run_id = await to_profile(pilot)
        if where == "preview":
            await approve(pilot, Gate.QUALITY)
            await until_gate(pilot, Gate.CLEAN)
        elif where in ("canary", "cutover"):
            await approve(pilot, Gate.QUALITY)
            await approve(pilot, Gate.CLEAN)
            await until_gate(pilot, Gate.CANARY)
            if where == "cutover":
                await approve(pilot, Gate.CANARY)
                await until_gate(pilot, Gate.CUTOVER)
                await press(pilot, "escape")
                assert isinstance(app.screen, LoadScreen), "esc on the cutover puts it off"
                assert app.flow.state.waits_at(Gate.CUTOVER)
                assert views_read(dsn) == set()
        await press(pilot, "escape")
        assert isinstance(app.screen, ConfirmModal)
        question = screen_words(app)
        assert f"Stop run {run_id}" in question
        assert "Kept: everything done so far" in question and "Discarded: nothing" in question
        await press(pilot, "y")
        ended = await until_ended(pilot, run_id)
        assert ended.outcome == "interrupted"
        assert isinstance(app.screen, ErrorModal), "the console says how the run ended"
        assert "interrupted" in screen_words(app)
        await press(pilot, "escape")
        await until(
            pilot,
            lambda: isinstance(app.screen, ResumeModal),
            "back Home, the stopped run offered to resume or discard",
        )
        assert not app.flow.following
        assert views_read(dsn) == set(), "nothing was cut over"
        if where == "cutover":
            assert [run.run_id for run in pipeline.interrupted_runs(settings)] == [run_id]
        await press(pilot, "d")
        await until(
            pilot, lambda: not pipeline.interrupted_runs(settings), "the stopped run discarded"
        )
        assert isinstance(app.screen, HomeScreen)
    until_no_run_process(run_id)
    assert views_read(dsn) == set()
    assert schemas(dsn) == set(), "no version, canary or stable schema is left"
    assert deployments(dsn) == ({1: "discarded"} if where == "cutover" else {})


async def test_a_failed_run_is_a_modal_and_the_console_stays(settings, sample_db, pg_server):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        run_id = await to_profile(pilot)
        await approve(pilot, Gate.QUALITY)
        await approve(pilot, Gate.CLEAN)
        await until_gate(pilot, Gate.CANARY)
        # Approved, the run goes on against a target that is gone: it fails where it stands.
        dbname = psycopg.conninfo.conninfo_to_dict(settings.target_dsn)["dbname"]
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                    psycopg.sql.Identifier(dbname)
                )
            )
        await press(pilot, "a")
        ended = await until_ended(pilot, run_id)
        assert ended.outcome == "failed"
        await until(pilot, lambda: isinstance(app.screen, ErrorModal), "the failure's modal")
        modal = app.screen
        assert "canary failed" in screen_text(app), "the stage that failed, once"
        assert modal.message and "\n" not in modal.message, "one line for the operator"
        assert modal.message in screen_words(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, ResumeModal), "the failed run is offered to resume"
        assert "stopped during canary" in screen_words(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, HomeScreen)
        assert app.is_running
    until_no_run_process(run_id)


async def test_a_mode_chosen_on_home_is_what_the_run_does(settings, sample_db):
    dsn = settings.target_dsn
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "complete: canary → load + backup → validate → cutover" in screen_text(app)
        await press(pilot, "m")
        assert isinstance(app.screen, ChoiceModal)
        assert "canary: load a canary sample and compare it with the source" in screen_text(app)
        assert "the active one and cut over (current)" in screen_text(app), "said, not coloured"
        assert "canary (current)" not in screen_text(app)
        await press(pilot, "up", "up", "enter")
        assert isinstance(app.screen, HomeScreen)
        assert "Mode      canary: canary (m changes it)" in screen_text(app)

        run_id = await to_profile(pilot)
        assert read_record(runs_dir(settings.workdir) / run_id)["mode"] == "canary"
        assert "Load" not in screen_text(app), "the breadcrumb has the canary mode's steps"
        await press(pilot, "m")
        assert isinstance(app.screen, ProfileScreen), "a run's mode is set once it started"
        await approve(pilot, Gate.QUALITY)
        await approve(pilot, Gate.CLEAN)
        assert (await until_ended(pilot, run_id)).outcome == "succeeded"
        assert deployments(dsn) == {} and views_read(dsn) == set(), "a canary loads nothing"
    until_no_run_process(run_id)
