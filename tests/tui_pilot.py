"""Helpers for driving the console with Pilot: wait for engine workers, read the screen."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable

import psycopg
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable

from sdconsole.engine.runtime import events as ev
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.clean import CleanScreen
from sdconsole.tui.screens.cutover import CutoverModal
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.preflight import PreflightScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.widgets.keyed_table import KeyedTable


class HoldStage:
    """A Run listener in front of the console's: holds the engine's thread at the first
    progress of ``stage`` until released, so a test acts while the stage certainly runs.
    Unless ``armed``, it holds nothing until armed (a stage that runs twice, as the clean)."""

    def __init__(self, inner: Callable[[ev.Event], None], stage: str,
                 armed: bool = True) -> None:
        self.inner = inner
        self.stage = stage
        self.armed = armed
        self.held = threading.Event()
        self.release = threading.Event()

    def __call__(self, event: ev.Event) -> None:
        self.inner(event)
        if self.armed and isinstance(event, ev.Progress) and event.stage == self.stage \
                and not self.held.is_set():
            self.held.set()
            self.release.wait(timeout=60)


async def settle(pilot: Pilot, rounds: int = 200) -> None:
    """Wait until no worker runs and the App has handled what the last ones posted.

    A finished step often starts the next one from its result handler, so
    this waits, lets the UI catch up, and looks again.
    """
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        running = [w for w in app.workers if not w.is_finished]
        if not running:
            await pilot.pause()
            if all(w.is_finished for w in app.workers) and not _measuring(app):
                return
            continue
        await app.workers.wait_for_complete(running)
    raise AssertionError("engine workers never settled")


def _measuring(app) -> bool:
    """Whether a table on screen has rows or cells it has not measured yet, or a KeyedTable
    has a size its columns are not yet fitted to.

    DataTable sizes its columns when it is next idle, and a KeyedTable fits
    its wide column when its Resize arrives; a screenshot taken before then
    shows them too narrow. (Private attributes of the pinned Textual and of
    KeyedTable: there is no public way to ask.)
    """
    return any(table._require_update_dimensions or table._updated_cells
               or (isinstance(table, KeyedTable)
                   and table._layout(list(table._shown.items())) != table._widths)
               for table in app.screen.query(DataTable))


async def press(pilot, *keys: str) -> None:
    """Press keys, then wait for what they started."""
    await pilot.press(*keys)
    await settle(pilot)


async def to_profile(pilot) -> None:
    """From Home through a passing preflight to the profile."""
    app = pilot.app
    await settle(pilot)
    assert isinstance(app.screen, HomeScreen)
    await press(pilot, "n")
    assert isinstance(app.screen, PreflightScreen)
    assert app.flow.state.result("preflight").ok
    assert "Ready" in screen_text(app)
    await press(pilot, "enter")
    assert isinstance(app.screen, ProfileScreen)


async def to_load(pilot) -> None:
    """From the profile (gate passed) through clean and canary to a validated load."""
    app = pilot.app
    await press(pilot, "enter")
    assert isinstance(app.screen, CleanScreen)
    assert "a applies" in screen_text(app)
    await press(pilot, "a")
    assert isinstance(app.screen, CanaryScreen)
    assert "Canary passed" in screen_text(app)
    await press(pilot, "a")
    assert isinstance(app.screen, LoadScreen)
    assert "Validated" in screen_text(app)


async def cut_over(pilot) -> str:
    """From the validated load: confirm the cutover by typing the schema name."""
    app = pilot.app
    await press(pilot, "c")
    assert isinstance(app.screen, CutoverModal)
    schema = app.screen.plan.to_schema
    await type_text(pilot, schema + "x")
    await press(pilot, "enter")
    assert isinstance(app.screen, CutoverModal), "a wrong name must not cut over"
    assert f"That is not {schema}" in screen_text(app)
    await pilot.press("backspace")
    await press(pilot, "enter")
    assert isinstance(app.screen, HomeScreen)
    return schema


async def type_text(pilot: Pilot, text: str) -> None:
    """Type ``text`` into the focused Input, key by key."""
    await pilot.press(*text)


def footer_keys(app) -> dict[str, bool]:
    """Description -> enabled, for the bindings the footer of the top screen shows."""
    return {active.binding.description: active.enabled
            for active in app.screen.active_bindings.values() if active.binding.show}


def screen_text(app) -> str:
    """The screen as the operator sees it, as plain text (modals over their background)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def screen_words(app, widget=None) -> str:
    """The words on screen (inside ``widget``'s region if given) in reading order, borders
    and wrapping undone: for text that wraps inside a dialog or a table row."""
    lines = screen_text(app).splitlines()
    if widget is not None:
        region = widget.region
        lines = [line[region.x:region.right] for line in lines[region.y:region.bottom]]
    return " ".join(re.sub(r"[│╭╮╰╯─▊▌▎▔▁▂▃▄▅▆▇█]", " ", "\n".join(lines)).split())


def verdict(app) -> str:
    """The verdict line of the step screen on top, as plain text."""
    return app.screen.query_one("#verdict").content.plain


def toasts(app) -> str:
    """The words of the notifications on screen (run_test(notifications=True))."""
    return " ".join(screen_words(app, toast) for toast in app.screen.query("Toast"))


def views_read(dsn: str, stable: str = "servicedesk") -> set[str]:
    """The schemas the views of ``stable`` select from, read from the catalog."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT DISTINCT table_schema FROM information_schema.view_table_usage"
            " WHERE view_schema = %s", (stable,)).fetchall()
    return {r[0] for r in rows}


def schemas(dsn: str, prefix: str = "servicedesk") -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                            (prefix + "%",)).fetchall()
    return {r[0] for r in rows}


def deployments(dsn: str) -> dict[int, str]:
    """Version -> status from sdconsole.deployments ({} before the first load)."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('sdconsole.deployments')").fetchone()[0]
        if exists is None:
            return {}
        return dict(conn.execute("SELECT version, status FROM sdconsole.deployments"
                                 " ORDER BY version").fetchall())
