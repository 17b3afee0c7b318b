"""Keys: ids on every binding, remapping from the config, help, esc, and what the footer shows."""

from __future__ import annotations

import importlib
import pkgutil
import re
from importlib import resources

import pytest
from textual.binding import Binding
from textual.clock import MockClock
from textual.widgets import MarkdownViewer, OptionList
from tui_pilot import (
    footer_keys,
    run_processes,
    screen_text,
    screen_words,
    settle,
    to_profile,
    until_gate,
    until_no_run_process,
)

from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.runtime.run import runs_dir
from sdconsole.engine.steps import Gate
from sdconsole.settings import load_settings
from sdconsole.tui import screens, widgets
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.keymap import binding_ids
from sdconsole.tui.screens.eventlog import EventLogScreen
from sdconsole.tui.screens.help import HelpScreen
from sdconsole.tui.screens.history import HistoryScreen
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.screens.runbook import RunbookScreen, runbook_pages


def all_bindings():
    classes = [ConsoleApp]
    for package in (screens, widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            classes += [
                v
                for v in vars(module).values()
                if isinstance(v, type) and v.__module__ == module.__name__
            ]
    return [(cls.__name__, b) for cls in classes for b in vars(cls).get("BINDINGS", [])]


def test_every_binding_has_an_id_so_it_can_be_remapped():
    bindings = all_bindings()
    assert len(bindings) > 30
    for owner, binding in bindings:
        assert isinstance(binding, Binding) and binding.id, f"{owner}: {binding}"
    assert {"rollback", "quit", "help", "back", "new", "continue", "approve"} <= binding_ids()


def test_the_runbook_lists_every_binding_id():
    page = (resources.files("sdconsole.runbook") / "console.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([a-z_0-9]+)`", page))
    assert binding_ids() <= listed, sorted(binding_ids() - listed)


def test_a_keymap_with_an_unknown_id_is_refused_in_one_line(tmp_path):
    settings = load_settings(None, workdir=tmp_path, keymap={"rolback": "f9"})
    with pytest.raises(BadInput, match="no binding with id 'rolback'"):
        ConsoleApp(settings)


def console(settings, sample_db, **changes) -> ConsoleApp:
    return ConsoleApp(
        settings.model_copy(update={"source": sample_db, **changes}), clock=MockClock()
    )


def end_runs(workdir) -> None:
    """End the run processes consoles started in ``workdir`` and left waiting at a gate (a
    test that ends at a gate, a served console, a snapshot's)."""
    runs = runs_dir(workdir)
    for run_id in (path.name for path in runs.iterdir()) if runs.is_dir() else ():
        for process in run_processes(run_id):
            process.terminate()
        until_no_run_process(run_id)


@pytest.fixture(autouse=True)
def no_run_left(workdir):
    """No run process outlives the test that started it, whether the test left the run
    waiting at a gate or failed half-way."""
    yield
    end_runs(workdir)


async def test_the_keymap_moves_a_key(settings, sample_db):
    app = console(settings, sample_db, keymap={"new": "f2"})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "f2 New migration" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen), "n is no longer bound"
        assert not app.flow.following, "no run was started"
        await pilot.press("f2")
        await until_gate(pilot, Gate.QUALITY)
        assert isinstance(app.screen, ProfileScreen), "f2 started the migration"


async def test_help_shows_the_keys_of_the_screen_and_esc_closes_it(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Keys: Home" in text, "the screen by its name"
        assert re.search(r"n +New migration +yes", text), "what the key does, in words"
        assert "(new)" not in text and " new " not in text, "no binding ids"
        assert "nothing to roll back: servicedesk has no active version" in screen_words(app), (
            "a key that cannot run says why"
        )
        assert "HomeScreen" not in text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


@pytest.mark.parametrize(
    ("key", "screen"),
    [
        ("h", HistoryScreen),
        ("b", RunbookScreen),
        ("l", EventLogScreen),
    ],
)
async def test_side_screens_open_from_home_and_esc_goes_back(settings, sample_db, key, screen):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, screen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_the_runbook_renders_the_packaged_markdown(offline_settings, sample_db):
    pages = runbook_pages()
    assert pages and pages[0].stem == "index"
    app = console(offline_settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
        options = app.screen.query_one(OptionList)
        assert options.option_count == len(pages)
        viewer = app.screen.query_one(MarkdownViewer)
        assert viewer.document.source == pages[0].read_text(encoding="utf-8")


async def test_the_footer_shows_only_keys_that_work_now(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = footer_keys(app)
        assert keys["New migration"] is True
        assert keys["Rollback"] is False, "nothing to roll back: shown dimmed"
        await to_profile(pilot)
        keys = footer_keys(app)
        assert keys["Preview clean"] is True and keys["Stop run"] is True
        assert "Override gate" not in keys, "the gate passed: nothing to override"
        assert "New migration" not in keys, "Home's keys are gone with Home"
