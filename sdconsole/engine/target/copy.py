"""A plan's tables into a version schema with COPY: typed, streaming, with rejects.

Each table streams from a SQLite file (the working copy) in rowid order, a
chunk at a time, through the shared cell rules (:mod:`sdconsole.engine.rules.cells`)
into one ``COPY ... FROM STDIN``. A value that does not fit its column lands
as NULL and is recorded in ``<schema>._rejects`` with its raw text and the
reason: nothing is dropped silently. Memory stays bounded: one chunk of rows,
and rejects spooled to a temporary file in the run dir until the table's COPY
ends. Tables load one after the other on the caller's connection: Python
(reading, checking, formatting rows) is the slower side and holds the GIL,
so loading two tables at once on two connections measured no faster.

Transactions: one per table (TRUNCATE, COPY, the table's rejects). Once it
commits, its primary key and indexes are built on a second connection while
the next table streams: PostgreSQL alone works on them, and the Python side
would otherwise wait. The load ends when they are built. A table is complete
or empty, never half loaded. Because the table is truncated in the same
transaction its rows are written with COPY FREEZE, so validation's first
full read does not rewrite every page to set hint bits. Commits are
asynchronous (``synchronous_commit = off``, these transactions only): the
deployment update that follows a load commits synchronously, which flushes
the WAL of everything before it, so no durable record ever claims rows that
could be lost. Tables are not UNLOGGED: the version becomes the live data at
cutover and must survive a crash without a rewrite.

The load stage and the canary (a sample of rows) both load through
:func:`load_tables`. Call it with an autocommit connection (or one with no
transaction open), so that each table really commits.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdconsole.engine.records.plan import Plan, TablePlan
from sdconsole.engine.rules.cells import CellRules, Reject, read_chunks
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import Interrupted, StageError
from sdconsole.engine.runtime.run import Run, one_line
from sdconsole.engine.source.sqlite import open_source, row_count
from sdconsole.engine.target.dsn import sibling
from sdconsole.engine.target.schema import (
    REJECTS,
    foreign_key_statements,
    index_statements,
    key_statements,
    table_ref,
)

SPOOL_IN_MEMORY = 4 * 1024 * 1024  # rejects beyond this go to a temporary file
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

# Called with each chunk of rows ``(rowid, *cells)`` exactly as the COPY sent them.
Observer = Callable[[TablePlan, Sequence[Sequence]], None]


@dataclass
class LoadReport:
    """What a load did, per table ident: rows, rejects, seconds, rate (rows/s), nul_removed."""

    schema: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)  # keys and indexes built after COPY
    seconds: float = 0.0
    version: int | None = None

    @property
    def rows_total(self) -> int:
        return sum(t["rows"] for t in self.tables.values())

    @property
    def rejects_total(self) -> int:
        return sum(t["rejects"] for t in self.tables.values())

    @property
    def nul_removed(self) -> int:
        return sum(t["nul_removed"] for t in self.tables.values())


def load_tables(
    run: Run,
    conn: psycopg.Connection,
    working_db: Path,
    plan: Plan,
    schema: str,
    *,
    stage: str,
    rowids: Mapping[str, Sequence[int]] | None = None,
    observe: Observer | None = None,
) -> LoadReport:
    """The load without its stage bracket; the canary calls this inside its own stage.

    ``rowids`` maps a table ident to the sorted source rowids to load (a
    sample); without it every row is loaded. ``observe`` sees every chunk
    as written.
    """
    started = time.monotonic()
    report = LoadReport(schema=schema)
    with (
        contextlib.closing(open_source(working_db)) as db,
        contextlib.closing(_Indexes(run, conn, schema, stage)) as indexes,
    ):
        for table in plan.tables:
            picked = None if rowids is None else rowids.get(table.ident, ())
            report.tables[table.ident] = _load_table(
                run, conn, db, working_db, table, schema, stage, picked, observe
            )
            indexes.build(table)
        report.statements = indexes.wait()
        if rowids is None:  # a sample's keys would point at rows it left out
            report.statements += _foreign_keys(run, conn, schema, plan, stage)
    report.seconds = round(time.monotonic() - started, 3)
    return report


class _Indexes:
    """Keys and indexes of loaded tables, built one table after the other on a second
    connection (opened at the first table) by a helper thread."""

    def __init__(self, run: Run, conn: psycopg.Connection, schema: str, stage: str) -> None:
        self.run, self.conn, self.schema, self.stage = run, conn, schema, stage
        self.helper = ThreadPoolExecutor(1, thread_name_prefix="sdconsole-indexes")
        self.other: psycopg.Connection | None = None
        self.pending: list[Future] = []

    def build(self, table: TablePlan) -> None:
        for future in self.pending:
            if future.done():
                future.result()  # a table's indexes failed: stop loading now
        self.pending.append(self.helper.submit(self._build, table))

    def _build(self, table: TablePlan) -> list[str]:
        try:
            if self.other is None:
                self.other = sibling(self.conn, autocommit=True)
            return _key_and_indexes(self.run, self.other, self.schema, table, self.stage)
        except psycopg.Error as exc:
            raise StageError(f"indexing {table.ident} failed: {one_line(exc)}") from None

    def wait(self) -> list[str]:
        """The statements run, table by table; the first failure is raised."""
        return [statement for future in self.pending for statement in future.result()]

    def close(self) -> None:
        self.helper.shutdown(wait=True, cancel_futures=True)
        if self.other is not None:
            self.other.close()


def _load_table(
    run: Run,
    conn: psycopg.Connection,
    db: sqlite3.Connection,
    working_db: Path,
    table: TablePlan,
    schema: str,
    stage: str,
    picked: Sequence[int] | None,
    observe: Observer | None,
) -> dict[str, Any]:
    """One table's rows and rejects in one transaction; returns its figures."""
    target = table_ref(schema, table.ident)
    columns = sql.SQL(", ").join(sql.Identifier(c.ident) for c in table.columns)
    rules = CellRules(table)
    done = rejects = nuls = total = 0
    started = time.monotonic()
    try:
        total = row_count(db, table.name) if picked is None else len(picked)
        run.progress(stage, table.ident, 0, total)
        with (
            conn.transaction(),
            tempfile.SpooledTemporaryFile(
                max_size=SPOOL_IN_MEMORY, mode="w+", encoding="utf-8", dir=str(run.dir)
            ) as spool,
        ):
            conn.execute("SET LOCAL synchronous_commit = off")
            for statement in (
                sql.SQL("TRUNCATE {}").format(target),
                sql.SQL("DELETE FROM {} WHERE table_name = {}").format(
                    table_ref(schema, REJECTS), sql.Literal(table.ident)
                ),
            ):
                conn.execute(statement)
                _executed(run, conn, stage, statement)
            copy_statement = sql.SQL("COPY {} ({}) FROM STDIN (FREEZE)").format(target, columns)
            _executed(run, conn, stage, copy_statement)
            with conn.cursor().copy(copy_statement) as copy:
                write_row = copy.write_row
                for chunk in read_chunks(db, table, picked):
                    rows, chunk_rejects, chunk_nuls = rules.canonicalise(chunk)
                    for row in rows:
                        write_row(row[1:])
                    if observe is not None:
                        observe(table, rows)
                    if chunk_rejects:
                        _spool(spool, table.ident, chunk_rejects)
                        rejects += len(chunk_rejects)
                    nuls += chunk_nuls
                    done += len(chunk)
                    run.progress(stage, table.ident, done, total)
            if rejects:
                _copy_rejects(conn, schema, spool)
    except psycopg.Error as exc:
        raise _failure(run, conn, exc, table, done, total) from None
    except sqlite3.Error as exc:
        raise StageError(
            f"reading {table.name} from the working copy {working_db} failed at row {done}: {exc}"
        ) from None
    seconds = time.monotonic() - started
    if nuls:
        run.emit(
            ev.Finding(
                stage=stage,
                table=table.ident,
                column="",
                dimension="validity",
                message=f"{nuls} values of {table.ident} still held NUL characters;"
                " removed at load, the rest of each text kept",
                count=nuls,
            )
        )
    figures = {
        "rows": done,
        "rejects": rejects,
        "nul_removed": nuls,
        "seconds": round(seconds, 3),
        "rate": round(done / seconds, 1) if seconds else 0.0,
    }
    return figures


