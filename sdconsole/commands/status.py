"""``sdconsole status``: the active version, where the views point, history, runs, lock.

Read-only; exit status 0 (2 when the target cannot be reached).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from sdconsole.commands.flags import target_flag
from sdconsole.engine.target import embedded
from sdconsole.engine.target import server as target
from sdconsole.engine.target import status as status_mod
from sdconsole.engine.target.deployments import Deployment
from sdconsole.engine.target.dsn import connect
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="active version, deployment history, runs and lock")
    target_flag(p)
    p.add_argument("--stable-schema", metavar="NAME", help="schema dashboards read")
    p.add_argument("--json", action="store_true", help="print the status as one JSON object")
    p.add_argument(
        "--prune-embedded",
        action="store_true",
        help="remove embedded-server data of work dirs that were deleted",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.prune_embedded:
        removed = embedded.remove_leftovers()
        for path in removed:
            print(f"removed {path}")
        print(f"{len(removed)} embedded-server data dirs of deleted work dirs removed")
        return 0
    with connect(target.resolve_dsn(settings), autocommit=True) as conn:
        report = status_mod.status(conn, settings)
    if args.json:
        print(json.dumps(report.to_dict(), default=str))
    else:
        print("\n".join(render(report)))
    return 0


def render(report: status_mod.StatusReport) -> list[str]:
    """The status as lines for a terminal."""
    lines = [f"target: {report.target}   stable schema: {report.stable}"]
    active = report.active
    if active is None:
        lines.append("active: none (nothing cut over yet)")
    else:
        lines.append(
            f"active: v{active.version} ({active.schema_name}) since"
            f" {_when(active.live_since)}{_first_cutover(active)}, {_rows(active)} rows,"
            f" quality {_score(active)}, by {active.operator or '?'}"
        )
    if not report.views_consistent:
        where = ", ".join(f"{v} -> {s}" for v, s in sorted(report.views.items())) or "none"
        lines.append(f"WARNING views do not match the active version: {where}")
    elif active is not None:  # consistent with an active version: there are views, reading it
        lines.append(
            f"views: {len(report.views)} in {report.stable}, all reading {active.schema_name}"
        )
    if report.rollback_target is not None:
        lines.append(f"rollback: to v{report.rollback_target} (sdconsole rollback)")
    lines.append(f"lock: {'held by ' + report.lock_holder if report.lock_holder else 'free'}")
    if report.target_data:
        lines.append(f"embedded server data: {report.target_data}")
    if report.embedded_leftovers:
        lines.append(
            f"{len(report.embedded_leftovers)} embedded-server data dirs of deleted"
            f" work dirs under {embedded.ROOT_DATA_HOME}: `sdconsole status"
            " --prune-embedded` removes them"
        )
    for run in report.unfinished:
        lines.append(f"INTERRUPTED run {run.run_id} {run.summary} -> {run.hint}")
    if report.deployments:
        lines += [
            "",
            "deployments:",
            f"  {'ver':>4} {'status':<11} {'quality':>7} {'rows':>10}  {'operator':<12}"
            f" {'created':<19}  source",
        ]
        for dep in report.deployments:
            lines.append(
                f"  {'v' + str(dep.version):>4} {dep.status:<11} {_score(dep):>7}"
                f" {_rows(dep):>10}  {(dep.operator or '?')[:12]:<12}"
                f" {_when(dep.created_at):<19}  {dep.source_path or ''}"
            )
    if report.runs:
        width = max(len(r.run_id) for r in report.runs)
        lines += [
            "",
            "runs:",
            f"  {'run':<{width}} {'mode':<10} {'outcome':<11} {'started':<19}  error",
        ]
        for r in report.runs:
            lines.append(
                f"  {r.run_id:<{width}} {r.mode or '':<10}"
                f" {r.outcome or 'unfinished':<11} {_when(r.started_at):<19}"
                f"  {r.error or ''}"
            )
    return lines


def _when(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if at else "-"


def _first_cutover(dep: Deployment) -> str:
    """When a version live again after a rollback was first cut over; empty otherwise."""
    if dep.activated_at is None or dep.activated_at == dep.live_since:
        return ""
    return f" (cut over {_when(dep.activated_at)})"


def _rows(dep: Deployment) -> str:
    return f"{dep.rows:,}" if dep.rows is not None else "-"


def _score(dep: Deployment) -> str:
    return f"{float(dep.quality_score):.1f}" if dep.quality_score is not None else "-"
