"""What operators expect from k9s, lazygit and Textual apps: a command palette with the screen's
actions, / to filter a table, keys that say why they do nothing, help in words."""

from __future__ import annotations

from pathlib import Path

from test_tui_keys import no_run_left  # noqa: F401  (the fixture, for every test here)
from textual.clock import MockClock
from textual.command import CommandPalette
from tui_pilot import press, screen_text, screen_words, settle, to_profile, toasts

from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.eventlog import EventLogScreen
from sdconsole.tui.screens.help import HelpScreen
from sdconsole.tui.screens.history import HistoryScreen
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.widgets.filter_bar import FilterBar
from sdconsole.tui.widgets.keyed_table import KeyedTable


def console(settings: Settings, source: Path) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock())


async def palette(pilot, query: str) -> str:
    """Open ctrl+p, type ``query``; the palette's words."""
    await press(pilot, "ctrl+p")
    assert isinstance(pilot.app.screen, CommandPalette)
    await pilot.press(*query)
    await settle(pilot)
    return screen_words(pilot.app)


async def test_the_palette_lists_the_screens_actions_and_runs_them(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        assert "New migration" in await palette(pilot, "")
        await press(pilot, "escape")
        assert "key h" in await palette(pilot, "history")
        await press(pilot, "enter")
        assert isinstance(app.screen, HistoryScreen)
        await press(pilot, "escape")

        words = await palette(pilot, "rollback")
        assert "not now: nothing to roll back" in words, "a blocked action says why"
        await press(pilot, "enter")
        assert isinstance(app.screen, HomeScreen)
        assert "nothing to roll back: servicedesk has no active version" in toasts(app)


async def test_keys_that_do_nothing_now_say_why(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+r")
        assert isinstance(app.screen, HomeScreen)
        assert "Rollback: not now" in toasts(app)
        assert "servicedesk has no active version" in toasts(app), "the engine's reason"
        await press(pilot, "l")
        assert isinstance(app.screen, EventLogScreen)
        logged = screen_words(app)
        assert "Rollback: not now:" in logged, "a toast goes; its words stay in the log"
        assert "servicedesk has no active version" in logged


async def test_slash_filters_the_table_and_esc_clears_it(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_profile(pilot)
        table = app.screen.query_one("#column-table", KeyedTable)
        everything = table.row_count
        await press(pilot, "slash")
        bar = app.screen.query_one(FilterBar)
        assert app.screen.focused is bar
        await pilot.press(*"TS-")
        await settle(pilot)
        keys = [row.value for row in table.rows]
        assert keys and all(key.startswith("timesheets.TS-") for key in keys)
        assert len(keys) < everything
        await press(pilot, "enter")
        assert app.screen.focused is table and bar.display, "kept, and shown as kept"
        await press(pilot, "slash", "escape")
        assert table.row_count == everything and not bar.display


async def test_help_speaks_of_screens_and_keys_in_words(offline_settings, sample_db):
    app = console(offline_settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "l", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        words = screen_words(app)
        assert "Keys: Event log" in words and "EventLog" not in words
        assert "Follow" in words
        await press(pilot, "escape")
        assert isinstance(app.screen, EventLogScreen)
        await press(pilot, "escape", "1")
        await press(pilot, "b", "question_mark")
        words = screen_words(app)
        assert "Keys: Runbook" in words
        assert "Pages or page text" in words and "focus_next" not in words
        assert "tab_1" not in screen_text(app)
