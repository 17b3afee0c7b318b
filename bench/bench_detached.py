"""What a detached run costs: the event stream's overhead, and the time to attach.

1. ``migrate --mode complete --yes`` of the same sample, in the foreground
   and detached (``--detach``, then ``sdconsole wait`` until it ends),
   alternated, each into a fresh database that holds an active version
   already. Prints the median wall time of each and the median of the paired
   differences (detached minus foreground): on a shared machine whose speed
   swings, that compares like with like.
2. Attaching to a run whose journal holds ``--events`` events (an ended run,
   so the whole journal is replayed): the time from ``attach`` until every
   event has been read and folded into the console's state, the work the
   console does before its screen shows the run as it is.

    python bench/bench_detached.py [--tickets 100000] [--runs 3] [--events 100000]
                                   [--dsn DSN]

Without --dsn the embedded server under bench/out/work is used.
"""

from __future__ import annotations

import argparse
import asyncio
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

from sdconsole.engine.detached.client import attach
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.target import embedded
from sdconsole.settings import load_settings
from sdconsole.tui.state import FlowState


def _sdconsole(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdconsole", "--workdir", str(workdir), *args],
        capture_output=True,
        text=True,
        cwd=OUT,
        check=False,
    )


def one_run(admin_dsn: str, source: Path, workdir: Path, detached: bool) -> float:
    """Wall seconds of one complete migration into a new database holding an active version."""
    name = "bench_" + secrets.token_hex(4)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    target = make_conninfo(admin_dsn, dbname=name)
    migrate = ["migrate", str(source), "--target", target, "--mode", "complete", "--yes"]
    try:
        _check(_sdconsole(workdir, *migrate))  # the active version the timed run replaces
        started = time.perf_counter()
        if detached:
            started_run = _check(_sdconsole(workdir, *migrate, "--detach"))
            run_id = started_run.stdout.split()[1]  # "run <id> started in the background ..."
            _check(_sdconsole(workdir, "wait", run_id))
        else:
            _check(_sdconsole(workdir, *migrate))
        return time.perf_counter() - started
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _check(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(done.args[3:5])} failed ({done.returncode}):"
            f" {(done.stderr or done.stdout).strip()[-300:]}"
        )
    return done


def journal_of(workdir: Path, events: int) -> str:
    """An ended run whose journal holds ``events`` load progress events; its run id."""
    settings = load_settings(None, workdir=workdir)
    with Run.for_settings(settings) as run:
        run.emit(ev.StageStarted(stage="load"))
        for done in range(events - 3):
            run.emit(ev.Progress(stage="load", table=f"t{done % 3}", done=done, total=events))
        run.emit(ev.StageFinished(stage="load", seconds=1.0))
        run.emit(ev.RunEnded(stage="run", outcome="succeeded", exit_code=0))
        return run.run_id


async def attach_seconds(workdir: Path, run_id: str) -> tuple[float, int]:
    """Seconds from attach to the last replayed event folded into the console's state."""
    started = time.perf_counter()
    state, seen = FlowState(), 0
    async with attach(workdir, run_id) as run:
        async for event in run.events():
            state.record(event)
            seen += 1
    return time.perf_counter() - started, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=100000)
    parser.add_argument("--dsn", help="admin DSN of a server where databases may be created")
    parser.add_argument("--skip-migrate", action="store_true", help="only time the attach")
    args = parser.parse_args()
    workdir = OUT / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.pop("SDCONSOLE_TARGET_DSN", None)
    if not args.skip_migrate:
        admin = args.dsn or embedded.start(workdir)
        source = sample_file(args.tickets)
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.runs):
            for detached in (False, True):
                times[detached].append(one_run(admin, source, workdir, detached))
        print(f"{'run':>10} {'rows':>10} {'median s':>9} {'min s':>7} {'max s':>7}")
        for detached, label in ((False, "foreground"), (True, "detached")):
            t = times[detached]
            print(
                f"{label:>10} {row_total(source):>10,} {statistics.median(t):>9.2f}"
                f" {min(t):>7.2f} {max(t):>7.2f}"
            )
        paired = [d - f for f, d in zip(times[False], times[True], strict=True)]
        print(
            f"detached minus foreground, median of {len(paired)} pairs:"
            f" {statistics.median(paired):+.2f} s"
        )
    run_id = journal_of(workdir, args.events)
    attaches = [asyncio.run(attach_seconds(workdir, run_id)) for _ in range(args.runs)]
    print(f"\n{'journal events':>15} {'median s':>9} {'min s':>7} {'max s':>7}")
    seconds = [a[0] for a in attaches]
    print(
        f"{attaches[0][1]:>15,} {statistics.median(seconds):>9.2f} {min(seconds):>7.2f}"
        f" {max(seconds):>7.2f}"
    )


if __name__ == "__main__":
    main()
