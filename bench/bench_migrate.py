"""End-to-end time and memory of ``sdconsole migrate --mode complete --yes``.

Each run migrates the sample into a fresh database holding an active
version already (profile, clean, canary, load, validate, backup, cutover),
in a child process whose wall time and peak RSS are measured. Prints a
table with the median of the runs per size.

    python bench/bench_migrate.py [--tickets 26000 100000] [--runs 3] [--dsn DSN]
                                  [--compare CHECKOUT]

With --compare, runs of another checkout of sdconsole (say a worktree of an
older commit) alternate with this one's, each on PYTHONPATH from a neutral
directory, and the median of the paired differences is printed too: on a
shared machine whose speed swings, that compares like with like.

Without --dsn the embedded server under bench/out/work is used. The
package is byte-compiled first, as pip does when it installs it: without
that, an editable checkout run with PYTHONDONTWRITEBYTECODE set would
compile every module again in each timed run (about 0.25 s here).
"""

from __future__ import annotations

import argparse
import compileall
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from samples import OUT, row_total, sample_file

import sdconsole
from sdconsole.engine.target import embedded


def one_run(admin_dsn: str, source: Path, workdir: Path, code: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one complete migration into a new database.

    ``code`` is the checkout whose sdconsole runs. An untimed migration of the
    same source first makes an active version, so the timed one also dumps it
    (the backup) before its cutover, as a quarterly import does.
    """
    name = "bench_" + secrets.token_hex(4)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        command = [
            sys.executable,
            "-m",
            "sdconsole",
            "--workdir",
            str(workdir),
            "migrate",
            str(source),
            "--target",
            make_conninfo(admin_dsn, dbname=name),
            "--mode",
            "complete",
            "--yes",
        ]
        env = {**os.environ, "PYTHONPATH": str(code)}
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=env, cwd=OUT)
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=OUT
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            assert proc.stderr is not None  # stderr=PIPE
            raise SystemExit(f"migrate failed: {proc.stderr.read().decode().strip()}")
        return seconds, usage.ru_maxrss / 1024
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[26000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dsn", help="admin DSN of a server where databases may be created")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="CHECKOUT",
        help="another checkout to alternate with this one",
    )
    args = parser.parse_args()
    here = Path(sdconsole.__file__).resolve().parent.parent
    checkouts = [here] + ([args.compare.resolve()] if args.compare else [])
    for code in checkouts:
        compileall.compile_dir(code / "sdconsole", quiet=1)
    workdir = OUT / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    admin = args.dsn or embedded.start(workdir)
    print(
        f"{'code':>8} {'tickets':>8} {'rows':>9} {'median s':>9} {'min s':>7} {'max s':>7}"
        f" {'peak MB':>8}"
    )
    for tickets in args.tickets:
        source = sample_file(tickets)
        rows = row_total(source)
        results: dict[Path, list[tuple[float, float]]] = {code: [] for code in checkouts}
        for _ in range(args.runs):
            for code in checkouts:
                results[code].append(one_run(admin, source, workdir, code))
        for code in checkouts:
            times = [r[0] for r in results[code]]
            label = "this" if code == here else "compare"
            print(
                f"{label:>8} {tickets:>8} {rows:>9,} {statistics.median(times):>9.2f}"
                f" {min(times):>7.2f} {max(times):>7.2f}"
                f" {max(r[1] for r in results[code]):>8.0f}"
            )
        if args.compare:
            paired = [
                a[0] - b[0] for a, b in zip(results[here], results[checkouts[1]], strict=True)
            ]
            print(
                f"{'':>8} this minus compare, median of {len(paired)} pairs:"
                f" {statistics.median(paired):+.2f} s"
            )


if __name__ == "__main__":
    main()
