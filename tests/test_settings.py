"""Settings precedence, validation errors as one line, and passwords kept out of output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdconsole.settings import SettingsError, load_settings


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sdconsole.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SDCONSOLE_CONFIG", raising=False)
    s = load_settings(None)
    assert (s.stable_schema, s.quality_threshold, s.canary_fraction) == ("servicedesk", 80, 0.10)
    assert s.date_order == "day-first"
    assert s.target_dsn is None
    assert "N/A" in s.null_tokens and "" in s.null_tokens


def test_precedence_file_env_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(
        tmp_path, "quality_threshold = 70\ncanary_fraction = 0.2\nretention = 5\n"
    )
    monkeypatch.setenv("SDCONSOLE_CANARY_FRACTION", "0.3")
    monkeypatch.setenv("SDCONSOLE_RETENTION", "6")
    s = load_settings(config, retention=7)
    assert s.quality_threshold == 70  # file beats default
    assert s.canary_fraction == 0.3  # env beats file
    assert s.retention == 7  # flag beats env


def test_config_found_through_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, '[sdconsole]\nstable_schema = "helpdesk"\n')
    monkeypatch.setenv("SDCONSOLE_CONFIG", str(config))
    assert load_settings(None).stable_schema == "helpdesk"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quality_threshold = 140", "setting quality_threshold = 140"),
        ('date_order = "sideways"', "setting date_order = 'sideways'"),
        ('stable_schema = "Robert\'); DROP"', "setting stable_schema"),
        ('stable_schema = "public"', "'public' is a schema PostgreSQL or sdconsole itself uses"),
        ('stable_schema = "sdconsole"', "'sdconsole' is a schema PostgreSQL or sdconsole"),
        ('stable_schema = "pg_catalog"', "'pg_catalog' is a schema PostgreSQL or sdconsole"),
        ("colour = 3", "unknown setting 'colour'"),
        ("quality_threshold = ", "sdconsole.toml"),
    ],
)
def test_bad_values_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(write_config(tmp_path, text + "\n"))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_bad_setting_from_cli_exits_2_without_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'target_dsn = 5\nquality_threshold = "lots"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "sdconsole", "--config", str(config), "sample", "x.db"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.db").exists()


def test_password_never_echoed_in_errors(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, 'target_dsn = "postgresql://ops:hunter2@db/sd"\nretention = 0\n'
    )
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    assert "retention" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert (
        "hunter2"
        not in load_settings(None, target_dsn="postgresql://ops:hunter2@db/sd").dsn_for_display
    )


def test_flag_words_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SDCONSOLE_FLAG_WORDS", raising=False)
    assert load_settings(None).flag_words == []  # English only
    config = write_config(tmp_path, 'flag_words = ["Sim/NÃO", " ja / nein "]\n')
    assert load_settings(config).flag_words == ["sim/não", "ja/nein"]
    config = write_config(tmp_path, 'flag_words = "sim/não, ja/nein"\n')  # as in the environment
    assert load_settings(config).flag_words == ["sim/não", "ja/nein"]
    monkeypatch.setenv("SDCONSOLE_FLAG_WORDS", "oui/non, sí/no")
    assert load_settings(config).flag_words == ["oui/non", "sí/no"]  # 'no' agrees with English
    monkeypatch.setenv("SDCONSOLE_FLAG_WORDS", '["tak/nie"]')
    assert load_settings(config).flag_words == ["tak/nie"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'flag_words = ["sim"]',
            "setting flag_words = ['sim']: Value error, 'sim' is not a pair"
            " written true/false, such as 'sim/não'",
        ),
        ('flag_words = ["sim/"]', "'sim/' is not a pair written true/false"),
        ('flag_words = ["no/yes"]', "'no/yes': 'no' already means false"),
        ('flag_words = ["sim/não", "não/sim"]', "'não/sim': 'não' already means false"),
        ('flag_words = ["1/2"]', "'1/2': a flag word has no digits"),
        ("flag_words = [5]", "setting flag_words.0 = 5"),
    ],
)
def test_bad_flag_words_are_one_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(write_config(tmp_path, text + "\n"))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SDCONSOLE_FLAG_WORDS", "sim"),
        ("SDCONSOLE_FLAG_WORDS", "[sim/não"),
        ("SDCONSOLE_NULL_TOKENS", "N/A"),
    ],
)
def test_a_bad_list_in_the_environment_exits_2_in_one_line(
    tmp_path: Path, name: str, value: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sdconsole", "sample", "x.db"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, name: value},
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    setting = name.removeprefix("SDCONSOLE_").lower()
    assert f"setting {setting}" in proc.stderr
    assert not (tmp_path / "x.db").exists()