def _spool(spool, table_ident: str, rejects: list[Reject]) -> None:
    """Append rejects to the spool as COPY text lines (raw bytes as bytea hex)."""
    spool.writelines(
        f"{_copy_text(table_ident)}\t{r.rowid}\t{_copy_text(r.column)}"
        f"\t{_copy_text(r.raw)}\t{_copy_text(r.reason)}\t{_copy_bytes(r.raw_bytes)}\n"
        for r in rejects
    )


def _copy_bytes(raw: bytes | None) -> str:
    return "\\N" if raw is None else "\\\\x" + raw.hex()


def _copy_text(text: str) -> str:
    return text.translate(_COPY_ESCAPES)


def _copy_rejects(conn: psycopg.Connection, schema: str, spool) -> None:
    spool.seek(0)
    with conn.cursor().copy(
        sql.SQL(
            "COPY {} (table_name, source_rowid, column_name, raw_value, reason, raw_bytes)"
            " FROM STDIN"
        ).format(table_ref(schema, REJECTS))
    ) as copy:
        while data := spool.read(1 << 16):
            copy.write(data)


def _key_and_indexes(
    run: Run, conn: psycopg.Connection, schema: str, table: TablePlan, stage: str
) -> list[str]:
    """Primary key and UNIQUE constraints (when the loaded rows allow them) and indexes;
    returns the statements run."""
    ran = []
    keyed = False
    for number, statement in enumerate(key_statements(schema, table)):
        try:
            with conn.transaction():
                conn.execute(statement)
            keyed = keyed or (number == 0 and bool(table.primary_key))
            ran.append(_executed(run, conn, stage, statement))
        except (psycopg.errors.UniqueViolation, psycopg.errors.NotNullViolation) as exc:
            what = "primary key" if number == 0 and table.primary_key else "UNIQUE constraint"
            run.emit(
                ev.Finding(
                    stage=stage,
                    table=table.ident,
                    column=", ".join(table.primary_key),
                    dimension="uniqueness",
                    message=f"{table.ident}: the {what} in {statement.as_string(conn)!r} cannot"
                    f" be created ({exc.diag.message_detail or exc.diag.message_primary});"
                    " indexed instead",
                )
            )
    for statement in index_statements(schema, table, keyed=keyed):
        conn.execute(statement)
        ran.append(_executed(run, conn, stage, statement))
    return ran


