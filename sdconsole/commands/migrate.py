"""``sdconsole migrate SOURCE --mode ...``: the whole migration, headless.

Modes: ``simple`` (load, validate, cutover; no canary, no backup),
``canary`` (stop after the canary verdict), ``blue-green`` (load, validate,
backup, cutover; no canary), ``complete`` (gate, clean, canary, load,
validate, backup, cutover). Without ``--yes`` the run stops at the first
approval gate, says what would happen, and exits 7. A version that removes
or retypes a table or column the active version has stops before its load
(exit 7, saying what would change) unless ``--allow-shape-change``.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from sdconsole.commands.flags import target_flag
from sdconsole.commands.output import Printer
from sdconsole.engine.pipeline import MODES, Migration, drive
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="run a migration headless (preflight to cutover)")
    p.add_argument("source", type=Path, metavar="SOURCE", help="SQLite file")
    target_flag(p)
    p.add_argument("--mode", choices=MODES, default="complete", help="how far to go (complete)")
    p.add_argument("--yes", action="store_true", help="approve every gate that passes")
    p.add_argument("--allow-shape-change", action="store_true",
                   help="cut over even if tables or columns of the active version go or change"
                        " type")
    p.add_argument("--override-reason", metavar="TEXT",
                   help="go on below the quality threshold; recorded with the run")
    p.add_argument("--quality-threshold", type=int, metavar="N", help="quality gate (80)")
    p.add_argument("--canary-fraction", type=float, metavar="F", help="canary share (0.10)")
    p.add_argument("--stable-schema", metavar="NAME", help="schema dashboards read")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.add_argument("--log-json", action="store_true", help="also send JSON logs to stderr")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    printer = Printer(as_json=args.json)
    with Migration(settings, args.source, listeners=[printer], mode=args.mode,
                   log_to_stderr=args.log_json,
                   allow_shape_change=args.allow_shape_change) as migration:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: migration.cancel())
        drive(migration, yes=args.yes, override_reason=args.override_reason)
    return 0
