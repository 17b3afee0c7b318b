"""``sdconsole clean SOURCE``: profile, then preview or apply the cleaning rules.

``--dry-run`` prints the preview (per rule and column: cells changed and
before/after samples) and writes only the report. Without it the working
copy is written to the run dir in one transaction; below the quality
threshold that needs ``--override-reason`` (exit 4 otherwise). Prints the
unconvertible cells, the source SHA-256 before and after, and where the
working copy is. Exit status 2 for a source that is missing or not SQLite.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sdconsole.commands.output import Printer
from sdconsole.engine.runtime.run import Listener, Run
from sdconsole.engine.source.sqlite import open_source
from sdconsole.engine.stages.clean.cleaner import CleanReport, clean
from sdconsole.engine.stages.profile.profiler import profile
from sdconsole.engine.stages.profile.quality import decide
from sdconsole.settings import Settings

UNCONVERTIBLE_SHOWN = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clean", help="preview or write the cleaned working copy")
    p.add_argument("source", type=Path, metavar="SOURCE", help="SQLite file")
    p.add_argument("--dry-run", action="store_true", help="preview only: counts and samples")
    p.add_argument(
        "--override-reason",
        metavar="TEXT",
        help="clean below the quality threshold; recorded with the run",
    )
    p.add_argument("--json", action="store_true", help="print the clean report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    open_source(args.source).close()  # a bad source is one line and exit 2, before a run starts
    listeners: list[Listener] = [] if args.json else [Printer()]
    with Run.for_settings(settings, listeners=listeners) as journal:
        result = profile(journal, settings, args.source)
        if not args.dry_run:
            decide(journal, result.score, settings, args.override_reason)
        report = clean(journal, settings, args.source, result.plan, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print_report(report)
    return 0


def print_report(report: CleanReport) -> None:
    """Samples of every rule (the counts were printed as the rules ran), then the outcome."""
    print("\nsamples, before -> after:")
    for rule in report.rules:
        print(f"  {rule.rule} {rule.table}.{rule.column}")
        for before, after in rule.samples:
            print(f"    {before!r} -> {'NULL' if after is None else repr(after)}")
    total = sum(report.unconvertible_counts.values())
    print(f"\nunconvertible (left as they are, for the loader's rejects): {total:,} cells")
    for key, count in report.unconvertible_counts.items():
        print(f"  {key}: {count:,}")
    for cell in report.unconvertible[:UNCONVERTIBLE_SHOWN]:
        print(f"    rowid {cell.rowid}: {cell.value!r} ({cell.reason})")
    print(f"\nsource SHA-256 before {report.sha256_before}")
    print(f"source SHA-256 after  {report.sha256_after}")
    print(
        f"cells changed: {report.cells_changed:,}"
        + (" (dry run: nothing written)" if report.dry_run else "")
    )
    if report.working_copy:
        print(f"working copy: {report.working_copy}")
