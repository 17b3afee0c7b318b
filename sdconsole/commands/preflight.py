"""``sdconsole preflight SOURCE``: every check before a migration, with reasons and fixes.

Exit status 0 when no check fails (warnings allowed), 3 when any fails. A
missing or unreadable source is reported as a failed check, not an error,
so the operator sees the target, disk and lock checks too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sdconsole.commands.flags import target_flag
from sdconsole.commands.output import Printer
from sdconsole.engine.runtime.errors import PreflightFailed
from sdconsole.engine.runtime.run import Listener, Run
from sdconsole.engine.stages.preflight import preflight
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preflight", help="check source, target, disk, memory and lock")
    p.add_argument("source", type=Path, metavar="SOURCE", help="SQLite file")
    target_flag(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    listeners: list[Listener] = [] if args.json else [Printer()]
    with Run.for_settings(settings, listeners=listeners) as journal:
        report = preflight(journal, settings, args.source)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        estimates = report.estimates
        print(
            f"estimate: {estimates['disk_bytes'] / 2**20:,.0f} MB of disk,"
            f" about {estimates['seconds']:,.0f} s for {estimates['rows']:,} rows"
        )
    if not report.ok:
        raise PreflightFailed(f"preflight failed: {', '.join(report.failed)}")
    return 0
