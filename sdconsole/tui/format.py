"""Small text helpers shared by the screens: status badges, counts, rates, plain cells.

Values that come from the source database are shown as plain Text, never
parsed as markup: a ticket title may well contain ``[bold]``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.color import Color

STATUS_MARK = {"pass": "✓ pass", "warn": "! warn", "fail": "✗ fail"}
STATUS_VARIABLE = {"pass": "success", "warn": "warning", "fail": "error"}


def themed(app: App, text: str, variable: str, bold: bool = False) -> Text:
    """``text`` in the current theme's colour ``variable`` (success, warning, error...)."""
    value = app.theme_variables.get(variable)
    color = Color.parse(value).rich_color if value else None
    return Text(text, style=Style(color=color, bold=bold), end="")


def status_cell(app: App, status: str) -> Text:
    """A pass/warn/fail badge with a mark, so it reads without colour too."""
    return themed(app, STATUS_MARK.get(status, status), STATUS_VARIABLE.get(status, "foreground"),
                  bold=status != "pass")


def ok_cell(app: App, ok: bool) -> Text:
    return status_cell(app, "pass" if ok else "fail")


def plain(value: Any) -> Text:
    """A cell showing ``value`` literally (no markup); None shows as an empty cell."""
    if value is None:
        return Text("", end="")
    if isinstance(value, Text):
        return value
    if isinstance(value, bool):
        return Text("yes" if value else "no", end="")
    if isinstance(value, int):
        return Text(f"{value:,}", end="", justify="right")
    if isinstance(value, float):
        return Text(f"{value:,.2f}", end="", justify="right")
    return Text(str(value), end="")


def count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def rate(per_second: float | None, unit: str = "rows") -> str:
    """``12.3k rows/s``; empty while there is nothing to measure yet."""
    if not per_second:
        return ""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if per_second >= limit:
            return f"{per_second / limit:.1f}{suffix} {unit}/s"
    return f"{per_second:.0f} {unit}/s"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def short(text: str, width: int) -> str:
    """``text`` on one line, cut with an ellipsis to ``width`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def display_path(path: Path | str | None) -> str:
    """A path as the operator typed it: relative to the current directory when inside it."""
    if path is None:
        return ""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def when(moment: datetime | None) -> str:
    """A timestamp in local time to the minute; empty for None."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else ""


def score(value: Any) -> str:
    return "" if value is None else f"{float(value):.0f}"
