"""``sdconsole migrate SOURCE --mode ...``: the whole migration, headless.

Modes: ``simple`` (load, validate, cutover; no canary, no backup),
``canary`` (stop after the canary verdict), ``blue-green`` (load, validate,
backup, cutover; no canary), ``complete`` (gate, clean, canary, load,
validate, backup, cutover). Without ``--yes`` the run stops at the first
approval gate, says what would happen, and exits 7. A version that removes
or retypes a table or column the active version has stops before its load
(exit 7, saying what would change) unless ``--allow-shape-change``.

The output ends with how the run ended (its ``RunEnded`` event: in JSON
the last line, in text followed by a summary), on a failure too; the same
event ends the run's journal.

``--detach`` starts the run as a process of its own
(:mod:`sdconsole.engine.detached.launch`: own session, no terminal, output
to ``output.log`` in the run dir, the settings and the target through its
environment) and returns once it listens on its control socket: a lost
terminal loses nothing. Without ``--yes`` that run waits at each gate for
``sdconsole approve``; ``sdconsole attach`` follows it
(:mod:`sdconsole.engine.detached.control`). ``--serve`` is what the detached
process itself runs.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sdconsole.commands.flags import target_flag
from sdconsole.commands.output import Printer, ending_of
from sdconsole.engine.detached import launch
from sdconsole.engine.detached.control import Control
from sdconsole.engine.pipeline import Migration, drive
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.steps import DEFAULT_MODE, MODES
from sdconsole.settings import Settings

End = Callable[[str, int, str], None]  # emits RunEnded(outcome, exit_code, error)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="run a migration headless (preflight to cutover)")
    p.add_argument("source", type=Path, metavar="SOURCE", help="SQLite file")
    target_flag(p)
    p.add_argument(
        "--mode", choices=MODES, default=DEFAULT_MODE, help=f"how far to go ({DEFAULT_MODE})"
    )
    p.add_argument("--yes", action="store_true", help="approve every gate that passes")
    p.add_argument(
        "--allow-shape-change",
        action="store_true",
        help="cut over even if tables or columns of the active version go or change type",
    )
    p.add_argument(
        "--override-reason",
        metavar="TEXT",
        help="go on below the quality threshold; recorded with the run",
    )
    p.add_argument("--quality-threshold", type=int, metavar="N", help="quality gate (80)")
    p.add_argument("--canary-fraction", type=float, metavar="F", help="canary share (0.10)")
    p.add_argument("--stable-schema", metavar="NAME", help="schema dashboards read")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.add_argument("--log-json", action="store_true", help="also send JSON logs to stderr")
    p.add_argument(
        "--detach",
        action="store_true",
        help="run in a process of its own that survives the terminal; follow it with"
        " `sdconsole attach RUN_ID`",
    )
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--run-id", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.detach:
        return detach(args, settings)
    if args.serve:
        return serve(args, settings)
    printer = Printer(as_json=args.json, workdir=settings.workdir)
    with (
        printer.ending(),
        migration_of(args, settings, printer, log_to_stderr=args.log_json) as migration,
    ):
        stop_on_signals(migration)
        with journalled_end(migration):
            drive(migration, yes=args.yes, override_reason=args.override_reason)
    return 0


def migration_of(
    args: argparse.Namespace, settings: Settings, printer: Printer, **options: Any
) -> Migration:
    """The migration ``args`` ask for (in the foreground, or as the detached run), its
    events printed by ``printer``."""
    return Migration(
        settings,
        args.source,
        listeners=[printer],
        mode=args.mode,
        allow_shape_change=args.allow_shape_change,
        **options,
    )


@contextlib.contextmanager
def journalled_end(migration: Migration, end: End | None = None) -> Iterator[None]:
    """However the block ends, the run's last event says how: a RunEnded (outcome, exit
    status, error) in its journal and to its listeners -- the clients of a detached run,
    the printer's last line, what `sdconsole runs` and `wait` read. The run is finished
    first (recorded, its lock released), so that a client acting on RunEnded finds it over.
    ``end`` emits it (a detached run's Control.end); by default the run itself does."""

    def emit(outcome: str, exit_code: int, error: str) -> None:
        migration.run.emit(
            ev.RunEnded(stage="run", outcome=outcome, exit_code=exit_code, error=error)
        )

    end = end or emit
    try:
        yield
    except BaseException as exc:
        migration.finish(exc)
        end(*ending_of(exc))
        raise
    migration.finish()
    end(*ending_of(None))


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
    started = launch.start(
        settings,
        args.source,
        mode=args.mode,
        yes=args.yes,
        allow_shape_change=args.allow_shape_change,
        override_reason=args.override_reason,
    )
    print(
        f"run {started.run_id} started in the background (pid {started.pid});"
        f" follow it with `sdconsole attach {started.run_id}`"
    )
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Be the detached run: stages, the control socket, and a wait at each gate."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal to lose
    printer = Printer(workdir=settings.workdir)
    with (
        printer.ending(),
        migration_of(args, settings, printer, run_id=args.run_id) as migration,
    ):
        serve_migration(migration, yes=args.yes, override_reason=args.override_reason)
    return 0


def serve_migration(migration: Migration, *, yes: bool, override_reason: str | None) -> None:
    """Drive ``migration`` as a detached run does: on its control socket, waiting at each gate
    for a client (unless ``yes``), stopped by SIGTERM at its next safe point. Also what a
    detached resume (``sdconsole resume RUN_ID --serve``) runs."""
    control = Control(migration.run, migration)
    signal.signal(signal.SIGTERM, lambda *_: migration.cancel())
    try:
        with journalled_end(migration, control.end):
            drive(migration, yes=yes, override_reason=override_reason, wait=control.wait)
    finally:
        control.close()
