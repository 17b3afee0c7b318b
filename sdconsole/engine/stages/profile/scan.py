"""The scan of a source's columns: each column's values counted, in worker processes
for big sources. What the counts mean is :mod:`.infer`'s.

How it stays fast and small: Python looks at each *distinct* value of a
column once, weighted by its row count. The counting is one pass per table
that reads a few hundred rows at a time and counts every column's values in
a dict, so SQLite does not sort each column for a GROUP BY (about 2.5x the
work here). The dicts hold distinct values only up to an estimated
PASS_MEMORY per pass: a column that would pass it is dropped from the pass
and read alone: counted in a read of its own if it fits PASS_MEMORY alone,
else as ``SELECT value, count(*) ... GROUP BY value``, which holds
nothing. Big sources are scanned by several processes, a
group of a table's columns (or such a column) at a time each.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg import sql

from sdconsole.engine.rules.values import (
    ENGLISH_FLAG_WORDS,
    WHITESPACE,
    DateFields,
    DateOrder,
    Unconvertible,
    date_fields,
    evidence,
    lossy_number,
    real_clock,
    real_date,
    to_integer,
    to_numeric,
    to_time,
    ymd,
)
from sdconsole.engine.runtime import processes
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.source.sqlite import (
    InvalidText,
    is_decode_error,
    open_source,
    read_text_leniently,
    sqlite_sql,
)
from sdconsole.engine.stages.profile import STAGE

ORDERS: tuple[DateOrder, ...] = ("day-first", "month-first")
EXAMPLES = 5  # examples kept per kind of value
# What makes a column worth its trimmed values (see _with_trimmed): it could be the key.
KEY_ID_DISTINCT_SHARE = 0.5  # a column named like an id, even with many duplicates
KEY_MAX_LENGTH = 64

# Below this many cells one process scans everything: starting workers costs more.
PARALLEL_MIN_CELLS = 400_000
MAX_WORKERS = 4
JOBS_PER_WORKER = 3  # column groups per worker: smaller jobs let the workers end together
PASS_MEMORY = 80 * 2**20  # bytes the counts of one table pass may hold, estimated
VALUE_BYTES = 160  # what a distinct value costs in a count dict besides its characters
PASS_CHUNK = 256  # rows counted at a time: small chunks keep the counting in the CPU cache
PASS_CHECK = 16  # chunks between two looks at the pass's memory estimate


@dataclass(slots=True)
class _Day:
    """The date-like values of one column written with the same day fields."""

    kind: str  # the order evidence they give
    parts: tuple  # the real (y, m, d) in each of ORDERS, None where impossible
    rows: int = 0
    real: int = 0  # rows whose time of day is real too
    midnight: int = 0
    low: str | None = None  # earliest and latest real time of day
    high: str | None = None
    impossible_in: tuple[str, ...] = field(init=False)  # example keys of the orders it fails

    def __post_init__(self) -> None:
        self.impossible_in = tuple(
            "impossible/" + order
            for order, parts in zip(ORDERS, self.parts, strict=True)
            if parts is None
        )


@dataclass(slots=True)
class ColumnScan:
    """Counts of one column from its distinct values, each weighted by its number of rows."""

    rows: int = 0
    nulls: int = 0
    empties: int = 0
    placeholders: dict[str, int] = field(default_factory=dict)
    present: int = 0
    distinct: int = 0
    non_text: int = 0
    blobs: int = 0  # BLOB cells
    reals: int = 0  # REAL cells
    integers: int = 0  # INTEGER cells
    exact_integers: int = 0  # INTEGER cells a double holds exactly
    invalid_utf8: int = 0  # TEXT cells that are not UTF-8
    lossy: int = 0  # numbers a number type would not keep as written ('06897', '+44')
    beyond_bigint: int = 0  # integers outside bigint's range
    scale: int = 0  # most digits after the point of a number
    digits: int = 0  # most digits before the point of a number
    nul_bytes: int = 0
    whitespace: int = 0
    max_length: int = 0
    repeated_values: int = 0
    conform: Counter = field(default_factory=Counter)  # 'integer', 'timestamp/day-first'...
    flags: Counter = field(default_factory=Counter)  # flag words (lower-case), 0 and 1: rows
    timed: int = 0  # date-like cells with a time of day other than midnight
    clocked: int = 0  # date-like cells with a time of day written, midnight included
    evidence: Counter = field(default_factory=Counter)  # iso, day-first, month-first, ambiguous
    impossible: Counter = field(default_factory=Counter)  # per order
    examples: dict[str, list[str]] = field(default_factory=dict)
    low: dict[str, Any] = field(default_factory=dict)  # per type key: smallest value seen
    high: dict[str, Any] = field(default_factory=dict)
    days: dict[tuple, _Day] = field(default_factory=dict)  # date-like values until finish()
    # From the values as SQLite's trim(value, WHITESPACE) gives them (see _with_trimmed):
    trimmed: dict[str, int] | None = None  # of a column in a RELATION: rows per value
    duplicates: tuple[int, int, list[str]] | None = None  # could be the key: values, rows, examples
    words: frozenset[str] = ENGLISH_FLAG_WORDS  # every flag word (FlagWords.every)
    word_length: int = field(init=False)  # of the longest: a longer value is no flag word

    def __post_init__(self) -> None:
        self.word_length = max(map(len, self.words))

    @property
    def flag_words(self) -> int:
        """Cells that are flag words (not 0 or 1)."""
        return sum(self.flags.values()) - self.flags["0"] - self.flags["1"]

    def add(self, value: Any, count: int, null_tokens: frozenset[str]) -> None:
        """Account for one distinct raw value that occurs in ``count`` rows."""
        self.rows += count
        if value is None:
            self.nulls += count
            return
        if type(value) is str:
            text = value
        else:
            self.non_text += count
            if isinstance(value, bytes):
                self._binary(value, count)
                return
            if isinstance(value, float):
                self.reals += count
            else:
                self.integers += count
                self.exact_integers += count if abs(value) <= 2**53 else 0
            text = repr(value)
        if "\x00" in text:
            self.nul_bytes += count
            self._example("nul_bytes", value)
            text = text.replace("\x00", "")
        stripped = text.strip()
        if len(stripped) != len(text):
            self.whitespace += count
        if stripped in null_tokens and type(value) is str:  # as values.is_missing
            if stripped:
                self.placeholders[stripped] = self.placeholders.get(stripped, 0) + count
            else:
                self.empties += count
            return
        self.present += count
        self.distinct += 1
        if count > 1:
            self.repeated_values += 1
        if len(stripped) > self.max_length:
            self.max_length = len(stripped)
        if not self._typed(stripped, count):
            if len(self.examples.get("text", ())) < EXAMPLES:
                self._example("text", stripped)

    def _binary(self, value: bytes, count: int) -> None:
        """A BLOB, or a TEXT cell that is not UTF-8: present, of no type but bytea."""
        self.present += count
        self.distinct += 1
        if count > 1:
            self.repeated_values += 1
        if isinstance(value, InvalidText):
            self.invalid_utf8 += count
            self._example("invalid_utf8", "\\x" + value.hex()[:64])
        else:
            self.blobs += count
            self.max_length = max(self.max_length, len(value))

    def _typed(self, text: str, count: int) -> bool:
        """Count the types a present, trimmed value converts to; False when none."""
        if not text:  # empty, and '' is not a null token in these settings
            return False
        first = text[0]
        if first in "0+-" and lossy_number(text):
            self.lossy += count
            self._example("lossy", text)
            return False
        if text.isascii() and text.isdigit() and len(text) <= 18:  # ids: no regex needed
            self._integer(text, int(text), count)
            return True
        if text.isdigit():
            return self._converts("integer", to_integer, text, count) or self._converts(
                "numeric", to_numeric, text, count
            )
        if first.isdigit() and self._date(text, count):
            return True
        if first.isdigit() or first in "+-.":
            if ":" in text:
                return self._converts("time", to_time, text, count)
            return self._converts("integer", to_integer, text, count) or self._converts(
                "numeric", to_numeric, text, count
            )
        if len(text) <= self.word_length and (word := text.lower()) in self.words:
            self.conform["boolean"] += count
            self.flags[word] += count
            return True
        return False

    def _converts(self, kind: str, convert, text: str, count: int) -> bool:
        try:
            canonical = convert(text)
        except Unconvertible as exc:
            if kind == "integer" and str(exc) == "integer out of range":
                self.beyond_bigint += count
            return False
        if kind == "integer":
            self._integer(text, int(canonical), count)
            return True
        self.conform[kind] += count
        if kind == "numeric":
            whole, _, fraction = canonical.lstrip("-").partition(".")
            self.scale = max(self.scale, len(fraction))
            self.digits = max(self.digits, len(whole.lstrip("0")))
        self._range(kind, canonical if kind == "time" else Decimal(canonical))
        return True

    def _integer(self, text: str, number: int, count: int) -> None:
        """An integer is a numeric too, and a boolean when written 0 or 1."""
        self.conform["integer"] += count
        self.conform["numeric"] += count
        if text in ("0", "1"):
            self.conform["boolean"] += count
            self.flags[text] += count
        self.digits = max(self.digits, len(str(abs(number))) if number else 0)
        self._range("numeric", number)

    def _date(self, text: str, count: int) -> bool:
        """Count a date-like value: into its day's figures (see :meth:`finish`), and examples.

        Most values of a timestamp column are distinct, but their days are
        not: evidence, validity and ranges are worked out once per day.
        """
        fields = date_fields(text)
        if fields is None or fields.year_digits != 4:
            return False
        key = fields[:4]
        day = self.days.get(key)
        if day is None:
            day = self.days[key] = _Day(*_day_facts(*key))
        if len(self.examples.get(day.kind, ())) < EXAMPLES:
            self._example(day.kind, text)
        day.rows += count
        clock = fields.clock
        if clock is not None:
            self.clocked += count
        if clock is None or clock == "00:00:00":
            day.midnight += count
            clock = "00:00:00"
        else:
            self.timed += count
            if not real_clock(clock):
                for order in ORDERS:
                    self._example("impossible/" + order, text)
                return True
        day.real += count
        if day.low is None or clock < day.low:
            day.low = clock
        if day.high is None or clock > day.high:
            day.high = clock
        for impossible in day.impossible_in:
            if len(self.examples.get(impossible, ())) < EXAMPLES:
                self._example(impossible, text)
        return True

    def finish(self) -> None:
        """Fold the days of the date-like values into the column's figures (once, at the end)."""
        conform = self.conform
        for day in self.days.values():
            self.evidence[day.kind] += day.rows
            for order, parts in zip(ORDERS, day.parts, strict=True):
                impossible = day.rows if parts is None else day.rows - day.real
                if impossible:
                    self.impossible[order] += impossible
                if parts is None or not day.real:
                    continue
                conform["timestamp/" + order] += day.real
                if day.midnight:
                    conform["date/" + order] += day.midnight
                self._range(order, (*parts, day.low))
                self._range(order, (*parts, day.high))
        self.days.clear()

    def _range(self, key: str, value: Any) -> None:
        """Widen the range; of equal numbers written differently (0, 0.00) the shorter
        text wins, so the range does not depend on the order values come in."""
        low = self.low.get(key)
        if low is None or value < low or (value == low and str(value) < str(low)):
            self.low[key] = value
        high = self.high.get(key)
        if high is None or value > high or (value == high and str(value) < str(high)):
            self.high[key] = value

    def _example(self, key: str, value: Any) -> None:
        seen = self.examples.setdefault(key, [])
        if len(seen) < EXAMPLES:
            seen.append(value if isinstance(value, str) else repr(value))


