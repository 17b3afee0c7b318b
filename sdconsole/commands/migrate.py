"""``sdconsole migrate SOURCE --mode ...``: the whole migration, headless.

Modes: ``simple`` (load, validate, cutover; no canary, no backup),
``canary`` (stop after the canary verdict), ``blue-green`` (load, validate,
backup, cutover; no canary), ``complete`` (gate, clean, canary, load,
validate, backup, cutover). Without ``--yes`` the run stops at the first
approval gate, says what would happen, and exits 7. A version that removes
or retypes a table or column the active version has stops before its load
(exit 7, saying what would change) unless ``--allow-shape-change``.

``--detach`` starts the run as a process of its own (own session, no
terminal, output to ``output.log`` in the run dir) and returns once it
listens on its control socket: a lost terminal loses nothing. Without
``--yes`` that run waits at each gate for ``sdconsole approve``; ``sdconsole
attach`` follows it (:mod:`sdconsole.engine.detached.control`). ``--serve`` is what the
detached process itself runs.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from sdconsole.commands.flags import target_flag
from sdconsole.commands.output import Printer
from sdconsole.engine.detached import launch
from sdconsole.engine.detached.control import Control
from sdconsole.engine.pipeline import MODES, Migration, drive
from sdconsole.engine.runtime.errors import EngineError
from sdconsole.settings import Settings

OUTCOMES = {7: "stopped", 10: "interrupted"}  # exit status -> outcome; others: failed


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
    p.add_argument("--detach", action="store_true",
                   help="run in a process of its own that survives the terminal; follow it with"
                        " `sdconsole attach RUN_ID`")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--run-id", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.detach:
        return detach(args, settings)
    if args.serve:
        return serve(args, settings)
    printer = Printer(as_json=args.json)
    with Migration(settings, args.source, listeners=[printer], mode=args.mode,
                   log_to_stderr=args.log_json,
                   allow_shape_change=args.allow_shape_change) as migration:
        stop_on_signals(migration)
        drive(migration, yes=args.yes, override_reason=args.override_reason)
    return 0


def stop_on_signals(migration: Migration) -> None:
    """SIGTERM, SIGHUP and SIGINT stop the running stage at its next safe point (exit 10); a
    second SIGINT stops at once. Raised wherever the main thread is, an interrupt would land
    inside SQLite's and psycopg's own calls, which lose or garble it."""
    def interrupt(*_: object) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        migration.cancel()

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: migration.cancel())
    signal.signal(signal.SIGINT, interrupt)


def detach(args: argparse.Namespace, settings: Settings) -> int:
    """Start this migration as a detached run process; return once it listens."""
    started = launch.start(settings, args.source, mode=args.mode, yes=args.yes,
                           allow_shape_change=args.allow_shape_change,
                           override_reason=args.override_reason)
    print(f"run {started.run_id} started in the background (pid {started.pid});"
          f" follow it with `sdconsole attach {started.run_id}`")
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Be the detached run: stages, the control socket, and a wait at each gate."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal to lose
    with Migration(settings, args.source, listeners=[Printer(as_json=args.json)],
                   mode=args.mode, run_id=args.run_id,
                   allow_shape_change=args.allow_shape_change) as migration:
        control = Control(migration.run, migration)
        signal.signal(signal.SIGTERM, lambda *_: migration.cancel())
        try:
            drive(migration, yes=args.yes, override_reason=args.override_reason,
                  wait=control.wait)
            control.end("succeeded", 0)
        except EngineError as exc:
            control.end(OUTCOMES.get(exc.exit_code, "failed"), exc.exit_code, str(exc))
            raise
        except KeyboardInterrupt:
            control.end("interrupted", 10, "interrupted")
            raise
        except Exception as exc:
            control.end("failed", 1, f"internal error: {exc!r}")
            raise
        finally:
            control.close()
    return 0
