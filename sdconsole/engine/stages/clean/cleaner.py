"""Clean a snapshot of the source into the working copy, in one transaction, with a preview.

Rules, applied to every text cell in this order, each counted per column:

* ``nul_bytes``: remove NUL characters (PostgreSQL text cannot hold them),
  keeping the rest of the value;
* ``null_tokens``: placeholder tokens and empty strings (once trimmed) become NULL;
* ``trim``: remove leading and trailing whitespace of a value a typed column
  converts -- never of a value that stays text, which keeps every byte;
* ``dates`` / ``booleans`` / ``numbers``: canonical text for the column's
  planned type and date order (:data:`sdconsole.engine.rules.values.CONVERTERS`).

A value a rule cannot convert (an impossible date, ``abc`` in a number
column) stays as it is and is listed with its rowid and reason in
``clean.json``; the loader rejects it with its raw text. Cells SQLite stores
as INTEGER, REAL or BLOB are left alone.

How: the source is copied with SQLite's backup API (pages, so rowids are
kept) to ``working.db.partial`` in the run dir and cleaned there: SQL
converts the cells whose shape it knows and Python the rest
(:mod:`sdconsole.engine.stages.clean.passes`). All tables are cleaned in one
transaction, and only after COMMIT is the file renamed to ``working.db``, so
a kill leaves no half-cleaned working copy. Running it again on its own
output changes nothing (the rules are idempotent). A dry run makes the same
passes over the source (read-only, one read transaction per thread) and
writes only the report. Rows are tracked by rowid; a WITHOUT ROWID table
is first copied, in a numbered snapshot of the source (``numbered.db``), into
an ordinary table in its declared key's order, so its rowids number its rows
in that order, as validation numbers the original's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from psycopg import sql

from sdconsole.engine.records.plan import Plan, TablePlan
from sdconsole.engine.runtime.errors import BadInput, StageError
from sdconsole.engine.runtime.layout import NUMBERED, WORKING_COPY
from sdconsole.engine.runtime.run import Run, fsync, private_file, write_json
from sdconsole.engine.source.sqlite import (
    list_columns,
    list_tables,
    open_source,
    sha256_file,
    sqlite_sql,
    without_rowid_sql,
)
from sdconsole.engine.stages.clean.passes import (
    STAGE,
    RuleResult,
    TableRules,
    UnconvertibleCell,
    run_rules,
)
from sdconsole.settings import Settings


@dataclass
class CleanReport:
    dry_run: bool
    source: str
    working_copy: str | None
    sha256_before: str
    sha256_after: str
    rules: list[RuleResult] = field(default_factory=list)
    unconvertible: list[UnconvertibleCell] = field(default_factory=list)  # first cells only
    unconvertible_counts: dict[str, int] = field(default_factory=dict)  # table.column -> cells
    cells_changed: int = 0
    seconds: float = 0.0

    def changed(self, rule: str | None = None) -> int:
        """Cells changed by one rule (or by all rules: a cell may count under several)."""
        return sum(r.changed for r in self.rules if rule is None or r.rule == rule)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CleanReport:
        return cls(
            **{
                **data,
                "rules": [
                    RuleResult(**{**r, "samples": [tuple(s) for s in r["samples"]]})
                    for r in data["rules"]
                ],
                "unconvertible": [UnconvertibleCell(**u) for u in data["unconvertible"]],
            }
        )

    @classmethod
    def load(cls, path: Path) -> CleanReport:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def clean(run: Run, settings: Settings, source: Path, plan: Plan, *, dry_run: bool) -> CleanReport:
    """Preview (``dry_run``) or apply the cleaning rules; write ``clean.json`` to the run dir."""
    source = Path(source)
    null_tokens = frozenset(settings.null_tokens)
    detail = f"{source} (preview)" if dry_run else f"{source} -> {run.dir / WORKING_COPY}"
    with run.stage(STAGE, detail) as summary:
        started = time.monotonic()
        try:
            report = _clean(run, source, plan, null_tokens, dry_run=dry_run)
        finally:
            (run.dir / NUMBERED).unlink(missing_ok=True)
        report.seconds = round(time.monotonic() - started, 3)
        write_json(run.dir / "clean.json", report.to_dict())
        summary.update(
            dry_run=dry_run,
            cells_changed=report.cells_changed,
            unconvertible=sum(report.unconvertible_counts.values()),
            sha256=report.sha256_before[:12],
            working_copy=report.working_copy or "",
        )
    return report


def _clean(
    run: Run, source: Path, plan: Plan, null_tokens: frozenset[str], *, dry_run: bool
) -> CleanReport:
    """The stage's work: the rules over the source (or its numbered snapshot)."""
    with ThreadPoolExecutor(1, thread_name_prefix="sdconsole-hash") as hashing:
        hashed = hashing.submit(sha256_file, source)  # beside building the SQL
        rows_from = _numbered(source, plan, run.dir / NUMBERED)
        reader = open_source(rows_from)
        try:
            _check_plan(reader, plan, source)
            tables = [TableRules(reader, table, null_tokens) for table in plan.tables]
        except sqlite3.DatabaseError as exc:
            reader.close()
            raise BadInput(f"source {source} cannot be read: {exc}") from None
        before = hashed.result()
    try:
        report = CleanReport(dry_run, str(source), None, before, before)
        if dry_run:
            reader.isolation_level = None
            reader.execute("BEGIN")  # one consistent read of the source
            try:
                run_rules(run, rows_from, reader, tables, report)
            except sqlite3.DatabaseError as exc:
                raise BadInput(f"source {source} cannot be read: {exc}") from None
        else:
            _apply(run, source, rows_from, reader, tables, run.dir / WORKING_COPY, report)
    finally:
        reader.close()
    if dry_run:
        report.sha256_after = sha256_file(source)
    if report.sha256_after != before:
        if report.working_copy is not None:  # applied: made from the source as it was
            Path(report.working_copy).unlink(missing_ok=True)
            report.working_copy = None
        raise StageError(
            f"source {source} changed while cleaning (SHA-256 {before[:12]}"
            f" before, {report.sha256_after[:12]} after); run again"
        )
    return report


