"""Load stage against pgloader: same SQLite sample, same PostgreSQL server, same machine.

For each sample size (26,000 tickets is about 260k rows, 100,000 about 1M):
the sample is generated once under bench/out/, profiled and cleaned once
(the working copy is what the load stage reads), then, alternating in each
round so both see the same machine load:

* pgloader loads the raw SQLite file into a fresh database: wall time of the
  process, the "Total import time" it reports itself, its CPU time;
* our load stage, ``loader.load()`` of the working copy into a fresh version
  schema (typed, rejects, keys and indexes), in a child process whose peak
  RSS is measured, then ``validate()``.

Wall times on a shared machine swing with the other processes; CPU seconds
(client process plus the server's processes, when the server is the
embedded one) do not, so both are printed. Medians of the rounds.

    python bench/bench_load.py [--tickets 26000 100000] [--runs 3] [--dsn DSN]

Without --dsn the embedded server under bench/out/work is used; pgloader
reaches it through its Unix socket. pgloader must be installed
(``apt-get install pgloader``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from samples import OUT, row_total, sample_file

from sdconsole.engine.records.plan import Plan
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.stages import loader, validate
from sdconsole.engine.stages.clean import cleaner
from sdconsole.engine.stages.profile import profiler
from sdconsole.engine.target import embedded, schema
from sdconsole.settings import DEFAULT_NULL_TOKENS, load_settings


def working_copy(source: Path) -> tuple[Path, Path]:
    """The profiled plan and cleaned working copy of ``source``, made once and kept."""
    working = source.with_name(source.stem + "-working.db")
    plan_path = source.with_name(source.stem + "-plan.json")
    if not (working.exists() and plan_path.exists()):
        settings = load_settings(None, workdir=OUT / "prepare")
        with Run(settings.workdir) as run:
            plan = profiler.profile(run, settings, source).plan
            report = cleaner.clean(run, settings, source, plan, dry_run=False)
        assert report.working_copy is not None  # an applied clean writes one
        shutil.move(report.working_copy, working)
        plan.save(plan_path)
    return working, plan_path


def server_cpu(postmaster: int | None) -> float:
    """CPU seconds of the server so far: postmaster, its processes, and exited backends."""
    if postmaster is None:
        return float("nan")
    server = psutil.Process(postmaster)
    times = server.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for process in server.children():
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def fresh_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute("CHECKPOINT")
    return make_conninfo(admin, dbname=name)


def pgloader_url(dsn: str) -> str:
    """The DSN as pgloader writes it; a socket directory becomes ``unix:/dir``."""
    p = {key: str(value) for key, value in conninfo_to_dict(dsn).items() if value is not None}
    host = p.get("host") or "localhost"
    host = f"unix:{host}" if host.startswith("/") else host
    auth = p.get("user", "postgres") + (f":{p['password']}" if p.get("password") else "")
    return f"postgresql://{auth}@{host}:{p.get('port') or 5432}/{p['dbname']}"


def time_pgloader(admin: str, source: Path, postmaster: int | None) -> dict:
    """pgloader's figures; a run that crashes (it sometimes does, see below) is run again."""
    for attempt in range(3):
        try:
            return pgloader_once(admin, source, postmaster)
        except RuntimeError as exc:
            print(f"pgloader attempt {attempt + 1} failed: {exc}", file=sys.stderr)
    raise SystemExit("pgloader failed three times in a row")


