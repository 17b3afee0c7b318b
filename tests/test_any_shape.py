"""Any shape, complete mode: an ordinary SQLite database with no real faults migrates whole,
headless and in the console, whatever its tables are called.

The public Chinook database, and a small inventory file of a shape of its own
written here, go through ``migrate --mode complete --yes`` (canary, backup and
cutover included) and through the console's keys to a cutover.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest
from cli_argv import sdconsole_argv
from textual.clock import MockClock
from tui_pilot import (
    approve,
    cut_over,
    press,
    screen_text,
    to_profile,
    until_gate,
    views_read,
)

from sdconsole.engine.steps import Gate
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.profile import ProfileScreen

CHINOOK = Path(__file__).parent / "data" / "chinook.sqlite"


def inventory(path: Path) -> Path:
    """Warehouses and stock movements in Portuguese, declared types, a foreign key."""
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE armazem (codigo TEXT PRIMARY KEY, "Nome do Armazém" TEXT NOT NULL,
                                  aberto_em DATE);
            CREATE TABLE movimento (id INTEGER PRIMARY KEY,
                                    armazem TEXT REFERENCES armazem (codigo),
                                    "Data Solução" TEXT, quantidade NUMERIC(8,2),
                                    ativo BOOLEAN);
        """)
        db.executemany(
            "INSERT INTO armazem VALUES (?, ?, ?)",
            [("0101", "Lisboa ", "2020-01-31"), ("0202", "Porto", "2021-06-15")],
        )
        db.executemany(
            "INSERT INTO movimento VALUES (?, ?, ?, ?, ?)",
            [
                (
                    n,
                    "0101" if n % 2 else "0202",
                    f"{1 + n % 28:02d}/0{1 + n % 9}/2024 10:{n % 60:02d}",
                    n * 1.25,
                    n % 2,
                )
                for n in range(1, 400)
            ],
        )
    db.close()
    return path


@pytest.mark.parametrize("kind", ["chinook", "inventory"])
def test_complete_mode_migrates_any_shape(settings: Settings, tmp_path: Path, kind: str) -> None:
    source = CHINOOK if kind == "chinook" else inventory(tmp_path / "inventory.db")
    command = sdconsole_argv(settings, "migrate", str(source), "--mode", "complete", "--yes")
    for _ in range(2):  # the second run backs up the first and cuts over on top of it
        done = subprocess.run(
            command, capture_output=True, text=True, env=dict(os.environ), timeout=300
        )
        assert done.returncode == 0, done.stderr
    assert "dashboard queries not applicable" in " ".join(done.stdout.split())  # wrapped
    with psycopg.connect(settings.target_dsn) as conn:
        statuses = conn.execute(
            "SELECT status FROM sdconsole.deployments ORDER BY version"
        ).fetchall()
        assert statuses == [("retired",), ("active",)]
        if kind == "inventory":
            assert conn.execute(
                "SELECT nome_do_armazem FROM servicedesk.armazem ORDER BY codigo"
            ).fetchall() == [("Lisboa ",), ("Porto",)]
            # day-first dates: day 1 of month 1 is row 252 (252 % 28 = 252 % 9 = 0), 10:12
            assert conn.execute(
                "SELECT count(*), min(data_solucao)::text FROM servicedesk.movimento"
            ).fetchone() == (399, "2024-01-01 10:12:00")


async def test_the_console_reaches_a_cutover_on_chinook(settings: Settings) -> None:
    app = ConsoleApp(settings.model_copy(update={"source": CHINOOK}), clock=MockClock())
    async with app.run_test(size=(100, 30)) as pilot:
        await to_profile(pilot)
        assert isinstance(app.screen, ProfileScreen)
        for gate in (Gate.QUALITY, Gate.CLEAN):  # each gate on its own screen
            await approve(pilot, gate)
        await until_gate(pilot, Gate.CANARY)
        assert "Canary passed" in screen_text(app)
        await approve(pilot, Gate.CANARY)
        await until_gate(pilot, Gate.CUTOVER)
        await press(pilot, "escape")  # the confirmation put off, then asked for again
        assert await cut_over(pilot) == "servicedesk_v1"
        assert isinstance(app.screen, HomeScreen)
    assert views_read(settings.target_dsn) == {"servicedesk_v1"}
