"""How the cleaning rules run over the tables: SQL decides what it can, Python the rest.

Per column, SQLite recognises in SQL the cells no rule changes and the cells
whose new value it can build exactly (:mod:`sdconsole.engine.rules.shapes`, and
placeholder tokens); every other cell that may change -- NUL bytes, edge
whitespace, unusual spellings, unconvertible values -- goes to the SQL
function ``sdc_py`` (:class:`_PythonCells`), which applies
:func:`clean_value`. So Python sees a few percent of the cells.

The work is cut into *count tasks*: per table and group of columns, one
aggregate SELECT on the source counts the cells SQL converts and the tokens
it finds, and runs ``sdc_py`` on the rest, which tallies its rules, samples
and unconvertible cells; then LIMIT queries find the first before/after
pairs of the rules SQL decided. Two threads -- the caller's and a helper,
each with its own read connection -- take tasks until none is left, and the
results are merged per table in plan order: the same counts, the first
SAMPLES distinct pairs per rule in rowid order and the first unconvertible
cells in (table, rowid, column) order as one pass over the rows would give.

Applying, the helper first snapshots the source into the working copy and
runs one UPDATE per table converting, with the same SQL, the cells SQL
decides; the cells Python cleaned wait until then and are written by rowid.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from psycopg import sql

from sdconsole.engine.records.plan import ColumnPlan, TablePlan
from sdconsole.engine.rules.shapes import Shape, Sql, dispatch, shapes
from sdconsole.engine.rules.values import WHITESPACE, Unconvertible
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput, StageError
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.source.sqlite import list_columns, open_source, sqlite_sql

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
POSITION_EVERY = 4096  # rowids between a count pass's reports of where it is
MEMO_VALUES = 5_000  # distinct values remembered per column (then forgotten)
FLUSH_CELLS = 10_000  # cells Python cleaned, handed on to be written in one batch
PENDING_CELLS = 200_000  # cleaned cells kept while the UPDATEs run (then the count waits)
UPDATE_SAMPLE = 1_000  # rows that tell an UPDATE whether most rows change
BACKUP_PAGES = 4_096  # pages per snapshot step (stop checks between steps)
SEEN_SLOTS = 8  # values a sample query excludes (bound; more make a new statement)
ROWID_MAX = 2**63 - 1
SQL_TOKEN = 1 << 32  # a count pass sums, per column, conversions + tokens * SQL_TOKEN
TASKS = 8  # count tasks the work is cut into, about, so that two threads end together
CELL_COST = {
    "text": 5,
    "timestamp": 8,
    "date": 6,
    "numeric": 4,
    "boolean": 3,
    "time": 3,
    "integer": 2,
}  # relative cost of a cell in a count pass, by planned type

Step = tuple[str, str, str | None]  # rule, before, after
_AND = sql.SQL(" AND ")


def clean_value(
    text: str, column: ColumnPlan, null_tokens: frozenset[str]
) -> tuple[str | None, list[Step], str | None]:
    """Apply the rules to one text value.

    Returns the new value (None for NULL), the steps that changed it, and
    the reason the type rule could not convert it (None when it could or
    the column is text).
    """
    steps: list[Step] = []
    value = text
    if "\x00" in value:
        cleaned = value.replace("\x00", "")
        steps.append(("nul_bytes", value, cleaned))
        value = cleaned
    stripped = value.strip()
    if stripped in null_tokens:
        steps.append(("null_tokens", value, None))
        return None, steps, None
    if column.type == "text":  # text stays text: only a NUL byte is ever removed
        return value, steps, None
    if len(stripped) != len(value):
        steps.append(("trim", value, stripped))
        value = stripped
    rule = TYPE_RULES.get(column.type)
    if rule is None:
        return value, steps, None
    try:
        canonical = column.convert(value)
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


class Results(Protocol):
    """What the rules did, as the report records it (the cleaner's CleanReport)."""

    rules: list[RuleResult]
    unconvertible: list[UnconvertibleCell]
    unconvertible_counts: dict[str, int]
    cells_changed: int


def short(text: str) -> str:
    """A sample value short enough to show: head and tail of long text."""
    if len(text) <= SAMPLE_CHARS:
        return text
    return text[: SAMPLE_CHARS - 40] + " … " + text[-37:]


def run_rules(
    run: Run,
    source: Path,
    reader: sqlite3.Connection,
    tables: list[TableRules],
    report: Results,
    writer: sqlite3.Connection | None = None,
) -> None:
    """Run the rules over the tables on two threads and add the results to ``report``.

    ``reader`` is this thread's connection to the source. With a ``writer``
    (a connection to the working copy, no transaction open), the helper
    first snapshots the source into it and opens the transaction the caller
    commits.
    """
    pool = _Pool(run, source, tables, writer)
    pool.work(reader, dry_run=writer is None)
    for rules in tables:
        _finish(run, rules, [t for t in pool.tasks if t.rules is rules], report)


class _ColumnSQL:
    """The SQL of one column: its count code, its new value, and whether SQL changes it.

    A text column sends to ``sdc_py`` only the cells SQLite finds with a NUL
    byte, a token, or edge whitespace (edge bytes outside '!'..'~' are checked
    with trim(), so only those cells pay for it). A typed column converts the
    TEXT cells of a known shape and the tokens in SQL and sends the rest to
    ``sdc_py``. Tokens are tested before the shapes only when one of them has
    a shape (a token '0' in an integer column); otherwise after them, where
    few cells get.
    """

    def __init__(
        self,
        index: int,
        col: Sql,
        cases: list[Shape] | None,
        tokens: list[str],
        tokens_first: bool,
        rowid: Sql,
        as_bytes: bool = False,
    ) -> None:
        self.index = index
        self.col = col
        # A column with TEXT cells that are not UTF-8 hands its text to Python as bytes
        # (SQLite cannot pass such a cell to a function as text); BLOBs stay out.
        cell = (
            sql.SQL("CASE WHEN typeof({c}) = 'text' THEN CAST({c} AS BLOB) END").format(c=col)
            if as_bytes
            else col
        )
        python = sql.SQL("sdc_py({}, {}, {})").format(sql.Literal(index), cell, rowid)
        token = self.token = None
        if tokens:
            token = self.token = sql.SQL(
                "length(CAST({c} AS BLOB)) <= {longest} AND +{c} COLLATE BINARY IN ({marks})"
            ).format(
                c=col,
                longest=sql.Literal(max(len(t.encode()) for t in tokens)),
                marks=sql.SQL(", ").join(_named(f"tok{n}") for n in range(len(tokens))),
            )
        self.updates = False
        if cases is None:
            odd = [sql.SQL("instr({}, char(0))").format(col)]
            if token is not None:
                odd.append(token)
            odd.append(
                sql.SQL(
                    "(NOT {c} GLOB '[!-~]*'"
                    " OR substr(CAST({c} AS BLOB), -1) NOT BETWEEN X'21' AND X'7E')"
                    " AND +{c} <> trim({c}, :ws) COLLATE BINARY"
                ).format(c=col)
            )
            self.code = sql.SQL("CASE WHEN {} THEN {} ELSE 0 END").format(
                sql.SQL(" OR ").join(odd), python
            )
            return
        zero, one = sql.SQL("0"), sql.SQL("1")
        kinds = {s: zero if s.result is None else one for s in cases}
        results = {s: s.result for s in cases if s.result is not None}
        changing = list(results)
        self.shape_changes = dispatch(col, cases, kinds, zero)  # of a TEXT cell, not a token
        if token is None:
            code = dispatch(col, cases, kinds, python)
            new = dispatch(col, changing, results, col)
            changes = self.shape_changes
        elif tokens_first:
            code = sql.SQL("CASE WHEN {} THEN {} ELSE {} END").format(
                token, sql.Literal(SQL_TOKEN), dispatch(col, cases, kinds, python)
            )
            new = sql.SQL("CASE WHEN {} THEN NULL ELSE {} END").format(
                token, dispatch(col, changing, results, col)
            )
            self.shape_changes = sql.SQL("NOT ({}) AND {}").format(token, self.shape_changes)
            changes = sql.SQL("({} OR {})").format(token, self.shape_changes)
        else:
            code = dispatch(
                col,
                cases,
                kinds,
                sql.SQL("CASE WHEN {} THEN {} ELSE {} END").format(
                    token, sql.Literal(SQL_TOKEN), python
                ),
            )
            new = dispatch(
                col,
                changing,
                results,
                sql.SQL("CASE WHEN {} THEN NULL ELSE {} END").format(token, col),
            )
            changes = dispatch(
                col, cases, kinds, sql.SQL("CASE WHEN {} THEN 1 ELSE 0 END").format(token)
            )
        self.updates = bool(changing or token)
        self.code = sql.SQL("CASE WHEN typeof({c}) = 'text' THEN {code} ELSE 0 END").format(
            c=col, code=code
        )
        self.new = sql.SQL("CASE WHEN typeof({c}) = 'text' THEN {new} ELSE {c} END").format(
            c=col, new=new
        )
        self.changes = sql.SQL("typeof({c}) = 'text' AND {changes}").format(c=col, changes=changes)


class TableRules:
    """One table's SQL, built once on the caller's thread and read by both threads."""

    def __init__(
        self, reader: sqlite3.Connection, table: TablePlan, null_tokens: frozenset[str]
    ) -> None:
        self.table = table
        self.null_tokens = null_tokens
        self.rowid = sql.SQL(_rowid_name(reader, table.name))
        self.name = sql.Identifier(table.name)
        sql_tokens = sorted(t for t in null_tokens if t == t.strip() and "\x00" not in t)
        self.params = {"ws": WHITESPACE, **{f"tok{n}": t for n, t in enumerate(sql_tokens)}}
        self.columns = []
        for index, column in enumerate(table.columns):
            col = sql.Identifier(column.name)
            cases = (
                shapes(column.type, column.date_order, col) if column.type in TYPE_RULES else None
            )
            first = bool(cases) and _token_converts(column, sql_tokens)
            self.columns.append(
                _ColumnSQL(
                    index, col, cases, sql_tokens, first, self.rowid, column.invalid_utf8 > 0
                )
            )
        low, high = reader.execute(
            sqlite_sql(sql.SQL("SELECT min({0}), max({0}) FROM {1}").format(self.rowid, self.name))
        ).fetchone()
        self.low, self.span = low or 0, (high or 0) - (low or 0) + 1

    def update(self, writer: sqlite3.Connection) -> None:
        """Convert the cells SQL recognises, in one UPDATE (of the rows that change, when few do).

        The first UPDATE_SAMPLE rows tell whether most rows change: then no
        WHERE, which would test them twice.
        """
        columns = [c for c in self.columns if c.updates]
        if not columns:
            return
        where = sql.SQL(" OR ").join(sql.SQL("({})").format(c.changes) for c in columns)
        sample = writer.execute(
            sqlite_sql(
                sql.SQL("SELECT {} FROM {} NOT INDEXED LIMIT {}").format(
                    where, self.name, sql.Literal(UPDATE_SAMPLE)
                )
            ),
            self.params,
        ).fetchall()
        if not sample:
            return
        statement = sql.SQL("UPDATE {} SET {}").format(
            self.name, sql.SQL(", ").join(sql.SQL("{} = {}").format(c.col, c.new) for c in columns)
        )
        if 2 * sum(1 for (changes,) in sample if changes) < len(sample):
            statement += sql.SQL(" WHERE {}").format(where)
        try:
            writer.execute(sqlite_sql(statement), self.params)
        except sqlite3.IntegrityError as exc:
            raise self.constraint(exc) from None

    def write(
        self, writer: sqlite3.Connection, index: int, cells: list[tuple[str | None, int]]
    ) -> None:
        """Write cells Python cleaned: (value, rowid) pairs of one column."""
        try:
            writer.executemany(
                sqlite_sql(
                    sql.SQL("UPDATE {} SET {} = ? WHERE {} = ?").format(
                        self.name, self.columns[index].col, self.rowid
                    )
                ),
                cells,
            )
        except sqlite3.IntegrityError as exc:
            raise self.constraint(exc) from None

    def constraint(self, exc: sqlite3.IntegrityError) -> StageError:
        return StageError(
            f"cleaning table {self.table.name!r} breaks a constraint the source declares: {exc}"
        )


def _named(name: str) -> Sql:
    """A named SQLite parameter (``:name``); the values travel in the params dict."""
    return sql.SQL(":" + name)


def _first_row(conn: sqlite3.Connection, statement: str, params: dict[str, Any]) -> Any:
    return conn.execute(statement, params).fetchone()


def _token_converts(column: ColumnPlan, tokens: list[str]) -> bool:
    """Whether a token is a value of the column's type (a token '0' in an integer column).

    Checked in Python: a value with a shape converts in Python too (the SQL
    path is the Python converters' exact subset), so no token with a shape
    is missed.
    """
    for token in tokens:
        try:
            column.convert(token)
        except Unconvertible:
            continue
        return True
    return False


def _rowid_name(conn: sqlite3.Connection, table: str) -> str:
    """The name that reaches the table's rowid (a column may be called 'rowid')."""
    columns = {name.lower() for name, _ in list_columns(conn, table)}
    for alias in ("rowid", "_rowid_", "oid"):
        if alias not in columns:
            try:
                conn.execute(
                    sqlite_sql(
                        sql.SQL("SELECT {} FROM {} LIMIT 0").format(
                            sql.SQL(alias), sql.Identifier(table)
                        )
                    )
                )
            except sqlite3.OperationalError:
                break  # a WITHOUT ROWID table
            return alias
    raise BadInput(
        f"table {table!r} has no rowid (WITHOUT ROWID, or columns named rowid,"
        " _rowid_ and oid); sdconsole tracks rows by rowid"
    )


# SQLite's messages for a function, and a progress handler, that raised.
CALLBACK_FAILED = ("user-defined function raised exception", "interrupted")


class _Stopped(Exception):
    """The other thread failed or the operator cancelled: stop this thread's work."""


class _Task:
    """A count pass, and the samples of the rules SQL decided, over some columns of a table."""

    def __init__(self, pool: _Pool, rules: TableRules, indexes: list[int], cost: int) -> None:
        self.rules = rules
        self.indexes = indexes
        self.cost = cost
        self.rows = 0
        self.converted: dict[int, int] = {}
        self.tokens: dict[int, int] = {}
        self.sql_samples: dict[int, dict[str, list]] = {}
        self.cells = _PythonCells(pool, self)  # what sdc_py finds while the task runs

    def run(self, pool: _Pool, reader: sqlite3.Connection) -> None:
        rules = self.rules
        cells = self.cells
        reader.create_function("sdc_py", 3, cells)
        reader.create_function("sdc_at", 1, cells.at)
        reader.set_progress_handler(cells.tick, PROGRESS_OPCODES)
        try:
            pool.progress(self, 0)
            # sdc_at reports the position every POSITION_EVERY rowids, for progress
            count = sqlite_sql(
                sql.SQL("SELECT {} FROM {} NOT INDEXED WHERE ({} % {}) OR sdc_at({})").format(
                    sql.SQL(", ").join(
                        [
                            sql.SQL("count(*)"),
                            *(
                                sql.SQL("sum({})").format(rules.columns[i].code)
                                for i in self.indexes
                            ),
                        ]
                    ),
                    rules.name,
                    rules.rowid,
                    sql.Literal(POSITION_EVERY),
                    rules.rowid,
                )
            )
            self.rows, *sums = cells.guarded(lambda: reader.execute(count, rules.params).fetchone())
            for index, total in zip(self.indexes, sums, strict=True):
                self.converted[index] = (total or 0) % SQL_TOKEN
                self.tokens[index] = (total or 0) // SQL_TOKEN
            cells.flush()
            for index in self.indexes:
                self.sql_samples[index] = self._sql_samples(reader, index)
        finally:
            reader.set_progress_handler(None, 0)
        pool.progress(self, 1)

    def _sql_samples(self, reader: sqlite3.Connection, index: int) -> dict[str, list]:
        """The first SAMPLES distinct pairs, with rowids, of the rules SQL decided."""
        samples: dict[str, list] = {}
        column, plan = self.rules.columns[index], self.rules.table.columns[index]
        col = column.col
        text = sql.SQL("typeof({}) = 'text'").format(col)
        if self.tokens[index]:
            samples["null_tokens"] = self._first_pairs(
                reader, col, _AND.join([text, column.token]), lambda v: None
            )
        if self.converted[index]:
            samples[TYPE_RULES[plan.type]] = self._first_pairs(
                reader, col, _AND.join([text, column.shape_changes]), plan.convert
            )
        return samples

    def _first_pairs(
        self, reader: sqlite3.Connection, col: Sql, test: Sql, after: Callable[[str], str | None]
    ) -> list[tuple[int, tuple]]:
        """The first SAMPLES distinct (before, after) pairs of the cells passing ``test``.

        Each query finds the next cell, in rowid order, whose value is not one
        seen already; a column with few distinct values costs one scan.
        """
        rules = self.rules
        pairs: list[tuple[int, tuple]] = []
        seen: list[str] = []
        start = rules.low
        statements: dict[int, str] = {}  # by number of seen-value slots
        while len(pairs) < SAMPLES:
            slots = max(SEEN_SLOTS, len(seen))
            params = {
                **rules.params,
                "start": start,  # unused slots: a BLOB, never TEXT
                **{f"seen{n}": seen[n] if n < len(seen) else b"" for n in range(slots)},
            }
            if slots not in statements:
                statements[slots] = sqlite_sql(
                    sql.SQL(
                        "SELECT {rowid}, {col} FROM {table} NOT INDEXED"
                        " WHERE {test} AND {rowid} >= :start"
                        " AND +{col} COLLATE BINARY NOT IN ({marks})"
                        " ORDER BY {rowid} LIMIT 1"
                    ).format(
                        rowid=rules.rowid,
                        col=col,
                        table=rules.name,
                        test=test,
                        marks=sql.SQL(", ").join(_named(f"seen{n}") for n in range(slots)),
                    )
                )
            found = self.cells.guarded(partial(_first_row, reader, statements[slots], params))
            if found is None:
                break
            rowid, value = found
            seen.append(value)
            converted = after(value)
            pair = (short(value), None if converted is None else short(converted))
            if all(pair != p for _, p in pairs):
                pairs.append((rowid, pair))
            if rowid == ROWID_MAX:
                break
            start = rowid + 1
        return pairs


class _PythonCells:
    """The SQL function ``sdc_py(column, value, rowid)``: clean a cell SQL cannot decide.

    It tallies the rules per column, keeps the first before/after pairs with
    their rowids, lists the first unconvertible cells, and (applying) hands
    changed cells on to be written, in batches. Outcomes are memoised per
    distinct value (up to MEMO_VALUES per column), so a converter runs once
    per value.
    """

    def __init__(self, pool: _Pool, task: _Task) -> None:
        self.pool = pool
        self.task = task
        self.table = task.rules.table
        width = len(self.table.columns)
        self.memo: list[dict[str, tuple]] = [{} for _ in range(width)]
        self.as_bytes = [column.invalid_utf8 > 0 for column in self.table.columns]
        self.counts: list[Counter] = [Counter() for _ in range(width)]
        self.samples: list[dict[str, list]] = [{} for _ in range(width)]
        self.changed = [0] * width
        self.unconvertible = [0] * width
        self.listed: list[tuple[int, int, UnconvertibleCell]] = []  # rowid, column, cell
        self.pending: list[list[tuple[str | None, int]]] = [[] for _ in range(width)]
        self.waiting = 0
        self.position: int | None = None
        self.stopped: BaseException | None = None

    def __call__(self, index: int, value: Any, rowid: int) -> int:
        if type(value) is bytes and self.as_bytes[index]:  # TEXT handed over as bytes
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                return 0  # left as it is: the loader rejects it with its raw bytes
        if type(value) is not str:  # a number or BLOB a text test let through: left alone
            return 0
        try:
            outcome = self.memo[index].get(value)
            if outcome is None:
                outcome = self._outcome(index, value, rowid)
            new, rules, reason = outcome
            if rules:
                self.changed[index] += 1
                counts = self.counts[index]
                for rule in rules:
                    counts[rule] += 1
                if self.pool.writes is not None:
                    self.pending[index].append((new, rowid))
                    self.waiting += 1
                    if self.waiting >= FLUSH_CELLS:
                        self.flush()
            if reason is not None:
                self.unconvertible[index] += 1
                if len(self.listed) < UNCONVERTIBLE_LISTED:
                    self.listed.append(
                        (
                            rowid,
                            index,
                            UnconvertibleCell(
                                self.table.name,
                                self.table.columns[index].name,
                                rowid,
                                value,
                                reason,
                            ),
                        )
                    )
            return 0
        except BaseException as exc:  # stops the statement: re-raised after it
            self.stopped = self.stopped or exc
            raise

    def _outcome(self, index: int, value: str, rowid: int) -> tuple:
        """Clean a value not seen lately: remember the outcome, keep its before/after pairs."""
        new, steps, reason = clean_value(
            value, self.table.columns[index], self.task.rules.null_tokens
        )
        samples = self.samples[index]
        for rule, before, after in steps:
            seen = samples.setdefault(rule, [])
            if len(seen) < SAMPLES:
                pair = (short(before), None if after is None else short(after))
                if all(pair != p for _, p in seen):
                    seen.append((rowid, pair))
        memo = self.memo[index]
        if len(memo) >= MEMO_VALUES:
            memo.clear()
        outcome = memo[value] = (new, [rule for rule, _, _ in steps], reason)
        return outcome

    def flush(self) -> None:
        """Hand the cleaned cells waiting here on to be written."""
        writes = self.pool.writes
        for index, cells in enumerate(self.pending):
            if cells:
                assert writes is not None  # cells wait to be written only when the pool writes
                writes.add(self.task.rules, index, cells)
                cells.clear()
        self.waiting = 0

    def guarded(self, work: Callable[[], Any]) -> Any:
        """Run SQL work on the source; re-raise what stopped it (cancel, health, an error).

        SQLite keeps only a message of what a callback raised, so what the
        callback recorded is raised instead. An interrupt (SIGINT) can strike a
        callback at its very entry, before it can record anything, and nothing
        else fails there: a callback error with nothing recorded is that
        interrupt.
        """
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if self.stopped is not None:
                raise self.stopped from None
            if str(exc) in CALLBACK_FAILED:
                raise KeyboardInterrupt from None
            raise

    def at(self, rowid: int) -> int:
        self.position = rowid
        return 1

    def tick(self) -> int:
        """SQLite progress handler: report rows done; non-zero stops the statement."""
        try:
            self.pool.check()
            if self.position is not None:
                rules = self.task.rules
                self.pool.progress(self.task, (self.position - rules.low + 1) / rules.span)
        except BaseException as exc:  # cancel, health floor, the other thread's error
            self.stopped = self.stopped or exc
            return 1
        return 0


class _Writes:
    """The cells Python cleaned, on their way to the working copy.

    They wait while the helper snapshots and UPDATEs (one connection serves
    one thread at a time), at most PENDING_CELLS of them, then are written
    by whichever thread has them.
    """

    def __init__(self, pool: _Pool, writer: sqlite3.Connection) -> None:
        self.pool = pool
        self.writer = writer
        self.ready = False
        self.waiting: list[tuple[TableRules, int, list]] = []
        self.cells = 0
        self.turn = threading.Condition()

    def add(self, rules: TableRules, index: int, cells: list) -> None:
        with self.turn:
            while not self.ready and self.cells >= PENDING_CELLS:
                self.pool.check()
                self.turn.wait(0.1)
            if self.ready:
                rules.write(self.writer, index, cells)
            else:
                self.waiting.append((rules, index, list(cells)))
                self.cells += len(cells)

    def open(self) -> None:
        """The UPDATEs are done: write the cells that waited, and the next ones at once."""
        with self.turn:
            for rules, index, cells in self.waiting:
                rules.write(self.writer, index, cells)
            self.waiting, self.cells, self.ready = [], 0, True
            self.turn.notify_all()

    def wake(self) -> None:
        with self.turn:
            self.turn.notify_all()


class _Pool:
    """The caller's thread and a helper thread, taking count tasks until none is left."""

    def __init__(
        self, run: Run, source: Path, tables: list[TableRules], writer: sqlite3.Connection | None
    ) -> None:
        self.run = run
        self.source = source
        self.tables = tables
        self.writes = _Writes(self, writer) if writer is not None else None
        self.tasks = _tasks(self, tables)
        self.queue = deque(sorted(self.tasks, key=lambda t: -t.cost))  # longest first
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.done: dict[_Task, float] = {}  # share of each task's rows, for progress

    def work(self, reader: sqlite3.Connection, *, dry_run: bool) -> None:
        helper = threading.Thread(
            target=self._helper, args=(dry_run,), name="sdconsole-clean", daemon=True
        )
        helper.start()
        try:
            self._take(reader)
        except BaseException as exc:
            self._fail(exc)
        finally:
            helper.join()
        if self.error is not None:
            raise self.error

    def _helper(self, dry_run: bool) -> None:
        try:
            if self.writes is not None:
                self._copy(self.writes)
            reader = open_source(self.source)
            try:
                if dry_run:
                    reader.isolation_level = None
                    reader.execute("BEGIN")  # one consistent read of the source
                self._take(reader)
            finally:
                reader.close()
        except BaseException as exc:
            self._fail(exc)

    def _copy(self, writes: _Writes) -> None:
        """Snapshot the source into the working copy, open the transaction, run the UPDATEs."""
        writer = writes.writer
        snapshot = open_source(self.source)
        try:
            snapshot.backup(writer, pages=BACKUP_PAGES, progress=lambda *_: self.check())
        finally:
            snapshot.close()
        # No rollback journal: the partial file is never a working copy until the
        # rename after COMMIT, so a failure or kill discards it whole anyway.
        writer.execute("PRAGMA journal_mode = OFF")
        writer.execute("PRAGMA synchronous = OFF")
        writer.execute("PRAGMA cache_size = -32768")
        writer.execute("BEGIN IMMEDIATE")
        stopped: list[BaseException] = []

        def tick() -> int:
            try:
                self.check()
            except BaseException as exc:
                stopped.append(exc)
                return 1
            return 0

        writer.set_progress_handler(tick, PROGRESS_OPCODES)
        try:
            for rules in self.tables:
                rules.update(writer)
        except sqlite3.OperationalError:
            if stopped:
                raise stopped[0] from None
            raise
        finally:
            writer.set_progress_handler(None, 0)
        writes.open()

    def _take(self, reader: sqlite3.Connection) -> None:
        while True:
            self.check()
            with self.lock:
                if not self.queue:
                    return
                task = self.queue.popleft()
            task.run(self, reader)

    def _fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None and not isinstance(exc, _Stopped):
                self.error = exc
        self.stopping.set()
        if self.writes is not None:
            self.writes.wake()

    def check(self) -> None:
        """Raise if the other thread failed, the operator cancelled or health is low."""
        if self.stopping.is_set():
            raise _Stopped
        self.run.check()

    def progress(self, task: _Task, share: float) -> None:
        """Report a table's rows done: the mean share of its tasks, in rows."""
        table = task.rules.table
        self.done[task] = min(share, 1.0)
        tasks = [t for t in self.tasks if t.rules is task.rules]
        done = int(sum(self.done.get(t, 0.0) for t in tasks) / len(tasks) * table.rows)
        self.run.progress(STAGE, table.name, max(0, min(done, table.rows - 1)), table.rows)


def _tasks(pool: _Pool, tables: list[TableRules]) -> list[_Task]:
    """Cut each table's columns into groups of about a TASKS-th of all the work."""
    costs = [
        [t.table.rows * CELL_COST.get(c.type, CELL_COST["text"]) for c in t.table.columns]
        for t in tables
    ]
    target = max(1, sum(map(sum, costs)) // TASKS)
    tasks = []
    for rules, column_costs in zip(tables, costs, strict=True):
        group: list[int] = []
        cost = 0
        for index, column_cost in enumerate(column_costs):
            group.append(index)
            cost += column_cost
            if cost >= target:
                tasks.append(_Task(pool, rules, group, cost))
                group, cost = [], 0
        if group or not column_costs:
            tasks.append(_Task(pool, rules, group, cost))
    return tasks


def _finish(run: Run, rules: TableRules, tasks: list[_Task], report: Results) -> None:
    """Merge a table's tasks into the report and emit one DiffSample per rule and column."""
    table = rules.table
    owner = {index: task for task in tasks for index in task.indexes}
    for index, column in enumerate(table.columns):
        task = owner[index]
        cells = task.cells
        sql = {"null_tokens": task.tokens[index]}
        if column.type in TYPE_RULES:
            sql[TYPE_RULES[column.type]] = task.converted[index]
        for rule in RULES:
            changed = cells.counts[index][rule] + sql.get(rule, 0)
            if not changed:
                continue
            found = sorted(
                cells.samples[index].get(rule, []) + task.sql_samples[index].get(rule, []),
                key=lambda s: s[0],
            )
            samples: list[tuple] = []
            for _, pair in found:
                if pair not in samples and len(samples) < SAMPLES:
                    samples.append(pair)
            result = RuleResult(rule, table.name, column.name, changed, samples)
            report.rules.append(result)
            run.emit(
                ev.DiffSample(
                    stage=STAGE,
                    rule=rule,
                    table=table.name,
                    column=column.name,
                    changed=changed,
                    samples=tuple(samples),
                )
            )
        if cells.unconvertible[index]:
            report.unconvertible_counts[f"{table.name}.{column.name}"] = cells.unconvertible[index]
        report.cells_changed += cells.changed[index] + sum(sql.values())
    listed = sorted(
        (entry for task in tasks for entry in task.cells.listed), key=lambda e: (e[0], e[1])
    )
    room = max(0, UNCONVERTIBLE_LISTED - len(report.unconvertible))
    report.unconvertible.extend(cell for _, _, cell in listed[:room])
    rows = tasks[0].rows
    run.progress(STAGE, table.name, rows, rows)
