"""The terminal goes away (SIGHUP) or the operator quits during a load; the next start resumes.

Each console session runs in its own event loop (asyncio.run), which also
waits for the worker thread to finish the stage: exactly what happens when
the real process exits. So that the load is certainly still running when
the test interrupts it, a Run listener holds the engine's thread at the
load's first progress event until the interruption has been handled.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from textual.clock import MockClock
from tui_pilot import (
    HoldStage,
    deployments,
    schemas,
    screen_text,
    settle,
    type_text,
    views_read,
)

from sdconsole.engine import pipeline
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.cutover import CutoverModal
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.resume import ResumeModal


def console(settings: Settings, source: Path) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock())


async def interrupt_load(settings: Settings, source: Path, how: str) -> int | None:
    """Drive to the load, interrupt it while it runs; the console's exit status."""
    app = console(settings, source)
    hold = app.listener = HoldStage(app.listener, "load")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in ("n", "enter", "enter", "a"):
            await pilot.press(key)
            await settle(pilot)
        assert isinstance(app.screen, CanaryScreen), screen_text(app)
        await pilot.press("a")
        assert await asyncio.to_thread(hold.held.wait, 60)
        assert app.busy == "load"
        if how == "sighup":
            os.kill(os.getpid(), signal.SIGHUP)
        else:
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, ConfirmModal)
            assert "The load step is running" in screen_text(app)
            await pilot.press("y")
        while not app.hangup.is_set():
            await pilot.pause()
        hold.release.set()
    return app.return_code


async def answer_resume_offer(settings: Settings, source: Path, key: str) -> None:
    app = console(settings, source)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ResumeModal)
        assert "stopped during load" in screen_text(app)
        await pilot.press(key)
        await settle(pilot)
        if key == "r":
            assert isinstance(app.screen, LoadScreen)
            assert "Validated" in screen_text(app)
            await pilot.press("c")
            await settle(pilot)
            assert isinstance(app.screen, CutoverModal)
            await type_text(pilot, app.screen.plan.to_schema)
            await pilot.press("enter")
            await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


def test_sighup_during_load_stops_safely_and_the_next_start_resumes(settings, sample_db):
    dsn = settings.target_dsn
    assert asyncio.run(interrupt_load(settings, sample_db, "sighup")) == 10
    interrupted = pipeline.interrupted_runs(settings)
    assert [run.stage for run in interrupted] == ["load"]
    assert views_read(dsn) == set(), "nothing was cut over"
    assert deployments(dsn) == {1: "failed"}

    asyncio.run(answer_resume_offer(settings, sample_db, "r"))
    assert views_read(dsn) == {"servicedesk_v1"}
    assert deployments(dsn) == {1: "active"}
    assert pipeline.interrupted_runs(settings) == []


def test_quitting_during_load_asks_first_and_the_next_start_can_discard(settings, sample_db):
    dsn = settings.target_dsn
    assert asyncio.run(interrupt_load(settings, sample_db, "quit")) == 10
    assert deployments(dsn) == {1: "failed"}

    asyncio.run(answer_resume_offer(settings, sample_db, "d"))
    assert deployments(dsn) == {1: "discarded"}
    assert "servicedesk_v1" not in schemas(dsn)
    assert pipeline.interrupted_runs(settings) == []