def pgloader_once(admin: str, source: Path, postmaster: int | None) -> dict:
    """pgloader's wall time, own import time, CPU (its own and the server's), peak RSS.

    pgloader's default 1 GB Lisp heap is exhausted at 1M rows ("Heap
    exhausted, game over"), so it gets 4 GB. Now and then it dies on its own
    thread-safety bug ("Corrupt NEXT-chain in #<HASH-TABLE ..."); that is a
    RuntimeError here.
    """
    target = fresh_database(admin, "bench_pgloader")
    server_before = server_cpu(postmaster)
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["pgloader", "--dynamic-space-size", "4096", str(source), pgloader_url(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None  # stdout=PIPE
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    reported = re.search(r"Total import time\s+\S+\s+\d+\s+\S+ \S+\s+([\d.]+)s", output)
    if os.waitstatus_to_exitcode(status) != 0 or reported is None:
        raise RuntimeError(output.strip().splitlines()[-1][:300] if output.strip() else "")
    return {
        "wall": wall,
        "import": float(reported.group(1)),
        "cpu": usage.ru_utime + usage.ru_stime,
        "server_cpu": server_cpu(postmaster) - server_before,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def time_ours(
    admin: str, source: Path, working: Path, plan_path: Path, postmaster: int | None
) -> dict:
    """Our load and validation in a child process (see :func:`child`)."""
    target = fresh_database(admin, "bench_sdconsole")
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            target,
            str(source),
            str(working),
            str(plan_path),
            str(postmaster or ""),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"our load failed: {proc.stderr.strip()[-1000:]}")
    return json.loads(proc.stdout)


def child(
    target: str, source: Path, working: Path, plan_path: Path, postmaster: int | None
) -> None:
    """Create the version schema, load, validate; print wall and CPU figures as JSON."""
    plan = Plan.load(plan_path)
    with (
        tempfile.TemporaryDirectory() as workdir,
        Run(Path(workdir)) as run,
        psycopg.connect(target, autocommit=True) as conn,
    ):
        schema.create_version_schema(conn, "servicedesk_v1", plan)
        server_before, cpu_before = server_cpu(postmaster), time.process_time()
        started = time.perf_counter()
        report = loader.load(run, conn, working, plan, "servicedesk_v1")
        loaded = time.perf_counter()
        cpu, server = time.process_time() - cpu_before, server_cpu(postmaster) - server_before
        check = validate.validate(run, conn, source, plan, "servicedesk_v1", DEFAULT_NULL_TOKENS)
        validated = time.perf_counter()
    if not check.ok:
        raise SystemExit(check.summary)
    print(
        json.dumps(
            {
                "wall": loaded - started,
                "validate": validated - loaded,
                "cpu": cpu,
                "server_cpu": server,
                "rows": report.rows_total,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def embedded_postmaster() -> int | None:
    pid_file = embedded.data_dir(OUT / "work") / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, nargs="+", default=[26000, 100000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dsn", help="admin DSN of a server where databases may be created")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        target, source, working, plan_path, postmaster = args.child
        child(
            target,
            Path(source),
            Path(working),
            Path(plan_path),
            int(postmaster) if postmaster else None,
        )
        return
    if shutil.which("pgloader") is None:
        raise SystemExit("pgloader is not installed (apt-get install pgloader)")
    admin = args.dsn or embedded.start(OUT / "work")
    postmaster = None if args.dsn else embedded_postmaster()
    results = {}
    for tickets in args.tickets:
        source = sample_file(tickets)
        working, plan_path = working_copy(source)
        results[tickets] = (
            row_total(source),
            [
                (
                    time_pgloader(admin, source, postmaster),
                    time_ours(admin, source, working, plan_path, postmaster),
                )
                for _ in range(args.runs)
            ],
        )
    report(results, args.runs)


def report(results: dict, runs: int) -> None:
    def median(rounds, side: int, key: str) -> float:
        return statistics.median(r[side][key] for r in rounds)

    print(
        f"median of {runs} rounds; pgl = pgloader, wall = its process, import = its own"
        " 'Total import time'; ours = loader.load(); cpu = client + server CPU seconds"
    )
    print(
        f"{'tickets':>8} {'rows':>9} | {'pgl wall':>8} {'import':>7} {'cpu':>6} {'MB':>5} |"
        f" {'ours':>6} {'cpu':>6} {'MB':>4} | {'ours/wall':>9} {'ours/import':>11}"
        f" {'cpu/cpu':>7} | {'validate':>8}"
    )
    ours_wall = {}
    for tickets, (rows, rounds) in results.items():
        pgl_wall, pgl_import = median(rounds, 0, "wall"), median(rounds, 0, "import")
        pgl_cpu = statistics.median(r[0]["cpu"] + r[0]["server_cpu"] for r in rounds)
        ours = ours_wall[tickets] = median(rounds, 1, "wall")
        ours_cpu = statistics.median(r[1]["cpu"] + r[1]["server_cpu"] for r in rounds)
        print(
            f"{tickets:>8} {rows:>9} | {pgl_wall:>7.2f}s {pgl_import:>6.2f}s {pgl_cpu:>5.1f}s"
            f" {max(r[0]['peak_mb'] for r in rounds):>5.0f} | {ours:>5.2f}s {ours_cpu:>5.1f}s"
            f" {max(r[1]['peak_mb'] for r in rounds):>4.0f} | {ours / pgl_wall:>9.2f}"
            f" {ours / pgl_import:>11.2f} {ours_cpu / pgl_cpu:>7.2f} |"
            f" {median(rounds, 1, 'validate'):>7.2f}s"
        )
    if len(ours_wall) > 1:
        small, big = min(ours_wall), max(ours_wall)
        print(
            f"ours at {big} tickets / at {small}: {ours_wall[big] / ours_wall[small]:.2f}x the time"
        )
    print(
        "rounds, pgloader import / ours: "
        + "; ".join(
            f"{t}: " + ", ".join(f"{p['import']:.2f}/{o['wall']:.2f}" for p, o in rounds)
            for t, (_, rounds) in results.items()
        )
    )


if __name__ == "__main__":
    main()
