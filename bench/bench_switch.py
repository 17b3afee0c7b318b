"""Time the blue-green switch, rollback, pg_dump backup and restore; print a table.

Usage: python bench/bench_switch.py [DSN] [--rows N] [--repeat N]

Without a DSN the embedded server under a temporary work dir is used. Two
versions with tickets, comments and timesheets of N rows each (default
260,000 in all) are built in a scratch database, then each operation runs
--repeat times (default 5): the table shows the median and the slowest run.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from sdconsole.engine.runtime.run import Run
from sdconsole.engine.stages import cutover, rollback
from sdconsole.engine.target import backup, deployments, embedded, metadata
from sdconsole.settings import load_settings

STABLE = "servicedesk"


def build_version(conn: psycopg.Connection, rows: int) -> int:
    version, schema = deployments.begin(conn, STABLE, "bench", "/bench.db", None, "bench", 90)
    s = sql.Identifier(schema)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(s))
    for table in ("tickets", "comments", "timesheets"):
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.{} AS SELECT i AS id, now() - i * interval '1 minute' AS created,"
                " md5(i::text) AS title FROM generate_series(1, %s) i"
            ).format(s, sql.Identifier(table)),
            (rows,),
        )
    conn.execute(
        sql.SQL(
            "CREATE TABLE {}._rejects (table_name text, source_rowid bigint,"
            " column_name text, raw text, reason text)"
        ).format(s)
    )
    deployments.mark(conn, STABLE, version, "loaded", row_counts={"tickets": rows})
    return version


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn", nargs="?")
    parser.add_argument("--rows", type=int, default=260_000 // 3, help="rows per table")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sdconsole-bench-"))
    server = args.dsn or embedded.start(workdir)
    name = "sdc_bench_" + secrets.token_hex(3)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = make_conninfo(server, dbname=name)
    settings = load_settings(None, workdir=workdir, target_dsn=dsn)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn, Run(workdir) as run:
            metadata.ensure(conn)
            v1, v2 = build_version(conn, args.rows), build_version(conn, args.rows)
            cutover.cutover(run, conn, dsn, settings, v1)
            cutover.cutover(run, conn, dsn, settings, v2, backup=False)
            dumps: list[Path] = []
            results = {
                "rollback v2 -> v1": [],
                "roll forward v1 -> v2": [],
                "plan_rollback (confirmation)": timed(
                    lambda: rollback.plan_rollback(conn, STABLE), args.repeat
                ),
                "pg_dump of one version": timed(
                    lambda: dumps.append(
                        backup.dump_version(
                            None, settings, dsn, metadata.version_schema(STABLE, v1), v1
                        )
                    ),
                    args.repeat,
                ),
            }
            for _ in range(args.repeat):
                results["rollback v2 -> v1"] += timed(
                    lambda: rollback.rollback(run, conn, dsn, settings), 1
                )
                results["roll forward v1 -> v2"] += timed(
                    lambda: rollback.rollback(run, conn, dsn, settings, v2), 1
                )

            def restore() -> None:
                metadata.drop_schema(conn, metadata.version_schema(STABLE, v1))
                backup.restore_version(settings, dsn, dumps[0])

            results["pg_restore of one version"] = timed(
                restore,
                args.repeat,
            )
            size = dumps[0].stat().st_size
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    print(
        f"3 tables x {args.rows:,} rows per version; dump {size / 2**20:.1f} MiB;"
        f" median of {args.repeat} runs"
    )
    print(f"{'operation':<30} {'median ms':>10} {'max ms':>8}")
    for op, times in results.items():
        print(f"{op:<30} {statistics.median(times):>10.1f} {max(times):>8.1f}")


if __name__ == "__main__":
    main()
