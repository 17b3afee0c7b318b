"""Stopping a step: one key while it runs, a y/n naming what is kept, then retry or leave.

The real engine runs on a real PostgreSQL. So that the step certainly still
runs when x is pressed, a Run listener holds the engine's thread at the
step's first progress event until the test has answered the question.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.clock import MockClock
from tui_pilot import (
    HoldStage,
    deployments,
    footer_keys,
    press,
    schemas,
    screen_text,
    screen_words,
    settle,
    to_profile,
    toasts,
    verdict,
)

from sdconsole.engine import pipeline
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.resume import ResumeModal
from sdconsole.tui.widgets.table_progress import TableProgressRow


def console(settings: Settings, source: Path) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock())


async def stop_the_load(pilot, hold: HoldStage) -> None:
    """From Home to a running load, x, the question answered y: the load stopped."""
    app = pilot.app
    await to_profile(pilot)
    await press(pilot, "enter", "a")
    assert isinstance(app.screen, CanaryScreen)
    await pilot.press("a")
    assert await asyncio.to_thread(hold.held.wait, 60)
    await pilot.pause()
    keys = footer_keys(app)
    assert app.busy == "load" and keys.get("Stop step") is True
    assert "Back" not in keys and "Stop" not in keys, "esc does nothing while a step runs"
    await pilot.press("escape")
    await pilot.pause()
    assert "load is running: wait for it to finish, or x stops it" in toasts(app), \
        "esc says why it does nothing now"

    await pilot.press("x")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmModal)
    question = screen_words(app)
    assert "Stop the load step at its next safe point?" in question
    assert "Kept: the cleaned working copy; servicedesk on its active version" in question
    assert "Discarded: the rows loaded so far into servicedesk_v1" in question
    await pilot.press("y")
    hold.release.set()
    await settle(pilot)
    assert isinstance(app.screen, LoadScreen), "a stop is no error: no modal"


async def test_x_stops_the_load_and_r_loads_it_again(settings, sample_db):
    dsn = settings.target_dsn
    app = console(settings, sample_db)
    hold = app.listener = HoldStage(app.listener, "load")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await stop_the_load(pilot, hold)
        text = verdict(app)
        assert "Load stopped. Kept: the cleaned working copy" in text
        assert "r runs load again; esc leaves this migration" in text
        rows = list(app.screen.query(TableProgressRow))
        assert any(row.has_class("-stopped") for row in rows), "no ETA that never comes"
        assert "stopped" in screen_text(app)
        keys = footer_keys(app)
        assert keys.get("Retry") is True and "Stop step" not in keys
        assert deployments(dsn) == {1: "failed"}

        await press(pilot, "r")
        assert isinstance(app.screen, LoadScreen)
        assert "Validated" in screen_text(app)
        assert not any(row.has_class("-stopped") for row in app.screen.query(TableProgressRow))
        assert deployments(dsn) == {1: "loaded"}


async def test_leaving_after_a_stop_discards_for_good(settings, sample_db):
    dsn = settings.target_dsn
    app = console(settings, sample_db)
    hold = app.listener = HoldStage(app.listener, "load")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await stop_the_load(pilot, hold)
        await press(pilot, "escape")
        assert isinstance(app.screen, ConfirmModal)
        assert "drop servicedesk_v1" in screen_text(app)
        await press(pilot, "y")
        assert isinstance(app.screen, HomeScreen)
    assert deployments(dsn) == {1: "discarded"}
    assert "servicedesk_v1" not in schemas(dsn)
    assert pipeline.interrupted_runs(settings) == [], "a discard is final"

    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not isinstance(app.screen, ResumeModal), "nothing is offered for resume"
        assert isinstance(app.screen, HomeScreen)


async def test_no_stops_offered_when_idle_and_n_keeps_the_step_running(settings, sample_db):
    app = console(settings, sample_db)
    hold = app.listener = HoldStage(app.listener, "profile")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "n")
        assert "Stop step" not in footer_keys(app), "nothing runs: no stop key"
        await press(pilot, "x")
        assert "nothing is running to stop" in toasts(app)
        await pilot.press("enter")
        assert await asyncio.to_thread(hold.held.wait, 60)
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "Discarded: the profile so far" in screen_words(app)
        await pilot.press("n")
        hold.release.set()
        await settle(pilot)
        assert app.flow.state.result("profile") is not None, "n let the profile finish"
        assert "passed" in screen_text(app)
