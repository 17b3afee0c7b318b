"""End-to-end time and memory of ``sdconsole migrate --mode complete --yes``.

Each run migrates the sample into a fresh database holding an active
version already (profile, clean, canary, load, validate, backup, cutover),
in a child process whose wall time and peak RSS are measured. Prints a
table with the median of the runs per size.

    python bench/bench_migrate.py [--tickets 26000 100000] [--runs 3] [--dsn DSN]

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
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

import sdconsole
from sdconsole import sample
from sdconsole.engine import embedded

OUT = Path(__file__).resolve().parent / "out"


def sample_file(tickets: int) -> Path:
    path = OUT / f"servicedesk-{tickets}.db"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        sample.generate(path, tickets=tickets, seed=7)
    return path


def one_run(admin_dsn: str, source: Path, workdir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one complete migration into a new database.

    An untimed migration of the same source first makes an active version,
    so the timed one also dumps it (the backup) before its cutover, as a
    quarterly import does.
    """
    name = "bench_" + secrets.token_hex(4)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        command = [sys.executable, "-m", "sdconsole", "--workdir", str(workdir), "migrate",
                   str(source), "--target", make_conninfo(admin_dsn, dbname=name),
                   "--mode", "complete", "--yes"]
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
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
    args = parser.parse_args()
    compileall.compile_dir(Path(sdconsole.__file__).parent, quiet=1)
    workdir = OUT / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    admin = args.dsn or embedded.start(workdir)
    print(f"{'tickets':>8} {'rows':>9} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MB':>8}")
    for tickets in args.tickets:
        source = sample_file(tickets)
        with sqlite3.connect(source) as conn:
            rows = sum(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
                       for t in ("tickets", "comments", "timesheets"))
        results = [one_run(admin, source, workdir) for _ in range(args.runs)]
        times = [r[0] for r in results]
        peak = max(r[1] for r in results)
        print(f"{tickets:>8} {rows:>9,} {statistics.median(times):>9.2f} {min(times):>7.2f}"
              f" {max(times):>7.2f} {peak:>8.0f}")


if __name__ == "__main__":
    main()
