"""Clean a snapshot of the source into the working copy, in one transaction, with a preview.

Rules, applied to every text cell in this order, each counted per column:

* ``nul_bytes``: remove NUL characters (PostgreSQL text cannot hold them),
  keeping the rest of the value;
* ``trim``: remove leading and trailing whitespace;
* ``null_tokens``: placeholder tokens and empty strings become NULL;
* ``dates`` / ``booleans`` / ``numbers``: canonical text for the column's
  planned type and date order (:data:`sdconsole.engine.values.CONVERTERS`).

A value a rule cannot convert (an impossible date, ``abc`` in a number
column) stays as it is and is listed with its rowid and reason in
``clean.json``; the loader rejects it with its raw text. Cells SQLite stores
as INTEGER, REAL or BLOB are left alone.

How: the source is copied with SQLite's backup API (pages, so rowids are
kept) to ``working.db.partial`` in the run dir. One UPDATE per table sets
each column through the SQL function ``sdc_clean`` (:class:`_Rules`), which
runs :func:`clean_value` once per distinct value (memoised) and tallies the
rules per cell; of a text column only the cells SQLite finds with a NUL
byte, edge whitespace or a token are sent, as nothing else can change
there. All tables are cleaned in one transaction, and only after COMMIT is
the file renamed to ``working.db``, so a kill leaves no half-cleaned working
copy. Running it again on its own output changes nothing (the rules are
idempotent). A dry run sends the same cells through the same function in a
SELECT on the source (read-only, one read transaction) and writes only the
report. Tables need rowids (no WITHOUT ROWID): the loader tracks rows by them.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sdconsole.engine import events as ev
from sdconsole.engine.errors import BadInput, StageError
from sdconsole.engine.plan import ColumnPlan, Plan, TablePlan
from sdconsole.engine.run import Run, write_json
from sdconsole.engine.source import list_columns, list_tables, open_source, quote_ident, sha256_file
from sdconsole.engine.values import CONVERTERS, WHITESPACE, Unconvertible
from sdconsole.settings import Settings

STAGE = "clean"
RULES = ("nul_bytes", "trim", "null_tokens", "dates", "booleans", "numbers")
TYPE_RULES = {
    "timestamp": "dates",
    "date": "dates",
    "time": "dates",
    "boolean": "booleans",
    "integer": "numbers",
    "numeric": "numbers",
}
SAMPLES = 5  # before/after pairs kept per rule and column
UNCONVERTIBLE_LISTED = 1000  # cells listed with rowid; all are counted
SAMPLE_CHARS = 120
PROGRESS_OPCODES = 200_000  # SQLite steps between progress reports (and cancel checks)
MEMO_VALUES = 5_000  # distinct values remembered per column (then forgotten)
WORKING_COPY = "working.db"

Step = tuple[str, str, str | None]  # rule, before, after
_CANONICAL_INTEGER = re.compile(r"[1-9][0-9]{0,17}")


def clean_value(text: str, column: ColumnPlan,
                null_tokens: frozenset[str]) -> tuple[str | None, list[Step], str | None]:
    """Apply the rules to one text value.

    Returns the new value (None for NULL), the steps that changed it, and
    the reason the type rule could not convert it (None when it could or
    the column is text).
    """
    steps: list[Step] = []
    value = text
    if "\x00" in value:
        steps.append(("nul_bytes", value, value.replace("\x00", "")))
        value = steps[-1][2]
    stripped = value.strip()
    if len(stripped) != len(value):
        steps.append(("trim", value, stripped))
        value = stripped
    if value in null_tokens:
        steps.append(("null_tokens", value, None))
        return None, steps, None
    rule = TYPE_RULES.get(column.type)
    if rule is None:
        return value, steps, None
    try:
        canonical = CONVERTERS[column.type](value, column.date_order)
    except Unconvertible as exc:
        return value, steps, str(exc)
    if canonical != value:
        steps.append((rule, value, canonical))
    return canonical, steps, None


@dataclass
class RuleResult:
    """One rule on one column: cells it changes and a few before/after pairs."""

    rule: str
    table: str
    column: str
    changed: int = 0
    samples: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class UnconvertibleCell:
    """A cell left as it was because its column's type rule cannot convert it."""

    table: str
    column: str
    rowid: int
    value: str
    reason: str


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
        return cls(**{
            **data,
            "rules": [RuleResult(**{**r, "samples": [tuple(s) for s in r["samples"]]})
                      for r in data["rules"]],
            "unconvertible": [UnconvertibleCell(**u) for u in data["unconvertible"]],
        })

    @classmethod
    def load(cls, path: Path) -> CleanReport:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def clean(run: Run, settings: Settings, source: Path, plan: Plan, *,
          dry_run: bool) -> CleanReport:
    """Preview (``dry_run``) or apply the cleaning rules; write ``clean.json`` to the run dir."""
    source = Path(source)
    null_tokens = frozenset(settings.null_tokens)
    detail = f"{source} (preview)" if dry_run else f"{source} -> {run.dir / WORKING_COPY}"
    with run.stage(STAGE, detail) as summary:
        started = time.monotonic()
        reader = open_source(source)
        before = sha256_file(source)
        report = CleanReport(dry_run, str(source), None, before, before)
        try:
            _check_plan(reader, plan, source)
            if dry_run:
                reader.isolation_level = None
                reader.execute("BEGIN")  # one consistent read of the source
                try:
                    _run_rules(run, reader, plan, null_tokens, report, apply=False)
                except sqlite3.DatabaseError as exc:
                    raise BadInput(f"source {source} cannot be read: {exc}") from None
            else:
                _apply(run, reader, run.dir / WORKING_COPY, plan, null_tokens, report)
        finally:
            reader.close()
        report.sha256_after = sha256_file(source)
        if report.sha256_after != before:
            if not dry_run:
                Path(report.working_copy).unlink(missing_ok=True)
                report.working_copy = None
            raise StageError(f"source {source} changed while cleaning (SHA-256 {before[:12]}"
                             f" before, {report.sha256_after[:12]} after); run again")
        report.seconds = round(time.monotonic() - started, 3)
        write_json(run.dir / "clean.json", report.to_dict())
        summary.update(dry_run=dry_run, cells_changed=report.cells_changed,
                       unconvertible=sum(report.unconvertible_counts.values()),
                       sha256=before[:12], working_copy=report.working_copy or "")
    return report


