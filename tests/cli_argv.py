"""The command line a test runs as a process of its own, as an operator would type it."""

from __future__ import annotations

import sys

from sdconsole.settings import Settings


def sdconsole_argv(settings: Settings, *args: str) -> list[str]:
    """``python -m sdconsole --workdir W ARGS... --target DSN``, for ``settings``."""
    return [
        sys.executable,
        "-m",
        "sdconsole",
        "--workdir",
        str(settings.workdir),
        *args,
        "--target",
        settings.target_dsn,
    ]
