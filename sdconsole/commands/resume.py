"""sdconsole resume [RUN_ID] [--discard] [--yes]: finish or discard an interrupted run.

An interrupted run is one that stopped before its end (killed, interrupted,
a stage failed: a dropped connection, a lock timeout at cutover, a
permission) or left a version it did not cut over (as a failed validation
does); ``sdconsole status`` lists them. The run (by default the newest)
continues from its last durable point: what it did stays done, so a version
it loaded completely is validated (if it was not) and cut over, never
loaded again; a version it left half loaded is loaded again. A run older
than a version cut over since is refused: discard it. With --discard what
the run left is removed instead (its version, the canary schemas, its
half-written files, its cleaned copy, dumps no version records) and said;
the active version is untouched. Without --yes it says what it would do and
exits 7.
Exit status: 0 done, 2 no such run or nothing to resume from, 5 validation
failed, 6 another run holds the lock, 7 not confirmed, 9 a stage failed,
10 interrupted again.
"""

from __future__ import annotations

import argparse
import json
import signal

from sdconsole.commands.flags import target_flag
from sdconsole.commands.migrate import journalled_end, serve_migration, stop_on_signals
from sdconsole.commands.output import Printer
from sdconsole.engine import pipeline
from sdconsole.engine.runtime.errors import ApprovalNeeded
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "resume",
        help="finish an interrupted run, or discard it",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "run_id",
        nargs="?",
        metavar="RUN_ID",
        help="the run (default: the newest interrupted one; see sdconsole status)",
    )
    p.add_argument(
        "--discard", action="store_true", help="remove what the run left instead of finishing it"
    )
    p.add_argument("--yes", action="store_true", help="do it (default: only say what it would do)")
    target_flag(p)
    p.add_argument("--stable-schema", metavar="NAME", help="schema dashboards read")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.add_argument("--log-json", action="store_true", help="also send JSON logs to stderr")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.serve:
        return serve(args, settings)
    found = pipeline.pick_interrupted(settings, args.run_id)
    if not args.yes:
        what = (
            f"discarding removes {', '.join(found.left) or 'nothing: it left nothing'}"
            if args.discard
            else f"resuming {found.next_step}"
        )
        raise ApprovalNeeded(
            f"run {found.run_id} {found.summary}; {what}; re-run with --yes to do it"
        )
    printer = Printer(as_json=args.json, workdir=settings.workdir)
    if args.discard:
        removed = pipeline.discard_interrupted(settings, found.run_id, [printer])
        if args.json:
            print(json.dumps({"kind": "Discarded", "run_id": found.run_id, "removed": removed}))
        else:
            print(
                f"discarded run {found.run_id}: "
                + (", ".join(f"removed {what}" for what in removed) or "nothing to remove")
            )
        return 0
    with (
        printer.ending(),
        pipeline.resume(
            settings, found.run_id, [printer], log_to_stderr=args.log_json
        ) as migration,
    ):
        stop_on_signals(migration)
        with journalled_end(migration):
            pipeline.drive(migration, yes=True, override_reason=migration.override_reason)
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Be the detached run of a resumed one (what ``launch.resume`` starts): it goes on from
    where it stopped and waits at the gates it has not passed for a client to decide."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal to lose
    printer = Printer(workdir=settings.workdir)
    with printer.ending(), pipeline.resume(settings, args.run_id, [printer]) as migration:
        serve_migration(migration, yes=args.yes, override_reason=migration.override_reason)
    return 0
