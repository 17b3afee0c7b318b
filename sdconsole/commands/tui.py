"""``sdconsole tui [SOURCE]``: open the operator console (also what ``sdconsole`` alone does).

At start it attaches to the newest run process of the work dir that is
running, or offers what an interrupted run left. Quitting leaves a run
going unless the operator cancels it. Exit status 0, 2 for bad input (an
unknown theme, a missing source, an unknown keymap id).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sdconsole.commands.flags import target_flag
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.steps import DEFAULT_MODE, MODES
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="open the operator console (default when no command)")
    p.add_argument(
        "source",
        nargs="?",
        type=Path,
        metavar="SOURCE",
        help="SQLite file to migrate (or choose it in the console)",
    )
    target_flag(p)
    theme_flag(p)
    p.add_argument(
        "--mode",
        choices=MODES,
        default=DEFAULT_MODE,
        help=f"what a migration started in the console does ({DEFAULT_MODE}; m on Home changes it)",
    )
    p.set_defaults(run=run)


def theme_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="dark, light, high-contrast or ansi (16 colours); default dark",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if settings.source is not None and not settings.source.is_file():
        raise BadInput(f"source {settings.source} is not a file")
    return open_console(settings, mode=args.mode)


def open_console(
    settings: Settings, run_id: str | None = None, watch: bool = False, mode: str = DEFAULT_MODE
) -> int:
    """Run the console until the operator quits (on run ``run_id``, read-only when
    ``watch``, starting migrations in ``mode``); its exit status."""
    from sdconsole.tui.app import ConsoleApp  # textual loads only for the console

    app = ConsoleApp(settings, run_id=run_id, watch=watch, mode=mode)
    app.run()
    return app.return_code or 0
