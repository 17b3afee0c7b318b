"""Helpers for driving the console with Pilot: wait for engine workers, read the screen."""

from __future__ import annotations

import io

import psycopg
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable


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
    """Whether a table on screen has rows or cells it has not measured yet.

    DataTable sizes its columns when it is next idle; a screenshot taken
    before then shows them too narrow. (Private attributes of the pinned
    Textual: there is no public way to ask.)
    """
    return any(table._require_update_dimensions or table._updated_cells
               for table in app.screen.query(DataTable))


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