def _foreign_keys(
    run: Run, conn: psycopg.Connection, schema: str, plan: Plan, stage: str
) -> list[str]:
    """The declared foreign keys, once every table is keyed: NOT VALID, then validated.

    A key with orphans stays NOT VALID (new rows are checked, the loaded
    ones are kept) and is reported; a key PostgreSQL cannot create (its
    parent columns are not unique) is reported and left out.
    """
    ran = []
    for table in plan.tables:
        for add, check in foreign_key_statements(schema, table):
            try:
                with conn.transaction():
                    conn.execute(add)
                ran.append(_executed(run, conn, stage, add))
            except psycopg.Error as exc:
                run.emit(
                    ev.Finding(
                        stage=stage,
                        table=table.ident,
                        column="",
                        dimension="integrity",
                        message=f"{table.ident}: declared foreign key not created: {one_line(exc)}",
                    )
                )
                continue
            try:
                with conn.transaction():
                    conn.execute(check)
                ran.append(_executed(run, conn, stage, check))
            except psycopg.errors.ForeignKeyViolation as exc:
                run.emit(
                    ev.Finding(
                        stage=stage,
                        table=table.ident,
                        column="",
                        dimension="integrity",
                        message=f"{table.ident}: a declared foreign key has orphans"
                        f" ({exc.diag.message_detail}); kept NOT VALID",
                    )
                )
    return ran


def _executed(run: Run, conn: psycopg.Connection, stage: str, statement: sql.Composed) -> str:
    text = statement.as_string(conn)
    run.emit(ev.SqlExecuted(stage=stage, statement=text))
    return text


def _failure(
    run: Run,
    conn: psycopg.Connection,
    exc: psycopg.Error,
    table: TablePlan,
    done: int,
    total: int,
) -> Exception:
    """The one-line error for a database failure while loading a table."""
    where = f"{table.ident} (row {done} of {total})"
    if conn.broken or conn.closed:
        return StageError(f"connection to the target was lost while loading {where}")
    if run.cancel_requested.is_set():
        return Interrupted(f"cancelled by the operator while loading {where}")
    return StageError(f"loading {where} failed: {one_line(exc)}")
