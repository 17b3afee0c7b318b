"""Small things an operator reads at 2am: where the run is, statuses in words, times with a zone,
paths that wrap between their parts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.clock import MockClock
from tui_pilot import (
    approve,
    big_sample,
    cut_over,
    held_in,
    press,
    screen_text,
    settle,
    to_load,
    to_profile,
    until,
    until_ended,
    until_gate,
    until_no_run_process,
    verdict,
)

from sdconsole.engine.steps import Gate, Step
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.format import labelled, zone
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.history import HistoryScreen
from sdconsole.tui.widgets.breadcrumb import Breadcrumb
from sdconsole.tui.widgets.keyed_table import KeyedTable
from sdconsole.tui.widgets.table_progress import TableProgress

NORTHWIND = Path(__file__).parent / "data" / "northwind.sqlite"


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_sample(tmp_path_factory.mktemp("big") / "servicedesk.db")


def console(settings: Settings, source: Path) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock())


def where(app) -> str:
    return app.screen.query_one(Breadcrumb).render().plain


async def test_the_breadcrumb_ticks_clean_only_once_it_is_done(settings, big_db):
    app = console(settings, big_db)
    async with app.run_test(size=(80, 24)) as pilot:
        run_id = await to_profile(pilot)
        await approve(pilot, Gate.QUALITY)
        await until_gate(pilot, Gate.CLEAN)
        assert "▶ Clean" in where(app) and "✓ Clean" not in where(app), "a preview is no clean"
        async with held_in(pilot, run_id, Step.CLEAN, progress=False) as hold:
            await pilot.press("a")
            await hold.reached()
            assert isinstance(app.screen, CanaryScreen) and app.busy == "clean"
            assert "▶ Clean" in where(app) and "✓ Clean" not in where(app)
        await until_gate(pilot, Gate.CANARY)
        assert "✓ Clean" in where(app) and "▶ Canary" in where(app)
        await press(pilot, "escape", "y")
        assert (await until_ended(pilot, run_id)).outcome == "interrupted"
    until_no_run_process(run_id)


async def test_statuses_read_as_words_and_times_carry_their_zone(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(2):
            await to_profile(pilot)
            await to_load(pilot)
            await cut_over(pilot)
        await until(pilot, lambda: app.rollback_plan is not None, "a rollback is offered")
        await press(pilot, "ctrl+r", "y")
        await until(
            pilot,
            lambda: re.search(r"v2 +rolled back", screen_text(app)),
            "Home shows the version rolled back",
        )
        text = screen_text(app)
        assert "rolled_back" not in text
        assert re.search(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d {zone()}", text), "a time says its zone"
        await press(pilot, "h")
        assert isinstance(app.screen, HistoryScreen)
        assert "rolled back" in screen_text(app) and "rolled_back" not in screen_text(app)


def test_a_path_wraps_after_a_separator_not_inside_a_name():
    from rich.console import Console

    out = Console(width=40, file=None, record=True)
    with out.capture() as captured:
        out.print(
            labelled(
                [
                    (
                        "Target",
                        "postgresql://postgres:***@/postgres?host=/var/lib/"
                        "sdconsole/pg-622a7a7e8ae5",
                    )
                ]
            )
        )
    lines = [line.rstrip() for line in captured.get().splitlines()]
    assert lines[0].endswith("@/") and lines[1].strip().startswith("postgres?host=")
    assert lines[2].strip() == "pg-622a7a7e8ae5", "no name is cut in two"


async def test_home_says_how_the_run_that_just_cut_over_ended(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_profile(pilot)
        await to_load(pilot)
        await cut_over(pilot)
        await settle(pilot)
        [last] = [line for line in screen_text(app).splitlines() if "Last run" in line]
        assert "succeeded" in last, "recorded before the run said it ended"


async def test_a_source_of_many_tables_leaves_the_step_its_table(settings):
    app = console(settings, NORTHWIND)
    async with app.run_test(size=(80, 24)) as pilot:
        run_id = await to_profile(pilot)
        progress = app.screen.query_one(TableProgress)
        assert len(progress.rows) == 13 and progress.region.height <= 24 // 3
        columns = app.screen.query_one("#column-table", KeyedTable)
        assert columns.region.height >= 8, "the profile's columns keep their room"
        await press(pilot, "escape", "y")
        assert (await until_ended(pilot, run_id)).outcome == "interrupted"
    until_no_run_process(run_id)


async def test_a_clean_that_changes_nothing_says_so(settings):
    app = console(settings, NORTHWIND)
    async with app.run_test(size=(80, 24)) as pilot:
        run_id = await to_profile(pilot)
        await approve(pilot, Gate.QUALITY)
        await until_gate(pilot, Gate.CLEAN)
        assert "Cleaning changes no cell, and every value converts" in verdict(app)
        assert "rule/column pairs" not in verdict(app)
        await press(pilot, "escape", "y")
        assert (await until_ended(pilot, run_id)).outcome == "interrupted"
    until_no_run_process(run_id)
