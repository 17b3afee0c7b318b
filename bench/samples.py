"""The generated ServiceDesk samples the benchmarks share, made once and kept under a directory.

A benchmark script run as ``python bench/<script>.py`` finds this module
next to it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from psycopg import sql

from sdconsole.engine.source import sample
from sdconsole.engine.source.sqlite import sqlite_sql

OUT = Path(__file__).resolve().parent / "out"
TABLES = ("tickets", "comments", "timesheets")


def sample_file(tickets: int, directory: Path = OUT) -> Path:
    """``servicedesk-<tickets>.db`` in ``directory``, generated (seed 7) the first time."""
    path = directory / f"servicedesk-{tickets}.db"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        sample.generate(path, tickets=tickets, seed=7)
    return path


def row_total(path: Path) -> int:
    """Rows of the sample's three tables together."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sum(
            conn.execute(
                sqlite_sql(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            ).fetchone()[0]
            for table in TABLES
        )
    finally:
        conn.close()
