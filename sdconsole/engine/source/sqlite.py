"""The source SQLite file: opened read-only, checked, listed, and fingerprinted.

Every stage reads the source through :func:`open_source`, which turns each
way a file can be unusable (missing, not SQLite, unreadable, corrupt) into a
one-line :class:`BadInput`. Statements over names from the file are
composed with :mod:`psycopg.sql` and given to SQLite by :func:`sqlite_sql`;
values are always bound.

A TEXT cell whose bytes are not UTF-8 stops Python's default reading of a
row; :func:`read_text_leniently` makes a connection return such a cell as
:class:`InvalidText` (its raw bytes) instead, so one bad cell is rejected
with its bytes and never stops the migration of everything else.
:func:`declared_schema` reads what the file declares: primary keys (also
composite), UNIQUE constraints, foreign keys and WITHOUT ROWID.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from psycopg import sql

from sdconsole.engine.runtime.errors import BadInput

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
    """What ``PRAGMA integrity_check`` reports, one line each (SQLite may break one over
    several, ``*** in database main ***`` first); empty when the file is sound."""
    problems = [" ".join(str(row[0]).split()) for row in conn.execute("PRAGMA integrity_check")]
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


class InvalidText(bytes):
    """The raw bytes of a TEXT cell that is not valid UTF-8 (see :func:`read_text_leniently`)."""


def _decode(raw: bytes) -> str | InvalidText:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidText(raw)


def read_text_leniently(conn: sqlite3.Connection) -> None:
    """Return TEXT cells that are not UTF-8 as :class:`InvalidText` (about 15% slower reads)."""
    conn.text_factory = _decode


def is_decode_error(exc: BaseException) -> bool:
    """Whether SQLite reading stopped at a TEXT cell that is not UTF-8."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith(
        "Could not decode to UTF-8"
    )


@dataclass
class DeclaredForeignKey:
    columns: list[str]
    parent: str
    parent_columns: list[str]  # empty: the parent's primary key


@dataclass
class DeclaredSchema:
    """What a table's CREATE statement declares, by source column names."""

    primary_key: list[str] = field(default_factory=list)
    unique: list[list[str]] = field(default_factory=list)
    foreign_keys: list[DeclaredForeignKey] = field(default_factory=list)
    without_rowid: bool = False


_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*(,\s*STRICT\s*)?;?\s*$", re.I)


def declared_schema(conn: sqlite3.Connection, table: str) -> DeclaredSchema:
    """The keys, UNIQUE constraints and foreign keys ``table`` declares."""
    info = conn.execute(
        "SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", (table,)
    ).fetchall()
    declared = DeclaredSchema(primary_key=[name for name, _ in info])
    for (index,) in conn.execute(
        "SELECT name FROM pragma_index_list(?) WHERE \"unique\" AND origin = 'u' ORDER BY seq DESC",
        (table,),
    ):
        columns = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno", (index,)
            )
        ]
        if columns and None not in columns and columns not in declared.unique:
            declared.unique.append(columns)
    keys: dict[int, DeclaredForeignKey] = {}
    for key_id, parent, child, parent_column in conn.execute(
        'SELECT id, "table", "from", "to" FROM pragma_foreign_key_list(?) ORDER BY id, seq',
        (table,),
    ):
        key = keys.setdefault(key_id, DeclaredForeignKey([], parent, []))
        key.columns.append(child)
        if parent_column is not None:
            key.parent_columns.append(parent_column)
    declared.foreign_keys = list(keys.values())
    text = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    declared.without_rowid = bool(text and text[0] and _WITHOUT_ROWID.search(text[0]))
    return declared


def without_rowid_sql(create: str) -> str:
    """A WITHOUT ROWID table's CREATE statement as an ordinary (rowid) table's."""
    return _WITHOUT_ROWID.sub(lambda m: ")" + (" STRICT" if m.group(1) else ""), create)
