"""Themes: shipped files, choosing one by name, clean errors, and NO_COLOR."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from textual.clock import MockClock
from tui_pilot import screen_text, settle

from sdconsole.engine.runtime.errors import BadInput
from sdconsole.settings import load_settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.themes import load_themes, parse_theme

SVG_FRAME = {"c5c8c6", "292929"}  # rich's SVG window: default text and background
SHIPPED = {"sdconsole-dark", "sdconsole-light", "sdconsole-high-contrast", "sdconsole-ansi"}


def test_the_four_themes_ship_and_the_ansi_one_uses_only_terminal_colours():
    themes = {theme.name: theme for theme in load_themes()}
    assert SHIPPED <= set(themes)
    ansi = themes["sdconsole-ansi"]
    assert ansi.ansi
    colours = [
        ansi.primary,
        ansi.secondary,
        ansi.accent,
        ansi.warning,
        ansi.error,
        ansi.success,
        ansi.foreground,
        ansi.background,
        ansi.surface,
        ansi.panel,
    ]
    assert all(c.startswith("ansi_") for c in colours)
    assert not themes["sdconsole-light"].dark


@pytest.mark.parametrize(
    ("asked", "chosen"),
    [
        ("light", "sdconsole-light"),
        ("sdconsole-high-contrast", "sdconsole-high-contrast"),
        ("ansi", "sdconsole-ansi"),
    ],
)
def test_a_theme_is_chosen_by_short_or_full_name(tmp_path, asked, chosen):
    settings = load_settings(None, workdir=tmp_path, theme=asked)
    assert ConsoleApp(settings).theme == chosen


def test_an_unknown_theme_is_one_clean_line(tmp_path):
    with pytest.raises(BadInput) as caught:
        ConsoleApp(load_settings(None, workdir=tmp_path, theme="neon"))
    message = str(caught.value)
    assert "\n" not in message
    assert "'neon'" in message and "high-contrast" in message
    assert caught.value.exit_code == 2


def test_the_command_line_exits_2_on_an_unknown_theme(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sdconsole", "--workdir", str(tmp_path), "tui", "--theme", "neon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown theme 'neon'" in lines[0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('name = "x"\nprimary = "not-a-colour"', "not-a-colour"),
        ('primary = "#ffffff"', "name is missing"),
        ('name = "x"\nprimary = "#ffffff"\nsparkle = true', "unknown key 'sparkle'"),
        ('name = "x" primary', "broken.toml"),
    ],
)
def test_a_broken_theme_file_is_named_in_one_line(text, problem):
    with pytest.raises(BadInput) as caught:
        parse_theme("broken.toml", text)
    assert "broken.toml" in str(caught.value) and problem in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("theme", sorted(SHIPPED))
async def test_every_theme_draws_home_at_80x24(offline_settings, sample_db, theme):
    app = ConsoleApp(
        offline_settings.model_copy(update={"source": sample_db, "theme": theme}), clock=MockClock()
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.current_theme.name == theme
        assert "n New migration" in screen_text(app)


async def test_no_color_draws_in_shades_of_grey(offline_settings, sample_db, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = ConsoleApp(offline_settings.model_copy(update={"source": sample_db}), clock=MockClock())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        svg = app.export_screenshot()
    assert app.no_color
    colours = set(re.findall(r"fill: ?#([0-9a-f]{6})", svg)) - SVG_FRAME
    assert colours, "the screenshot has colours to look at"
    assert all(c[0:2] == c[2:4] == c[4:6] for c in colours), colours
