"""``sdconsole attach``, ``approve`` and ``cancel``: the clients of a detached run.

``attach [RUN_ID]`` opens the console on the run (default: the newest one
running), rebuilt from its events; ``--watch`` opens it read-only (it sends
no command), beside the operator's own console. With ``--print`` or
``--json``, or when stdout is not a terminal, it prints the run's events
from the start (or ``--since SEQ``) and then the live ones, and exits with
the run's own exit status when it ends (10 when its process is gone without
saying how it ended); ctrl+c detaches, and the run goes
on. At a gate it says how to go on.
``approve`` lets a run waiting at a gate go on (``--reason`` overrides a
refused quality gate); ``cancel`` stops it at its next safe point. A refused
command is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sdconsole.commands.output import Printer
from sdconsole.commands.tui import open_console, theme_flag
from sdconsole.engine.detached.client import attach, client_name
from sdconsole.engine.detached.runs import listening_runs
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attach", help="open the console on a detached run, or print its events")
    p.add_argument(
        "run_id", nargs="?", metavar="RUN_ID", help="the run (default: the newest one running)"
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="read-only: follow the run without sending it any command",
    )
    p.add_argument(
        "--print", action="store_true", help="print the events instead of opening the console"
    )
    p.add_argument(
        "--since",
        type=int,
        default=0,
        metavar="SEQ",
        help="only events after this sequence number (with --print)",
    )
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    theme_flag(p)
    p.set_defaults(run=run_attach)
    p = sub.add_parser("approve", help="let a detached run waiting at a gate go on")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("gate", choices=("quality", "clean", "canary", "cutover"))
    p.add_argument(
        "--reason", metavar="TEXT", help="override a refused quality gate; recorded with the run"
    )
    p.set_defaults(run=run_approve)
    p = sub.add_parser("cancel", help="stop a detached run at its next safe point")
    p.add_argument("run_id", metavar="RUN_ID")
    p.set_defaults(run=run_cancel)


def run_attach(args: argparse.Namespace, settings: Settings) -> int:
    run_id = args.run_id or newest_running(settings)
    if not (args.print or args.json) and sys.stdout.isatty():
        return open_console(settings, run_id=run_id, watch=args.watch)
    args.run_id = run_id
    printer = Printer(as_json=args.json)

    async def follow() -> int:
        """Print the events; the exit status of the last RunEnded (a resumed run's journal
        holds one for each of its processes), or RunLost (10) when there is none."""
        code = 0
        async with attach(settings.workdir, args.run_id) as run:
            async for event in run.events(since=args.since):
                printer(event)
                if isinstance(event, ev.RunEnded):
                    code = event.exit_code
        return code

    try:
        return asyncio.run(follow())
    except KeyboardInterrupt:
        print(
            f"detached from run {args.run_id}; it goes on (`sdconsole attach"
            f" {args.run_id}` to follow it again)"
        )
        return 0


def newest_running(settings: Settings) -> str:
    """The newest run of the work dir whose process runs, or BadInput."""
    listening = listening_runs(settings.workdir)
    if not listening:
        raise BadInput(
            f"no run is running in {settings.workdir} (sdconsole status lists the"
            " runs; attach RUN_ID replays an ended one)"
        )
    return listening[0].name


def run_approve(args: argparse.Namespace, settings: Settings) -> int:
    async def approve() -> None:
        name = client_name("sdconsole approve", settings.operator)
        async with attach(settings.workdir, args.run_id, client=name) as run:
            if args.reason:
                await run.override(args.reason, args.gate)
            else:
                await run.approve(args.gate)

    asyncio.run(approve())
    print(f"run {args.run_id}: the {args.gate} gate is approved")
    return 0


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    async def cancel() -> None:
        name = client_name("sdconsole cancel", settings.operator)
        async with attach(settings.workdir, args.run_id, client=name) as run:
            await run.cancel()

    asyncio.run(cancel())
    print(f"run {args.run_id}: cancel requested; it stops at its next safe point")
    return 0
