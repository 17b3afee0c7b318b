"""``sdconsole demo``: a sample database and the embedded PostgreSQL, opened in the console.

The sample is generated in the work dir (``demo/servicedesk.db``, its size
recorded beside it in ``demo/sample.json``) and reused afterwards; ``--tickets
N`` of another size than the sample's generates it again. The target is
always the embedded server of the work dir, never a configured DSN, so a demo
cannot touch a real database. The console holds the terminal until ctrl+q.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from sdconsole.commands.tui import open_console, theme_flag
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.runtime.run import write_json
from sdconsole.engine.source import sample
from sdconsole.engine.target import embedded
from sdconsole.settings import Settings

DEMO_SOURCE = "demo/servicedesk.db"
DEMO_RECORD = "demo/sample.json"  # the sample's size and seed, to know when to regenerate it
DEFAULT_TICKETS = 2000
SEED = 7


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="try the console on a generated sample and embedded PostgreSQL")
    p.add_argument(
        "--tickets",
        type=int,
        help=f"tickets in the sample; another size than the sample's generates it"
        f" again (first time: {DEFAULT_TICKETS})",
    )
    theme_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.tickets is not None and args.tickets < 1:
        raise BadInput(f"--tickets must be at least 1, not {args.tickets}")
    source = demo_sample(settings.workdir, args.tickets)
    print(f"starting the embedded PostgreSQL in {settings.workdir}…", flush=True)
    embedded.start(settings.workdir)
    print("opening the console; ctrl+q quits", flush=True)
    # No DSN in the settings: the console and each run process it starts use the work dir's
    # embedded server themselves, so it stays up while any of them needs it (a run goes on
    # loading after its console's terminal is gone).
    return open_console(settings.model_copy(update={"source": source, "target_dsn": None}))


def demo_sample(workdir: Path, tickets: int | None) -> Path:
    """The work dir's demo sample of ``tickets`` tickets (None: whatever size it has),
    generated when it is missing or of another size."""
    source, record = workdir / DEMO_SOURCE, workdir / DEMO_RECORD
    wanted = {"tickets": tickets or DEFAULT_TICKETS, "seed": SEED}
    if source.exists() and (tickets is None or _read(record) == wanted):
        return source
    if source.exists():
        print(
            f"the sample in {source} is not of {tickets:,} tickets: generating it again", flush=True
        )
    print(f"generating {source} ({wanted['tickets']:,} tickets)…", flush=True)
    try:
        source.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fresh = source.with_name("new-" + source.name)  # the old sample stays until replaced
        fresh.unlink(missing_ok=True)
        sample.generate(fresh, tickets=wanted["tickets"], seed=SEED)
        record.unlink(missing_ok=True)
        os.replace(fresh, source)
        write_json(record, wanted)
    except OSError as exc:
        raise BadInput(f"cannot write {source}: {exc.strerror or exc}") from None
    return source


def _read(record: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
