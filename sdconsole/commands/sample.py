"""``sdconsole sample OUT.db``: write a dirty ServiceDesk database for trials and tests."""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

from sdconsole import sample
from sdconsole.engine.errors import BadInput
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="write a dirty sample ServiceDesk SQLite database")
    p.add_argument("out", type=Path, metavar="OUT.db")
    p.add_argument("--tickets", type=int, default=2000, help="tickets to generate (2000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (7)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.tickets < 1:
        raise BadInput(f"--tickets must be at least 1, not {args.tickets}")
    started = time.monotonic()
    try:
        counts = sample.generate(args.out, tickets=args.tickets, seed=args.seed)
    except FileExistsError:
        raise BadInput(f"{args.out} already exists; choose another name") from None
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise BadInput(f"cannot write {args.out}: {reason}") from None
    total = sum(counts.values())
    detail = ", ".join(f"{t} {n:,}" for t, n in counts.items())
    print(f"wrote {args.out}: {total:,} rows ({detail}) in {time.monotonic() - started:.1f}s")
    return 0
