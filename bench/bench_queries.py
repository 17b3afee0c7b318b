"""Time every dashboard query template on a migrated schema; print a table.

Usage: python bench/bench_queries.py DSN [SCHEMA] [--repeat N]

Each template runs N times (default 5) through ``run_query`` (read-only
transaction, search_path set, needs checked); the table shows the median and
the slowest run in milliseconds, and the rows returned. A template whose
needs the schema does not meet is listed as not applicable, with why.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg

from sdconsole.engine.target import queries


def row_count(conn: psycopg.Connection, schema: str, table: str) -> int:
    count = conn.execute(
        psycopg.sql.SQL("SELECT count(*) FROM {}.{}").format(
            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
        )
    ).fetchone()
    assert count is not None  # count(*) always answers one row
    return count[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("schema", nargs="?", default="servicedesk")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        columns = queries.schema_columns(conn, args.schema)
        counts = {t: row_count(conn, args.schema, t) for t in sorted(columns)}
        print(
            f"schema {args.schema}: "
            + ", ".join(f"{t} {n:,}" for t, n in counts.items())
            + f"; median of {args.repeat} runs"
        )
        print(f"{'template':<34} {'category':<11} {'rows':>6} {'median ms':>10} {'max ms':>8}")
        total = 0.0
        for template in queries.load_queries():
            unmet = queries.why_not_applicable(template, columns)
            if unmet:
                print(f"{template.name:<34} {template.category:<11} not applicable: {unmet}")
                continue
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                _, rows = queries.run_query(conn, template, args.schema)
                times.append((time.perf_counter() - started) * 1000)
            median = statistics.median(times)
            total += median
            print(
                f"{template.name:<34} {template.category:<11} {len(rows):>6}"
                f" {median:>10.1f} {max(times):>8.1f}"
            )
        print(f"{'all templates':<34} {'':<11} {'':>6} {total:>10.1f}")


if __name__ == "__main__":
    main()