@functools.lru_cache(maxsize=1 << 16)
def _day_facts(
    first: int, second: int, third: int, year_first: bool
) -> tuple[str, tuple[tuple[int, int, int] | None, ...]]:
    """Evidence of one written date, and its real (y, m, d) in each order (None: impossible)."""
    fields = DateFields(first, second, third, year_first, 4, None)
    days = tuple(parts if real_date(*parts) else None for parts in (ymd(fields, o) for o in ORDERS))
    return evidence(fields) or "impossible", days


Scans = dict[str, ColumnScan]
Reading = tuple[frozenset[str], frozenset[str]]  # what a value means: null tokens, flag words


def scan_columns(
    source: Path,
    table: str,
    columns: list[str],
    null_tokens: frozenset[str],
    words: frozenset[str],
    rows: int,
    related: frozenset[str] = frozenset(),
    *,
    parts: int = 0,
) -> tuple[Scans, list[tuple[str, int]]]:
    """Scan columns of one table in its own read-only connection (the worker-process entry).

    In one counting pass of the table's ``rows``; or with ``parts``, each
    column alone (see _alone: one part fits PASS_MEMORY). ``related`` are the columns in a RELATION;
    ``words`` every flag word. Returns the scans and the columns left out of
    the pass, each with the parts it needs (see _count_pass).
    """
    conn = open_source(source)
    try:
        if parts:
            return {
                column: _alone(conn, table, column, null_tokens, words, parts) for column in columns
            }, []
        return _count_pass(conn, table, columns, null_tokens, words, rows, related)
    finally:
        conn.close()