def _check_plan(conn: sqlite3.Connection, plan: Plan, source: Path) -> None:
    """The plan must name only tables and columns the source has."""
    tables = set(list_tables(conn))
    for table in plan.tables:
        if table.name not in tables:
            raise BadInput(f"plan table {table.name!r} is not in the source {source}")
        columns = {name for name, _ in list_columns(conn, table.name)}
        for column in table.columns:
            if column.name not in columns:
                raise BadInput(f"plan column {table.name}.{column.name} is not in the"
                               f" source {source}")


def _apply(run: Run, reader: sqlite3.Connection, target: Path, plan: Plan,
           null_tokens: frozenset[str], report: CleanReport) -> None:
    """Snapshot to ``<target>.partial``, clean it in one transaction, rename it to target."""
    partial = target.with_name(target.name + ".partial")
    _discard(partial)  # left by a killed run: never a working copy
    try:
        writer = sqlite3.connect(partial, isolation_level=None)
        try:
            reader.backup(writer)
            # No rollback journal: the partial file is never a working copy until the
            # rename after COMMIT, so a failure or kill discards it whole anyway.
            writer.execute("PRAGMA journal_mode = OFF")
            writer.execute("PRAGMA synchronous = OFF")
            writer.execute("PRAGMA cache_size = -32768")
            writer.execute("BEGIN IMMEDIATE")
            try:
                _run_rules(run, writer, plan, null_tokens, report, apply=True)
                writer.execute("COMMIT")
            except BaseException:
                if writer.in_transaction:  # an interrupted UPDATE has rolled back already
                    writer.execute("ROLLBACK")
                raise
        finally:
            writer.close()
        _fsync(partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:  # disk full, I/O error
        _discard(partial)
        raise StageError(f"cannot write the working copy {target}: {exc}") from None
    except BaseException:
        _discard(partial)
        raise
    report.working_copy = str(target)


def _fsync(path: Path) -> None:
    """Make the finished working copy durable before it replaces the old one."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(partial: Path) -> None:
    for path in (partial, partial.with_name(partial.name + "-journal")):
        path.unlink(missing_ok=True)


def _run_rules(run: Run, conn: sqlite3.Connection, plan: Plan, null_tokens: frozenset[str],
               report: CleanReport, *, apply: bool) -> None:
    """Run the rules over every table: one statement per table calling :class:`_Rules`."""
    for table in plan.tables:
        rowid = _rowid_name(conn, table.name)
        rules = _Rules(run, table, null_tokens, report)
        conn.create_function("sdc_clean", 3, rules)
        conn.create_function("sdc_row", 0, rules.row)
        conn.set_progress_handler(rules.tick, PROGRESS_OPCODES)
        exprs, params = _expressions(table, null_tokens, rowid)
        name = quote_ident(table.name)
        if apply:
            sets = ", ".join(f"{quote_ident(c.name)} = {e}"
                             for c, e in zip(table.columns, exprs, strict=True))
            statement = f"UPDATE {name} SET {sets} WHERE sdc_row()"
        else:
            statement = f"SELECT {', '.join(f'count({e})' for e in exprs)} FROM {name}" \
                        " WHERE sdc_row()"
        run.progress(STAGE, table.name, 0, table.rows)
        try:
            conn.execute(statement, params).fetchall()
        except sqlite3.IntegrityError as exc:
            raise StageError(f"cleaning table {table.name!r} breaks a constraint the source"
                             f" declares: {exc}") from None
        except sqlite3.OperationalError:
            if rules.stopped is not None:
                raise rules.stopped from None
            raise
        finally:
            conn.set_progress_handler(None, 0)
        run.progress(STAGE, table.name, rules.rows, rules.rows)
        rules.finish(report)


def _expressions(table: TablePlan, null_tokens: frozenset[str],
                 rowid: str) -> tuple[list[str], list[str]]:
    """Per column, the SQL giving its cleaned value (and the parameters it binds).

    A typed column sends its cells through ``sdc_clean``, except, in an
    integer column, those SQLite sees are canonical already (ids, mostly).
    A text column sends only the text cells SQLite finds with a NUL byte,
    edge whitespace or a token, because nothing else can change there.
    """
    tokens = sorted(null_tokens)
    marks = ", ".join("?" * len(tokens)) or "NULL"
    skip_integers = not any(_CANONICAL_INTEGER.fullmatch(t) for t in tokens)
    exprs, params = [], []
    for index, column in enumerate(table.columns):
        col = quote_ident(column.name)
        call = f"sdc_clean({index}, {col}, {rowid})"
        if column.type == "integer" and skip_integers:
            # ASCII digits only (GLOBs), no NUL (characters = bytes), at most 18 digits
            exprs.append(f"CASE WHEN {col} GLOB '[1-9]*' AND {col} NOT GLOB '*[^0-9]*'"
                         f" AND length({col}) <= 18 AND length({col}) ="
                         f" length(CAST({col} AS BLOB)) THEN {col} ELSE {call} END")
        elif TYPE_RULES.get(column.type):
            exprs.append(call)
        else:
            exprs.append(f"CASE WHEN typeof({col}) = 'text' AND (instr({col}, char(0)) > 0"
                         f" OR {col} <> trim({col}, ?) OR {col} IN ({marks}))"
                         f" THEN {call} ELSE {col} END")
            params += [WHITESPACE, *tokens]
    return exprs, params


class _Rules:
    """The SQL function ``sdc_clean(column, value, rowid)``: clean one cell and tally it.

    Outcomes are memoised per distinct value (up to MEMO_VALUES per column),
    so a converter runs once per value, not once per cell.
    """

    def __init__(self, run: Run, table: TablePlan, null_tokens: frozenset[str],
                 report: CleanReport) -> None:
        self.run = run
        self.table = table
        self.null_tokens = null_tokens
        self.report = report
        width = len(table.columns)
        self.memo: list[dict[str, tuple]] = [{} for _ in range(width)]
        self.counts: list[Counter] = [Counter() for _ in range(width)]
        self.samples: list[dict[str, list]] = [{} for _ in range(width)]
        self.changed = [0] * width
        self.unconvertible = [0] * width
        self.rows = 0
        self.stopped: BaseException | None = None

    def __call__(self, index: int, value: Any, rowid: int) -> Any:
        if type(value) is not str:
            return value
        outcome = self.memo[index].get(value)
        if outcome is None:
            outcome = self._outcome(index, value)
        new, rules, reason = outcome
        if rules:
            self.changed[index] += 1
            counts = self.counts[index]
            for rule in rules:
                counts[rule] += 1
        if reason is not None:
            self.unconvertible[index] += 1
            if len(self.report.unconvertible) < UNCONVERTIBLE_LISTED:
                self.report.unconvertible.append(UnconvertibleCell(
                    self.table.name, self.table.columns[index].name, rowid, value, reason))
        return new

    def _outcome(self, index: int, value: str) -> tuple:
        """Clean a value not seen lately: remember the outcome, keep its before/after pairs."""
        new, steps, reason = clean_value(value, self.table.columns[index], self.null_tokens)
        samples = self.samples[index]
        for rule, before, after in steps:
            seen = samples.setdefault(rule, [])
            if len(seen) < SAMPLES:
                pair = (_short(before), None if after is None else _short(after))
                if pair not in seen:
                    seen.append(pair)
        memo = self.memo[index]
        if len(memo) >= MEMO_VALUES:
            memo.clear()
        outcome = memo[value] = (new, [rule for rule, _, _ in steps], reason)
        return outcome

    def row(self) -> int:
        self.rows += 1
        return 1

    def tick(self) -> int:
        """SQLite progress handler: report rows done; non-zero stops the statement."""
        try:
            self.run.check()  # progress() skips its check while it throttles
            self.run.progress(STAGE, self.table.name, self.rows, max(self.rows, self.table.rows))
        except BaseException as exc:  # cancel or health floor: stop SQLite, re-raise after
            self.stopped = exc
            return 1
        return 0

    def finish(self, report: CleanReport) -> None:
        """Add the table's rule results to the report and emit one DiffSample per rule/column."""
        for index, column in enumerate(self.table.columns):
            for rule in RULES:
                if not self.counts[index][rule]:
                    continue
                result = RuleResult(rule, self.table.name, column.name,
                                    self.counts[index][rule], self.samples[index][rule])
                report.rules.append(result)
                self.run.emit(ev.DiffSample(stage=STAGE, rule=rule, table=self.table.name,
                                            column=column.name, changed=result.changed,
                                            samples=tuple(result.samples)))
            if self.unconvertible[index]:
                key = f"{self.table.name}.{column.name}"
                report.unconvertible_counts[key] = self.unconvertible[index]
        report.cells_changed += sum(self.changed)


def _rowid_name(conn: sqlite3.Connection, table: str) -> str:
    """The name that reaches the table's rowid (a column may be called 'rowid')."""
    columns = {name.lower() for name, _ in list_columns(conn, table)}
    for alias in ("rowid", "_rowid_", "oid"):
        if alias not in columns:
            try:
                conn.execute(f"SELECT {alias} FROM {quote_ident(table)} LIMIT 0")
            except sqlite3.OperationalError:
                break  # a WITHOUT ROWID table
            return alias
    raise BadInput(f"table {table!r} has no rowid (WITHOUT ROWID, or columns named rowid,"
                   " _rowid_ and oid); sdconsole tracks rows by rowid")


def _short(text: str) -> str:
    """A sample value short enough to show: head and tail of long text."""
    if len(text) <= SAMPLE_CHARS:
        return text
    return text[: SAMPLE_CHARS - 40] + " … " + text[-37:]
