"""``sdconsole attach``, ``approve`` and ``cancel``: the clients of a detached run.

``attach`` prints the run's events from the start (or ``--since SEQ``) and
then the live ones, and exits with the run's own exit status when it ends;
ctrl+c detaches, and the run goes on. At a gate it says how to go on.
``approve`` lets a run waiting at a gate go on (``--reason`` overrides a
refused quality gate); ``cancel`` stops it at its next safe point. A refused
command is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio

from sdconsole.commands.output import Printer
from sdconsole.engine.detached.client import attach
from sdconsole.engine.runtime import events as ev
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attach", help="follow a detached run: its events, then live")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--since", type=int, default=0, metavar="SEQ",
                   help="only events after this sequence number")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.set_defaults(run=run_attach)
    p = sub.add_parser("approve", help="let a detached run waiting at a gate go on")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("gate", choices=("quality", "clean", "canary", "cutover"))
    p.add_argument("--reason", metavar="TEXT",
                   help="override a refused quality gate; recorded with the run")
    p.set_defaults(run=run_approve)
    p = sub.add_parser("cancel", help="stop a detached run at its next safe point")
    p.add_argument("run_id", metavar="RUN_ID")
    p.set_defaults(run=run_cancel)


def run_attach(args: argparse.Namespace, settings: Settings) -> int:
    printer = Printer(as_json=args.json)

    async def follow() -> int:
        async with attach(settings.workdir, args.run_id) as run:
            async for event in run.events(since=args.since):
                printer(event)
                if isinstance(event, ev.RunEnded):
                    return event.exit_code
        return 0

    try:
        return asyncio.run(follow())
    except KeyboardInterrupt:
        print(f"detached from run {args.run_id}; it goes on (`sdconsole attach"
              f" {args.run_id}` to follow it again)")
        return 0


def run_approve(args: argparse.Namespace, settings: Settings) -> int:
    async def approve() -> None:
        async with attach(settings.workdir, args.run_id) as run:
            if args.reason:
                await run.override(args.reason, args.gate)
            else:
                await run.approve(args.gate)

    asyncio.run(approve())
    print(f"run {args.run_id}: the {args.gate} gate is approved")
    return 0


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    async def cancel() -> None:
        async with attach(settings.workdir, args.run_id) as run:
            await run.cancel()

    asyncio.run(cancel())
    print(f"run {args.run_id}: cancel requested; it stops at its next safe point")
    return 0