def _lenient_on_retry(scan: Callable) -> Callable:
    """Read again, leniently, when a TEXT cell that is not UTF-8 stopped the read."""

    @functools.wraps(scan)
    def scanning(conn, *args, **kwargs):
        try:
            return scan(conn, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not is_decode_error(exc) or conn.text_factory is not str:
                raise
            read_text_leniently(conn)
            return scan(conn, *args, **kwargs)

    return scanning


@_lenient_on_retry
def _count_pass(
    conn,
    table: str,
    columns: list[str],
    null_tokens: frozenset[str],
    words: frozenset[str],
    rows: int,
    related: frozenset[str],
) -> tuple[Scans, list[tuple[str, int]]]:
    """Count the values of every column in one read of the table.

    Every PASS_CHECK chunks, a column's memory is estimated as its distinct
    values times (VALUE_BYTES + the largest mean value size of the chunks
    looked at). While the estimate of all the counts passes PASS_MEMORY, the
    biggest column is dropped and returned with the parts of PASS_MEMORY it
    needs: its estimate grown to the table's rows, over PASS_MEMORY.
    """
    counts: dict[int, Counter] = {index: Counter() for index in range(len(columns))}
    sizes = [0] * len(columns)
    left: list[tuple[str, int]] = []
    cursor = conn.execute(
        sqlite_sql(
            sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
            )
        )
    )
    chunks = seen = 0
    while chunk := cursor.fetchmany(PASS_CHUNK):
        cells = list(zip(*chunk, strict=True))
        for index, counter in counts.items():
            counter.update(cells[index])
        seen += len(chunk)
        if chunks % PASS_CHECK == 0:
            for index, held in _within_memory(counts, sizes, cells).items():
                left.append(
                    (columns[index], -(-held * max(rows, seen) // seen // max(PASS_MEMORY, 1)))
                )
            if not counts:
                break
        chunks += 1
    scans = {
        columns[index]: _with_trimmed(
            _scanned(counter.items(), null_tokens, words), counter, columns[index] in related
        )
        for index, counter in counts.items()
    }
    return scans, left


def _scanned(
    counts: Iterable[tuple[Any, int]], null_tokens: frozenset[str], words: frozenset[str]
) -> ColumnScan:
    """The scan of a column from its (distinct value, rows) pairs."""
    scan = ColumnScan(words=words)
    for value, count in counts:
        scan.add(value, count, null_tokens)
    scan.finish()
    return scan


def _with_trimmed(scan: ColumnScan, counts: Counter, related: bool) -> ColumnScan:
    """Add what the key and the relations need from a counted column's trimmed values.

    The duplicates of a column that could be the key (every row present,
    half its values distinct, short), and the rows per value of a column in
    a RELATION, as SQLite's ``trim(value, WHITESPACE)`` groups them. Left
    None when a value is neither text nor an integer, whose text in SQLite
    may not be Python's; and for columns scanned alone. The profile then asks
    SQLite.
    """
    could_be_key = (
        scan.rows > 0
        and scan.present == scan.rows
        and scan.distinct >= KEY_ID_DISTINCT_SHARE * scan.rows
        and scan.max_length <= KEY_MAX_LENGTH
    )
    if not (related or could_be_key):
        return scan
    trimmed: dict[str, int] = {}
    for value, count in counts.items():
        if type(value) is str:
            value = value.strip(WHITESPACE)
        elif type(value) is int:
            value = str(value)
        elif value is not None:
            return scan
        else:
            continue  # trim(NULL) is NULL: neither a key nor a reference
        trimmed[value] = trimmed.get(value, 0) + count
    if related:
        scan.trimmed = trimmed
    if could_be_key:
        repeated = sorted(value for value, count in trimmed.items() if count > 1)
        scan.duplicates = (
            len(repeated),
            sum(trimmed[value] - 1 for value in repeated),
            repeated[:EXAMPLES],
        )
    return scan


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes)) else 8


