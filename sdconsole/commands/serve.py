"""``sdconsole serve [SOURCE] [--port N]``: the same console in a browser, on 127.0.0.1 only.

textual-serve runs ``sdconsole tui`` (with this invocation's global options,
source, target and theme) for each page, behind a random token printed at
start (:mod:`sdconsole.tui.serve`); without the token nothing is served.
Operators reach it through an SSH tunnel (``ssh -L N:127.0.0.1:N host``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from sdconsole.commands.flags import target_flag
from sdconsole.commands.tui import theme_flag
from sdconsole.settings import Settings

DEFAULT_PORT = 8765


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the console in a browser on 127.0.0.1, behind a token")
    p.add_argument("source", nargs="?", type=Path, metavar="SOURCE", help="SQLite file to migrate")
    target_flag(p)
    theme_flag(p)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sdconsole.tui.serve import serve  # textual loads only for the console

    console = [sys.executable, "-m", "sdconsole"]
    if args.config:
        console += ["--config", str(args.config)]
    console += ["--workdir", str(settings.workdir), "tui"]
    if args.source:
        console.append(str(args.source.resolve()))
    if settings.target_dsn:  # through the environment: a password never shows in ps
        os.environ["SDCONSOLE_TARGET_DSN"] = settings.target_dsn
    if args.theme:
        console += ["--theme", args.theme]
    serve(shlex.join(console), args.port)
    return 0