def _numbered(source: Path, plan: Plan, snapshot: Path) -> Path:
    """The file the rules read: the source, or for a source with WITHOUT ROWID tables a
    snapshot where each is an ordinary table filled in its declared key's order."""
    numbered = [table for table in plan.tables if table.order_by]
    if not numbered:
        return source
    snapshot.unlink(missing_ok=True)
    reader = open_source(source)
    try:
        writer = sqlite3.connect(private_file(snapshot), isolation_level=None)
        try:
            reader.backup(writer)
            writer.execute("PRAGMA legacy_alter_table = ON")  # leave references as they are
            writer.execute("BEGIN")
            for table in numbered:
                _with_rowids(writer, table)
            writer.execute("COMMIT")
        finally:
            writer.close()
    except sqlite3.Error as exc:
        snapshot.unlink(missing_ok=True)
        raise StageError(
            f"cannot number the rows of {source}'s WITHOUT ROWID tables in {snapshot}: {exc}"
        ) from None
    finally:
        reader.close()
    return snapshot


def _with_rowids(db: sqlite3.Connection, table: TablePlan) -> None:
    """Rebuild a WITHOUT ROWID table as an ordinary one, rows in its key's order."""
    (create,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
    ).fetchone()
    old = sql.Identifier("sdc_without_rowid")
    name = sql.Identifier(table.name)
    db.execute(sqlite_sql(sql.SQL("ALTER TABLE {} RENAME TO {}").format(name, old)))
    db.execute(without_rowid_sql(create))
    db.execute(
        sqlite_sql(
            sql.SQL("INSERT INTO {} SELECT * FROM {} ORDER BY {}").format(
                name, old, sql.SQL(", ").join(map(sql.Identifier, table.order_by))
            )
        )
    )
    db.execute(sqlite_sql(sql.SQL("DROP TABLE {}").format(old)))


def _check_plan(conn: sqlite3.Connection, plan: Plan, source: Path) -> None:
    """The plan must name only tables and columns the source has."""
    tables = set(list_tables(conn))
    for table in plan.tables:
        if table.name not in tables:
            raise BadInput(f"plan table {table.name!r} is not in the source {source}")
        columns = {name for name, _ in list_columns(conn, table.name)}
        for column in table.columns:
            if column.name not in columns:
                raise BadInput(
                    f"plan column {table.name}.{column.name} is not in the source {source}"
                )


def _apply(
    run: Run,
    source: Path,
    rows_from: Path,
    reader: sqlite3.Connection,
    tables: list[TableRules],
    target: Path,
    report: CleanReport,
) -> None:
    """Snapshot ``rows_from`` to ``<target>.partial``, clean it in one transaction, rename
    it to target.

    Once the rules have read the source, it is hashed again (for the check
    that it did not change) while the working copy is committed and synced.
    """
    partial = target.with_name(target.name + ".partial")
    _discard(partial)  # left by a killed run: never a working copy
    hashing = ThreadPoolExecutor(1)
    try:
        writer = sqlite3.connect(
            private_file(partial), isolation_level=None, check_same_thread=False
        )
        try:
            run_rules(run, rows_from, reader, tables, report, writer)
            after = hashing.submit(sha256_file, source)
            writer.execute("COMMIT")
        except BaseException:
            if writer.in_transaction:  # an interrupted UPDATE has rolled back already
                writer.execute("ROLLBACK")
            raise
        finally:
            writer.close()
        fsync(partial)  # durable before it replaces the old working copy
        os.replace(partial, target)
    except sqlite3.Error as exc:  # disk full, I/O error
        _discard(partial)
        raise StageError(f"cannot write the working copy {target}: {exc}") from None
    except BaseException:
        _discard(partial)
        raise
    finally:
        hashing.shutdown()
    report.working_copy = str(target)
    report.sha256_after = after.result()


def _discard(partial: Path) -> None:
    for path in (partial, partial.with_name(partial.name + "-journal")):
        path.unlink(missing_ok=True)
