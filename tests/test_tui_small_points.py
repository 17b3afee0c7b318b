"""Small things an operator reads at 2am: where the run is, statuses in words, times with a zone,
paths that wrap between their parts."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from textual.clock import MockClock
from tui_pilot import HoldStage, cut_over, press, screen_text, settle, to_load, to_profile

from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.format import labelled, zone
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.history import HistoryScreen
from sdconsole.tui.widgets.breadcrumb import Breadcrumb


def console(settings: Settings, source: Path) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock())


def where(app) -> str:
    return app.screen.query_one(Breadcrumb).render().plain


async def test_the_breadcrumb_ticks_clean_only_once_it_is_done(settings, sample_db):
    app = console(settings, sample_db)
    hold = app.listener = HoldStage(app.listener, "clean", armed=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_profile(pilot)
        await press(pilot, "enter")
        hold.armed = True  # the preview ran as the clean stage too: hold the real clean
        await pilot.press("a")
        assert await asyncio.to_thread(hold.held.wait, 60)
        await pilot.pause()
        assert isinstance(app.screen, CanaryScreen) and app.busy == "clean"
        assert "▶ Clean" in where(app) and "✓ Clean" not in where(app)
        hold.release.set()
        await settle(pilot)
        assert "✓ Clean" in where(app) and "▶ Canary" in where(app)


async def test_statuses_read_as_words_and_times_carry_their_zone(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(2):
            await to_profile(pilot)
            await to_load(pilot)
            await cut_over(pilot)
        await press(pilot, "ctrl+r", "y")
        text = screen_text(app)
        assert re.search(r"v2 +rolled back", text) and "rolled_back" not in text
        assert re.search(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d {zone()}", text), "a time says its zone"
        await press(pilot, "h")
        assert isinstance(app.screen, HistoryScreen)
        assert "rolled back" in screen_text(app) and "rolled_back" not in screen_text(app)


def test_a_path_wraps_after_a_separator_not_inside_a_name():
    from rich.console import Console

    out = Console(width=40, file=None, record=True)
    with out.capture() as captured:
        out.print(labelled([("Target", "postgresql://postgres:***@/postgres?host=/var/lib/"
                                      "sdconsole/pg-622a7a7e8ae5")]))
    lines = [line.rstrip() for line in captured.get().splitlines()]
    assert lines[0].endswith("@/") and lines[1].strip().startswith("postgres?host=")
    assert lines[2].strip() == "pg-622a7a7e8ae5", "no name is cut in two"
