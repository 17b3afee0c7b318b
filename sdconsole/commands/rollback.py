"""sdconsole rollback [--to VERSION] [--yes]: undo the last cutover, or discard a load.

Without --yes it prints what it would do and the exact statements, then
exits 7. With --yes it does it in one transaction. Before a cutover (a
version left loaded, loading or failed) rolling back discards that version;
after one, the views go back to the previous version. --to picks the
version, older or newer (roll forward). Exit status: 0 done, 2 nothing to
roll back to or no such version, 6 another run holds the lock, 7 not
confirmed, 9 the switch failed (nothing changed).
"""

from __future__ import annotations

import argparse
import json
import signal

from sdconsole.commands.flags import target_flag
from sdconsole.commands.output import Printer
from sdconsole.engine import pipeline
from sdconsole.engine.runtime.errors import ApprovalNeeded
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rollback",
        help="switch the stable views back (or discard a load)",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--to",
        dest="to_version",
        type=int,
        metavar="VERSION",
        help="version to switch to (default: the previous one)",
    )
    p.add_argument("--yes", action="store_true", help="do it (default: only show the plan)")
    target_flag(p)
    p.add_argument("--stable-schema", metavar="NAME", help="schema dashboards read")
    p.add_argument("--json", action="store_true", help="print events and the result as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.yes:
        show_plan(args, settings)
        raise ApprovalNeeded("rollback not done: re-run with --yes to do it")
    # Its switch is one short transaction: SIGTERM and SIGHUP interrupt it as ctrl+c does
    # (exit 10), and the transaction is either committed whole or not at all.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    report = pipeline.rollback(settings, args.to_version, [Printer(as_json=args.json)])
    if args.json:
        print(json.dumps({"kind": "RollbackReport", **report.to_dict()}, default=str))
    elif report.action == "discard":
        versions = ", ".join(f"v{v}" for v in report.discarded)
        print(
            f"discarded {versions} of {report.stable} in {report.seconds:.2f}s;"
            f" active: {_version(report.from_version)}"
        )
    else:
        print(
            f"{report.stable} now shows v{report.to_version}"
            f" (was v{report.from_version}), switched in {report.seconds:.2f}s"
        )
    return 0


def show_plan(args: argparse.Namespace, settings: Settings) -> None:
    """Print what rollback would do, the statements, and who holds the lock if anyone."""
    plan = pipeline.plan_rollback(settings, args.to_version)
    held = pipeline.lock_holder(settings)
    if args.json:
        print(json.dumps({"kind": "RollbackPlan", **plan.to_dict(), "lock_holder": held}))
    else:
        print(f"would {plan.summary}")
        print("statements, in one transaction:")
        for statement in plan.statements:
            print(f"  {statement};")
        if held:
            print(f"note: the lock is held now by {held}")


def _version(version: int | None) -> str:
    return f"v{version}" if version is not None else "none"
