"""``sdconsole demo``: a sample database and the embedded PostgreSQL, opened in the console.

The sample is generated once in the work dir (``demo/servicedesk.db``) and
reused afterwards; the target is always the embedded server of the work dir,
never a configured DSN, so a demo cannot touch a real database.
"""

from __future__ import annotations

import argparse

from sdconsole.commands.tui import open_console, theme_flag
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.source import sample
from sdconsole.engine.target import embedded
from sdconsole.settings import Settings

DEMO_SOURCE = "demo/servicedesk.db"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="try the console on a generated sample and embedded"
                                    " PostgreSQL")
    p.add_argument("--tickets", type=int, default=2000,
                   help="tickets in the sample when it is generated (2000)")
    theme_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.tickets < 1:
        raise BadInput(f"--tickets must be at least 1, not {args.tickets}")
    source = settings.workdir / DEMO_SOURCE
    if not source.exists():
        print(f"generating {source} ({args.tickets:,} tickets)…", flush=True)
        try:
            source.parent.mkdir(parents=True, exist_ok=True)
            sample.generate(source, tickets=args.tickets, seed=7)
        except OSError as exc:
            raise BadInput(f"cannot write {source}: {exc.strerror or exc}") from None
    print(f"starting the embedded PostgreSQL in {settings.workdir}…", flush=True)
    embedded.start(settings.workdir)
    # No DSN in the settings: the console and each run process it starts use the work dir's
    # embedded server themselves, so it stays up while any of them needs it.
    return open_console(settings.model_copy(update={"source": source, "target_dsn": None}))
