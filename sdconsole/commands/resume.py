"""sdconsole resume [RUN_ID] [--discard] [--yes]: finish or discard an interrupted run.

An interrupted run is one that stopped inside a stage that changes things,
or left a version 'loading' or 'failed' (as a failed validation does). The
run (by default the newest) is reopened with its plan and cleaned working
copy; its version is loaded again, validated while the active version is
backed up, and cut over. A run whose version is older than one cut over
since is refused: discard it. With --discard the version the run left is
dropped instead and the run marked resolved; the active version is
untouched. Without --yes it says what it would do and exits 7.
Exit status: 0 done, 2 no such run or nothing to resume from, 5 validation
failed, 6 another run holds the lock, 7 not confirmed, 9 a stage failed,
10 interrupted again.
"""

from __future__ import annotations

import argparse
import json
import signal

from sdconsole.commands.flags import target_flag
from sdconsole.commands.output import Printer
from sdconsole.engine import pipeline
from sdconsole.engine.errors import ApprovalNeeded, BadInput
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="finish an interrupted run, or discard it",
                       description=__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_id", nargs="?", metavar="RUN_ID",
                   help="the run (default: the newest interrupted one; see sdconsole status)")
    p.add_argument("--discard", action="store_true",
                   help="drop the version the run left instead of loading it")
    p.add_argument("--yes", action="store_true", help="do it (default: only say what it would do)")
    target_flag(p)
    p.add_argument("--stable-schema", metavar="NAME", help="schema dashboards read")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.add_argument("--log-json", action="store_true", help="also send JSON logs to stderr")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    unfinished = _unfinished(settings)
    run_id = args.run_id or next(iter(unfinished), None)
    if run_id is None:
        raise BadInput("no interrupted run to resume (sdconsole status lists the runs)")
    if run_id not in unfinished:
        raise BadInput(f"run {run_id} is not an interrupted run (sdconsole status lists them)")
    what = ("discarding drops the version it left; the active version stays" if args.discard
            else "resuming loads its cleaned working copy again, validates it, backs up the"
                 " active version and cuts over")
    if not args.yes:
        raise ApprovalNeeded(f"run {run_id} {unfinished[run_id]}; {what};"
                             " re-run with --yes to do it")
    printer = Printer(as_json=args.json)
    if args.discard:
        removed = pipeline.discard_interrupted(settings, run_id, [printer])
        if args.json:
            print(json.dumps({"kind": "Discarded", "run_id": run_id, "removed": removed}))
        else:
            print(f"discarded run {run_id}: " + (", ".join(f"removed {what}" for what in removed)
                                                 or "it left nothing to remove"))
        return 0
    with pipeline.resume(settings, run_id, [printer], log_to_stderr=args.log_json) as migration:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: migration.cancel())
        pipeline.load_and_cut_over(migration)
    return 0


def _unfinished(settings: Settings) -> dict[str, str]:
    """Runs to resume or discard, newest first, with what stopped them.

    Those whose journal ends inside a stage that changes things, and those
    that left a version 'loading' or 'failed' in the target (a failed
    validation, say).
    """
    found = {r.run_id: f"stopped in {r.stage} ({r.error})"
             for r in pipeline.interrupted_runs(settings)}
    for dep in pipeline.status(settings).interrupted:
        found.setdefault(dep.run_id, f"left v{dep.version} {dep.status}"
                                     f" ({dep.error or 'its run stopped'})")
    return dict(sorted(found.items(), reverse=True))
