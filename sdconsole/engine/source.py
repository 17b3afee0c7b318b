"""The source SQLite file: opened read-only, checked, listed, and fingerprinted.

Every stage reads the source through :func:`open_source`, which turns each
way a file can be unusable (missing, not SQLite, unreadable, corrupt) into a
one-line :class:`BadInput`. Statements over names from the file are
composed with :mod:`psycopg.sql` and given to SQLite by :func:`sqlite_sql`;
values are always bound.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from psycopg import sql

from sdconsole.engine.errors import BadInput

SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_sql(query: sql.Composable) -> str:
    """A psycopg.sql composition as SQLite text: both quote identifiers the same way.

    So statements over source names are composed with one mechanism for both
    databases, and values stay bound parameters.
    """
    return query.as_string(None)


def open_source(path: Path, *, check_integrity: bool = False) -> sqlite3.Connection:
    """Open the source read-only (``mode=ro``), or raise BadInput saying why it cannot be used.

    ``check_integrity`` also runs ``PRAGMA integrity_check`` (it reads the
    whole file, so only preflight asks for it).
    """
    path = Path(path)
    if not path.exists():
        raise BadInput(f"source {path} does not exist")
    if not path.is_file():
        raise BadInput(f"source {path} is not a file")
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise BadInput(f"source {path} is not readable: {exc.strerror or exc}") from None
    if header != SQLITE_HEADER:
        raise BadInput(f"source {path} is not a SQLite database")
    try:
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BadInput(f"source {path} cannot be opened: {exc}") from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        problems = integrity_problems(conn) if check_integrity else []
        if problems:
            raise BadInput(
                f"source {path} fails the SQLite integrity check: {problems[0]}"
                + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else "")
            )
    except sqlite3.Error as exc:
        conn.close()
        raise BadInput(f"source {path} cannot be read as SQLite: {exc}") from None
    except BadInput:
        conn.close()
        raise
    return conn


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """What ``PRAGMA integrity_check`` reports; empty when the file is sound."""
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    return [] if problems == ["ok"] else problems


def list_tables(conn: sqlite3.Connection) -> list[str]:
    """User tables in creation order: no ``sqlite_`` internals, no virtual tables."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        " AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY rowid"
    ).fetchall()
    return [name for (name,) in rows]


def list_columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(name, declared type) of each column of a table, in order."""
    rows = conn.execute("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", (table,))
    return [(name, declared or "") for name, declared in rows]


def row_count(conn: sqlite3.Connection, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    return conn.execute(sqlite_sql(query)).fetchone()[0]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