def _within_memory(
    counts: dict[int, Counter], sizes: list[int], cells: list[tuple]
) -> dict[int, int]:
    """Drop the biggest counts until the estimate of them all is within PASS_MEMORY.

    ``sizes`` (per column, updated here) are the estimated bytes of a
    distinct value; ``cells`` is the chunk just counted, by column. Returns
    the dropped columns' estimates.
    """
    for index in counts:
        values = cells[index]
        sizes[index] = max(sizes[index], VALUE_BYTES + sum(map(_size, values)) // len(values))
    held = {index: len(counter) * sizes[index] for index, counter in counts.items()}
    dropped = {}
    while counts and sum(held.values()) > PASS_MEMORY:
        biggest = max(held, key=held.__getitem__)
        dropped[biggest] = held.pop(biggest)
        del counts[biggest]
    return dropped


@_lenient_on_retry
def _alone(
    conn, table: str, column: str, null_tokens: frozenset[str], words: frozenset[str], parts: int
) -> ColumnScan:
    """Scan one column left out of a counting pass.

    Counted in one read of its own when it needs one part (PASS_MEMORY on its
    own); else with SQLite's GROUP BY, which sorts but holds nothing. (Reading
    it once per part, counting the values that hash into that part, measured
    slower than the sort: hashing each value in Python costs more.)
    """
    if parts <= 1:
        counts: Counter = Counter()
        cursor = conn.execute(
            sqlite_sql(
                sql.SQL("SELECT {} FROM {}").format(sql.Identifier(column), sql.Identifier(table))
            )
        )
        while chunk := cursor.fetchmany(PASS_CHUNK * PASS_CHECK):
            counts.update(value for (value,) in chunk)
        return _scanned(counts.items(), null_tokens, words)
    return _scanned(
        conn.execute(
            sqlite_sql(
                sql.SQL("SELECT {col}, count(*) FROM {table} GROUP BY {col} COLLATE BINARY").format(
                    col=sql.Identifier(column), table=sql.Identifier(table)
                )
            )
        ),
        null_tokens,
        words,
    )


def scan_all(
    run: Run,
    conn,
    source: Path,
    shapes,
    reading: Reading,
    workers: int | None,
    meanwhile: Callable[[], Any],
    related: dict[str, frozenset[str]],
) -> tuple[dict, Any]:
    """Scan every column (here, or in worker processes that open the source themselves),
    reporting progress per table as its columns finish.

    Returns the scans by (table, column) and the result of ``meanwhile``, the
    rest of the reading, which runs here while the workers scan. ``related``
    names each table's columns in a RELATION.
    """
    cells = sum(rows * len(columns) for _, columns, rows in shapes)
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if cells >= PARALLEL_MIN_CELLS else 1
    jobs = _jobs(shapes, max(1, cells // (JOBS_PER_WORKER * workers)) if workers > 1 else 0)
    widths = {table: len(columns) for table, columns, _ in shapes}
    done: Counter = Counter()
    scans: dict[tuple[str, str], ColumnScan] = {}
    for table, width in widths.items():
        run.progress(STAGE, table, 0, width, unit="columns")

    def finished(table: str, found: Scans) -> None:
        for column, scan in found.items():
            scans[(table, column)] = scan
        done[table] += len(found)
        run.progress(STAGE, table, done[table], widths[table], unit="columns")

    also: list = []
    if workers > 1:
        try:
            _scan_in_workers(
                workers, source, jobs, reading, related, finished, lambda: also.append(meanwhile())
            )
        except BrokenProcessPool:
            pass  # the workers could not run (say, an unguarded __main__): scan here instead
    for table, columns, rows in shapes:
        missing = [c for c, _ in columns if (table, c) not in scans]
        if missing:
            found, left = _count_pass(
                conn, table, missing, *reading, rows, related.get(table, frozenset())
            )
            finished(table, found)
            for column, parts in left:
                finished(table, {column: _alone(conn, table, column, *reading, parts)})
    return scans, also[0] if also else meanwhile()


def _jobs(shapes, cells: int) -> list[tuple[str, list[str], int]]:
    """(table, columns, rows): each table's columns in groups of about ``cells`` cells
    (0: whole tables), biggest first, so that the workers end about together."""
    jobs = []
    for table, columns, rows in shapes:
        group: list[str] = []
        for column, _ in columns:
            group.append(column)
            if cells and rows * len(group) >= cells:
                jobs.append((table, group, rows))
                group = []
        if group:
            jobs.append((table, group, rows))
    return sorted(jobs, key=lambda job: -job[2] * len(job[1]))


def _scan_in_workers(
    workers: int,
    source: Path,
    jobs,
    reading: Reading,
    related: dict[str, frozenset[str]],
    finished,
    meanwhile: Callable[[], None],
) -> None:
    """One counting pass per table in the workers, then the columns the passes left out."""
    with concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=processes.context(),
        initializer=processes.worker_start,
        initargs=(os.getpid(),),
    ) as pool:
        pending = {
            pool.submit(
                scan_columns,
                source,
                table,
                columns,
                *reading,
                rows,
                related.get(table, frozenset()),
            ): table
            for table, columns, rows in jobs
        }
        try:
            meanwhile()  # the workers are forked by now: starting threads is safe again
            while pending:
                ready, _ = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in ready:
                    table = pending.pop(future)
                    found, left = future.result()
                    finished(table, found)
                    for column, parts in left:
                        pending[
                            pool.submit(
                                scan_columns, source, table, [column], *reading, 0, parts=parts
                            )
                        ] = table
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
