"""Small text helpers shared by the screens: status badges, counts, rates, plain cells,
labelled prose with a hanging indent.

Values that come from the source database are shown as plain Text, never
parsed as markup: a ticket title may well contain ``[bold]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.table import Table
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
    return themed(
        app,
        STATUS_MARK.get(status, status),
        STATUS_VARIABLE.get(status, "foreground"),
        bold=status != "pass",
    )


def ok_cell(app: App, ok: bool) -> Text:
    return status_cell(app, "pass" if ok else "fail")


def readable(value: Any) -> Text:
    """``value`` as text, literally (no markup); None is empty, numbers with separators."""
    if value is None:
        return Text("", end="")
    if isinstance(value, Text):
        return value.copy()
    if isinstance(value, bool):
        return Text("yes" if value else "no", end="")
    if isinstance(value, int):
        return Text(f"{value:,}", end="", justify="right")
    if isinstance(value, float):
        return Text(f"{value:,.2f}", end="", justify="right")
    return Text(str(value), end="")


def plain(value: Any) -> Text:
    """A table cell showing ``value`` on one line, cut with "…" when it does not fit."""
    text = readable(" ".join(value.split()) if isinstance(value, str) else value)
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


def fit(text: Text, width: int) -> Text:
    """``text`` cut with "…" to ``width`` cells."""
    if text.cell_len <= width:
        return text
    text = text.copy()
    text.truncate(width, overflow="ellipsis")
    return text


def labelled(rows: Iterable[tuple[str, Any]], label_style: str = "bold") -> RenderableType:
    """Label / text pairs, the text wrapped with a hanging indent under its first line.

    Long words (paths, SQL identifiers) fold at the edge instead of being cut:
    this is where the operator reads a value in full.
    """
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style=label_style, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    for label, value in rows:
        if isinstance(value, str) and PATH_LIKE.fullmatch(value):
            grid.add_row(label, Breakable(value))
            continue
        text = readable(value)
        text.justify = "left"
        grid.add_row(label, text)
    return grid


PATH_LIKE = re.compile(r"\S*[/?&]\S*")
"""One word with path or URL separators: a path, a DSN."""


class Breakable:
    """A path or DSN that wraps after a separator (/ ? &), not in the middle of a name; a part
    longer than the line still folds."""

    def __init__(self, text: str) -> None:
        self.parts = re.findall(r"[^/?&]*(?:[/?&]|$)", text)[:-1] or [text]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(max(len(part) for part in self.parts), sum(map(len, self.parts)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = [""]
        for part in self.parts:
            if lines[-1] and len(lines[-1]) + len(part) > options.max_width:
                lines.append("")
            lines[-1] += part
        yield Text("\n".join(lines), overflow="fold", end="")


def points(cost: float) -> str:
    """What a finding costs its dimension, as ``sdconsole profile`` prints it."""
    return f"-{cost:.1f}" if cost else "0.0"


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
    """``99.8%``, rounded down: whole numbers only when exact, so 99.96% never reads 100%."""
    if value is None:
        return ""
    return f"{value * 100:.0f}%" if value in (0, 1) else f"{math.floor(value * 1000) / 10}%"


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


def words(status: str | None) -> str:
    """A status as the engine records it (``rolled_back``), in words (``rolled back``)."""
    return (status or "").replace("_", " ")


def when(moment: datetime | None) -> str:
    """A timestamp in local time to the minute, with its zone; empty for None."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z") if moment else ""


def zone() -> str:
    """The name of the local time zone the console shows times in."""
    return datetime.now().astimezone().strftime("%Z")


def score(value: Any) -> str:
    return "" if value is None else f"{float(value):.0f}"
