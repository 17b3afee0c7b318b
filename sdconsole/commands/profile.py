"""``sdconsole profile SOURCE``: what every column holds, the plan, and the quality score.

Prints one line per column (type, confidence, missing, distinct, range,
flags), under it what needs review, why the column is or is not a yes/no
flag (its evidence) and any departure from the declared type; then the
score with each dimension and what cost points. ``--json`` prints the
profile document instead. The profile and plan are written to
the run dir. Exit status 2 for a source that is missing or not SQLite.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sdconsole.commands.output import Printer
from sdconsole.engine.records.profile import ColumnProfile, Profile
from sdconsole.engine.records.quality import QualityScore
from sdconsole.engine.runtime.run import Listener, Run
from sdconsole.engine.source.sqlite import open_source
from sdconsole.engine.stages.profile.profiler import profile
from sdconsole.settings import Settings

FINDINGS_SHOWN = 5  # per dimension


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="profile a source: types, dirt, quality score")
    p.add_argument("source", type=Path, metavar="SOURCE", help="SQLite file")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    open_source(args.source).close()  # a bad source is one line and exit 2, before a run starts
    listeners: list[Listener] = [] if args.json else [Printer()]
    with Run.for_settings(settings, listeners=listeners) as journal:
        result = profile(journal, settings, args.source)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print_profile(result)
        print(f"profile: {journal.dir / 'profile.json'}")
    return 0


def print_profile(result: Profile) -> None:
    for table in result.tables:
        print(
            f"\n{table.name}: {table.rows:,} rows, {describe_keys(result, table.name)},"
            f" date column {table.date_column or 'none'}"
        )
        for column in table.columns:
            print(f"  {column.name:<28} {describe_column(column)}")
            for note in (
                column.flagged and f"REVIEW: {column.flagged}",
                column.note,
                column.flag_evidence,
                column.departure,
            ):
                if note:
                    print(f"  {'':<28} {note}")
    for relation in result.relations:
        print(
            f"\n{relation.key} -> {relation.parent_table}.{relation.parent_column}:"
            f" {relation.orphans:,} orphans of {relation.references:,} references"
            + (" (expected)" if relation.expected else "")
        )
    print_score(result.score)


def describe_keys(result: Profile, name: str) -> str:
    """'key (a, b) declared, 2 foreign keys', or the key inferred from the values."""
    table, plan = result.table(name), result.plan.table(name)
    declared = table.declared
    if declared.primary_key:
        text = f"key ({', '.join(declared.primary_key)}) declared"
    elif plan.primary_key:
        text = f"key {table.key} inferred from the values"
    else:
        text = (
            f"no key ({table.key}: {table.duplicate_keys:,} duplicated values)"
            if table.key
            else "no key"
        )
    if declared.unique:
        text += f", {len(declared.unique)} UNIQUE"
    if plan.foreign_keys:
        text += f", {len(plan.foreign_keys)} foreign keys"
    if declared.without_rowid:
        text += ", WITHOUT ROWID"
    return text


def describe_column(c: ColumnProfile) -> str:
    """Type, confidence and the figures that matter for one column, on one line."""
    kind = c.type
    if c.overridden is not None:
        was = c.overridden
        kind += (
            f" (override of {was.was_type}"
            + (f", read {was.was_date_order}" if was.date_order else "")
            + ")"
        )
    if c.precision is not None:
        kind += f"({c.precision},{c.scale})"
    parts = [f"{kind} {c.confidence:.1%}", f"missing {c.missing:,}", f"distinct {c.distinct:,}"]
    if c.min is not None:
        parts.append(f"{c.min} .. {c.max}")
    for label, count in (
        ("invalid", c.invalid),
        ("NUL", c.nul_bytes),
        ("padded", c.whitespace),
        ("BLOB", c.blobs),
        ("not UTF-8", c.invalid_utf8),
    ):
        if count:
            parts.append(f"{label} {count:,}")
    if c.placeholders:
        parts.append("tokens " + ", ".join(f"{t!r} {n:,}" for t, n in c.placeholders.items()))
    dates = c.date_evidence
    if dates is not None:
        parts.append(
            f"dates {dates.decision} (day-first {dates.day_first:,},"
            f" month-first {dates.month_first:,}, ambiguous {dates.ambiguous:,},"
            f" iso {dates.iso:,}, impossible {dates.impossible:,})"
        )
    return "; ".join(parts)


def print_score(score: QualityScore) -> None:
    print(f"\nquality score {score.total}/100")
    for name, part in score.dimensions.items():
        print(
            f"  {name:<13} {part.score:5.1f}  weight {part.weight:.2f}"
            f"  ({part.bad:,} of {part.eligible:,})"
        )
        for finding in part.findings[:FINDINGS_SHOWN]:
            cost = f"-{finding.cost:.1f}" if finding.cost else "  0.0"
            print(f"    {cost:>6}  {finding.table}.{finding.column}: {finding.message}")
        if len(part.findings) > FINDINGS_SHOWN:
            print(f"    ... {len(part.findings) - FINDINGS_SHOWN} more in profile.json")
