"""Time and memory of profile, clean preview and clean apply on generated samples.

Usage: python bench/bench_profile_clean.py [--tickets 26000,100000] [--runs 3] [--dir DIR]

26,000 tickets make the ~260k-row sample, 100,000 tickets ~1M rows. Each
measurement runs in a fresh child process, which reports its wall time and
its peak RSS (and that of the worker processes it started), so runs do not
share caches or memory. Prints one row per size and stage: median, min and
max seconds over the runs, the median CPU seconds (all processes; a shared
machine slows wall time, not CPU time) and the highest peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from samples import row_total, sample_file

STAGES = ("profile", "clean preview", "clean apply")


def child(stage: str, source: Path, workdir: Path) -> None:
    """Run one stage in this process and print its figures as JSON."""
    from sdconsole.engine.records.plan import Plan
    from sdconsole.engine.runtime.run import Run
    from sdconsole.engine.stages.clean import cleaner
    from sdconsole.engine.stages.profile import profiler
    from sdconsole.settings import load_settings

    settings = load_settings(None, workdir=workdir)
    plan_path = workdir / "plan.json"
    with Run(workdir) as run:
        started, cpu = time.perf_counter(), _cpu()
        if stage == "profile":
            result = profiler.profile(run, settings, source)
            result.plan.save(plan_path)
        else:
            cleaner.clean(
                run, settings, source, Plan.load(plan_path), dry_run=stage == "clean preview"
            )
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_rss_mb": peak / 1024}))


def _cpu() -> float:
    """CPU seconds of this process and of the worker processes it waited for."""
    return sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )


def measure(stage: str, source: Path, workdir: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", stage, str(source), str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", default="26000,100000", help="sample sizes (tickets)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "sdc-bench")
    parser.add_argument(
        "--child", nargs=3, metavar=("STAGE", "SOURCE", "WORKDIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        stage, source, workdir = args.child
        child(stage, Path(source), Path(workdir))
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start,"
        f" {args.runs} runs each"
    )
    print(
        f"{'rows':>10}  {'stage':<14} {'median s':>9} {'min s':>7} {'max s':>7}"
        f" {'CPU s':>6} {'peak RSS MB':>12}"
    )
    for tickets in (int(t) for t in args.tickets.split(",")):
        source = sample_file(tickets, args.dir)
        rows = row_total(source)
        workdir = Path(tempfile.mkdtemp(prefix="work-", dir=args.dir))
        for stage in STAGES:
            runs = [measure(stage, source, workdir) for _ in range(args.runs)]
            seconds = [r["seconds"] for r in runs]
            print(
                f"{rows:>10,}  {stage:<14} {statistics.median(seconds):>9.2f}"
                f" {min(seconds):>7.2f} {max(seconds):>7.2f}"
                f" {statistics.median(r['cpu'] for r in runs):>6.2f}"
                f" {max(r['peak_rss_mb'] for r in runs):>12.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
