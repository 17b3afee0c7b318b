"""``sdconsole sample OUT.db``: write a dirty ServiceDesk database for trials and tests.

``--flags`` and ``--sparse-columns`` write the variants of :mod:`sdconsole.engine.source.sample`.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.source import sample
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="write a dirty sample ServiceDesk SQLite database")
    p.add_argument("out", type=Path, metavar="OUT.db")
    p.add_argument("--tickets", type=int, default=2000, help="tickets to generate (2000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (7)")
    p.add_argument(
        "--flags",
        choices=sample.FLAGS,
        default="mixed",
        help="how flags are written: mixed (Yes/No/TRUE/1/Y...), 01, yn, yesno,"
        ' or words (Sim/Não: profile with flag_words = ["sim/não"])',
    )
    p.add_argument(
        "--sparse-columns",
        type=int,
        default=0,
        metavar="N",
        help="N optional ticket columns, ~99%% empty (0)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.tickets < 1:
        raise BadInput(f"--tickets must be at least 1, not {args.tickets}")
    if not 0 <= args.sparse_columns <= sample.MAX_SPARSE_COLUMNS:
        raise BadInput(
            f"--sparse-columns must be 0 to {sample.MAX_SPARSE_COLUMNS}, not {args.sparse_columns}"
        )
    started = time.monotonic()
    try:
        counts = sample.generate(
            args.out,
            tickets=args.tickets,
            seed=args.seed,
            flags=args.flags,
            sparse_columns=args.sparse_columns,
        )
    except FileExistsError:
        raise BadInput(f"{args.out} already exists; choose another name") from None
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise BadInput(f"cannot write {args.out}: {reason}") from None
    total = sum(counts.values())
    detail = ", ".join(f"{t} {n:,}" for t, n in counts.items())
    print(f"wrote {args.out}: {total:,} rows ({detail}) in {time.monotonic() - started:.1f}s")
    return 0
