"""Cell-by-cell round trip: every source cell beside its target cell, per database.

Each database is migrated (simple mode: profile, clean, load, validate,
cutover) into a fresh PostgreSQL database, then
:func:`sdconsole.engine.stages.roundtrip.round_trip` compares every original cell
with its target cell through the documented rules. Prints one row per
database: cells compared, equal (as written), converted (by a type rule),
nulled (placeholder token), rejected (in ``_rejects`` with its raw value),
different (must be 0), and the seconds validation and the round trip took.

    python bench/bench_roundtrip.py [--tickets 26000] [--dsn DSN] [FILE ...]

Without FILE: Chinook and Northwind from tests/data and the generated sample
of --tickets tickets (26,000: about 260,000 rows). Without --dsn the embedded
server under bench/out/work is used.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from samples import OUT, sample_file

from sdconsole.engine import pipeline
from sdconsole.engine.stages.roundtrip import OUTCOMES, round_trip
from sdconsole.engine.target import embedded
from sdconsole.settings import load_settings

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def one(admin: str, source: Path) -> tuple[dict[str, int], int, float, float, list[str]]:
    """Outcome counts, cells, validation and round-trip seconds, first differences."""
    name = "bench_" + secrets.token_hex(4)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        dsn = make_conninfo(admin, dbname=name)
        with tempfile.TemporaryDirectory(dir=OUT) as work:
            settings = load_settings(None, workdir=Path(work), target_dsn=dsn)
            with pipeline.Migration(settings, source, mode="simple") as m:
                pipeline.drive(m, yes=True)
            assert m.validation is not None and m.plan is not None and m.version_schema
            if not m.validation.ok:
                raise SystemExit(m.validation.summary)
            started = time.perf_counter()
            with psycopg.connect(dsn) as conn:
                trip = round_trip(
                    conn, source, m.plan, m.version_schema, frozenset(settings.null_tokens)
                )
            seconds = time.perf_counter() - started
        return dict(trip.total), trip.cells, m.validation.seconds, seconds, trip.differences
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--tickets", type=int, default=26000)
    parser.add_argument("--dsn", help="admin DSN of a server where databases may be created")
    args = parser.parse_args()
    workdir = OUT / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    admin = args.dsn or embedded.start(workdir)
    files = args.files or [
        DATA / "chinook.sqlite",
        DATA / "northwind.sqlite",
        sample_file(args.tickets),
    ]
    print(
        f"{'database':<24} {'cells':>10} "
        + " ".join(f"{o:>10}" for o in OUTCOMES)
        + f" {'validate s':>10} {'trip s':>7}"
    )
    for source in files:
        counts, cells, validation, seconds, differences = one(admin, source)
        print(
            f"{source.name:<24} {cells:>10,} "
            + " ".join(f"{counts.get(o, 0):>10,}" for o in OUTCOMES)
            + f" {validation:>10.2f} {seconds:>7.2f}"
        )
        for line in differences:
            print("   ", line)


if __name__ == "__main__":
    main()
