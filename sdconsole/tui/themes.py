"""The console's themes: every TOML file in the ``sdconsole.themes`` package.

A theme file holds the fields of :class:`textual.theme.Theme` (``name``,
``primary``, ``background``, ... and a ``[variables]`` table). All of them
are registered at start; ``--theme`` or the ``theme`` setting picks one by
its full name (``sdconsole-light``) or its short name (``light``).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable
from importlib.resources import files

from textual.color import ColorParseError
from textual.theme import Theme

from sdconsole.engine.runtime.errors import BadInput

PACKAGE = "sdconsole.themes"
PREFIX = "sdconsole-"
_FIELDS = {f.name for f in dataclasses.fields(Theme)}


def load_themes() -> list[Theme]:
    """Parse every theme file shipped with the console, in file-name order."""
    entries = sorted(files(PACKAGE).iterdir(), key=lambda entry: entry.name)
    return [
        parse_theme(entry.name, entry.read_text(encoding="utf-8"))
        for entry in entries
        if entry.name.endswith(".toml")
    ]


def parse_theme(filename: str, text: str) -> Theme:
    """One theme file as a Theme; any problem is a one-line BadInput naming the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"theme file {filename}: {exc}") from None
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadInput(f"theme file {filename}: unknown key {unknown[0]!r}")
    for key in ("name", "primary"):
        if not isinstance(data.get(key), str):
            raise BadInput(f"theme file {filename}: {key} is missing")
    try:
        theme = Theme(**data)
        theme.to_color_system()
    except (ColorParseError, TypeError, ValueError) as exc:
        raise BadInput(f"theme file {filename}: {exc}") from None
    return theme


def resolve_theme(name: str, available: Iterable[str]) -> str:
    """The registered theme ``name`` refers to; an unknown name is BadInput listing ours."""
    names = set(available)
    for candidate in (name, PREFIX + name):
        if candidate in names:
            return candidate
    ours = sorted(n.removeprefix(PREFIX) for n in names if n.startswith(PREFIX))
    raise BadInput(f"unknown theme {name!r} (available: {', '.join(ours)})")
