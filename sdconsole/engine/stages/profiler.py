"""Profile the source: what every column holds, what it should become, and a quality score.

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

Inference rules (the shared value rules are in :mod:`sdconsole.engine.rules.values`):

* A value is NUL-stripped and trimmed first, as the cleaner will. NULL,
  and values equal to a placeholder token (settings ``null_tokens``,
  ``''`` counting as *empty*) are missing; the rest are *present*.
* Confidence of a type = present cells that convert to it / present cells.
  The first type in the order boolean, integer, numeric, date, timestamp,
  time whose confidence reaches ``type_confidence`` wins; otherwise the
  column stays text, and is flagged when a type still had the majority.
* No lossy type: a value whose number spelling a number type would not keep
  (a leading zero ``06897``, a leading ``+``) keeps the column text, flagged
  with the reason; an integer beyond bigint makes it numeric, not integer.
* Every storage class has a home: a column whose present values are all
  BLOBs is bytea; one of REALs (and integers a double holds exactly), not
  declared NUMERIC/DECIMAL, is real (double precision). A BLOB anywhere else
  is a reject, never text; a TEXT cell that is not UTF-8 is read as bytes
  (the count pass starts again reading leniently) and is a reject.
* The declared type is a strong prior: declared NUMERIC(p,s) keeps p and s
  when every value fits; a declared BOOLEAN of 0 and 1 is boolean. Every
  departure from the declared type is listed (``departure``) with its reason.
* Flags: boolean competes when a value is a flag word (English Yes/No/true/N...
  in any letter case, and the pairs of setting ``flag_words`` such as
  sim/não), or when the column is a known ServiceDesk flag (KNOWN_FLAGS, by
  identifier: ``TKT-SLA Met``, ``TKT-Reopened``, ``CT-VISIBLE-CUSTOMER``; the
  dashboards read them as flags) whose numbers are all 0 or 1. A column of
  only 1 and 0 with another name stays integer, because ids, counts and
  amounts look the same; ``type_overrides`` turns it into a boolean. Each
  such decision and its evidence (the spellings and their counts) is the
  column's ``flag_evidence``; the ``flag_words`` a column holds go to its plan.
* Date is chosen over timestamp only when no value writes a time of day
  (``00:00`` included: the time written is kept); fractions of a second are kept.
* Date order comes from evidence: a first field over 12 proves day-first, a
  second field over 12 proves month-first. Only ambiguous values: the
  ``date_order`` setting is used and the column is flagged. Both kinds of
  proof: the column stays text and is flagged "contradicting date order" --
  never guessed. ``date_order_overrides`` decides instead of the evidence.
* Declared keys win: the declared primary key (also composite), UNIQUE
  constraints and foreign keys go to the plan as declared; a WITHOUT ROWID
  table's rows are numbered in its key's order. Only a table that declares
  no primary key gets one inferred, marked ``key_inferred``:
* A key candidate has a value in every row (a column named like an id: in
  some rows; its gaps are then charged as missing values of the key), is
  integer or short text (<= 64 characters), and has at least 99% distinct
  present values (50% when it is named like an id, so that heavy
  duplication still counts against uniqueness).
  The table's key is the candidate named like an id with the most distinct
  values, else the one with the most distinct values. Its duplicates are
  counted on trimmed values; the plan's primary key is the key only when it
  has none. (A column's own ``distinct`` counts distinct raw values.)
* The table's date column (canary strata, indexes) is the first date or
  timestamp column named like "created", else the first timestamp, else the
  first date.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeGuard

from psycopg import sql

from sdconsole.engine.records.plan import ColumnPlan, ForeignKeyPlan, Plan, TablePlan
from sdconsole.engine.records.profile import (
    ColumnProfile,
    DateEvidence,
    Profile,
    RelationProfile,
    TableProfile,
)
from sdconsole.engine.rules.naming import normalise_all
from sdconsole.engine.rules.values import (
    ENGLISH_FLAG_WORDS,
    WHITESPACE,
    DateFields,
    DateOrder,
    FlagWords,
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
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime import processes
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.runtime.run import Run, write_json
from sdconsole.engine.source.sqlite import (
    DeclaredForeignKey,
    InvalidText,
    declared_schema,
    is_decode_error,
    list_columns,
    list_tables,
    open_source,
    read_text_leniently,
    row_count,
    sha256_file,
    sqlite_sql,
)
from sdconsole.engine.stages import quality
from sdconsole.settings import Settings

STAGE = "profile"
ORDERS: tuple[DateOrder, ...] = ("day-first", "month-first")
PREFERENCE = ("boolean", "integer", "numeric", "date", "timestamp", "time")
DATE_TYPES = frozenset({"date", "timestamp"})
# ServiceDesk flags the dashboards read as booleans, by identifier (names match in any case).
KNOWN_FLAGS = frozenset({"tkt_sla_met", "tkt_reopened", "ct_visible_customer"})
EXAMPLES = 5
KEY_DISTINCT_SHARE = 0.99
KEY_ID_DISTINCT_SHARE = 0.5  # a column named like an id, even with many duplicates
KEY_MAX_LENGTH = 64
MAJORITY = 0.5

# ServiceDesk relations checked for orphans: (child table, column, parent table, column).
# Names match case-insensitively; a relation whose tables or columns are absent is skipped.
RELATIONS = (
    ("comments", "CT-TKT-ID", "tickets", "TKT-Ticket ID"),
    ("timesheets", "TS-Crm ID", "tickets", "TKT-Ticket ID"),
)

# Below this many cells one process scans everything: starting workers costs more.
PARALLEL_MIN_CELLS = 400_000
MAX_WORKERS = 4
JOBS_PER_WORKER = 3  # column groups per worker: smaller jobs let the workers end together
PASS_MEMORY = 80 * 2**20  # bytes the counts of one table pass may hold, estimated
VALUE_BYTES = 160  # what a distinct value costs in a count dict besides its characters
PASS_CHUNK = 256  # rows counted at a time: small chunks keep the counting in the CPU cache
PASS_CHECK = 16  # chunks between two looks at the pass's memory estimate


# -- scanning: counts from the distinct values of one column -------------------------------


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
        self.impossible_in = tuple("impossible/" + order for order, parts
                                   in zip(ORDERS, self.parts, strict=True) if parts is None)


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
                "numeric", to_numeric, text, count)
        if first.isdigit() and self._date(text, count):
            return True
        if first.isdigit() or first in "+-.":
            if ":" in text:
                return self._converts("time", to_time, text, count)
            return self._converts("integer", to_integer, text, count) or self._converts(
                "numeric", to_numeric, text, count)
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
def _day_facts(first: int, second: int, third: int,
               year_first: bool) -> tuple[str, tuple[tuple[int, int, int] | None, ...]]:
    """Evidence of one written date, and its real (y, m, d) in each order (None: impossible)."""
    fields = DateFields(first, second, third, year_first, 4, None)
    days = tuple(
        parts if real_date(*parts) else None for parts in (ymd(fields, o) for o in ORDERS)
    )
    return evidence(fields) or "impossible", days


Scans = dict[str, ColumnScan]
Reading = tuple[frozenset[str], frozenset[str]]  # what a value means: null tokens, flag words


def scan_columns(source: Path, table: str, columns: list[str], null_tokens: frozenset[str],
                 words: frozenset[str], rows: int, related: frozenset[str] = frozenset(), *,
                 parts: int = 0) -> tuple[Scans, list[tuple[str, int]]]:
    """Scan columns of one table in its own read-only connection (the worker-process entry).

    In one counting pass of the table's ``rows``; or with ``parts``, each
    column alone (see _alone: one part fits PASS_MEMORY). ``related`` are the columns in a RELATION;
    ``words`` every flag word. Returns the scans and the columns left out of
    the pass, each with the parts it needs (see _count_pass).
    """
    conn = open_source(source)
    try:
        if parts:
            return {column: _alone(conn, table, column, null_tokens, words, parts)
                    for column in columns}, []
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
def _count_pass(conn, table: str, columns: list[str], null_tokens: frozenset[str],
                words: frozenset[str], rows: int,
                related: frozenset[str]) -> tuple[Scans, list[tuple[str, int]]]:
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
    cursor = conn.execute(sqlite_sql(sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table))))
    chunks = seen = 0
    while chunk := cursor.fetchmany(PASS_CHUNK):
        cells = list(zip(*chunk, strict=True))
        for index, counter in counts.items():
            counter.update(cells[index])
        seen += len(chunk)
        if chunks % PASS_CHECK == 0:
            for index, held in _within_memory(counts, sizes, cells).items():
                left.append((columns[index],
                             -(-held * max(rows, seen) // seen // max(PASS_MEMORY, 1))))
            if not counts:
                break
        chunks += 1
    scans = {columns[index]: _with_trimmed(_scanned(counter.items(), null_tokens, words),
                                           counter, columns[index] in related)
             for index, counter in counts.items()}
    return scans, left


def _scanned(counts: Iterable[tuple[Any, int]], null_tokens: frozenset[str],
             words: frozenset[str]) -> ColumnScan:
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
    could_be_key = (scan.rows > 0 and scan.present == scan.rows
                    and scan.distinct >= KEY_ID_DISTINCT_SHARE * scan.rows
                    and scan.max_length <= KEY_MAX_LENGTH)
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
        scan.duplicates = (len(repeated), sum(trimmed[value] - 1 for value in repeated),
                           repeated[:EXAMPLES])
    return scan


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes)) else 8


def _within_memory(counts: dict[int, Counter], sizes: list[int],
                   cells: list[tuple]) -> dict[int, int]:
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
def _alone(conn, table: str, column: str, null_tokens: frozenset[str], words: frozenset[str],
           parts: int) -> ColumnScan:
    """Scan one column left out of a counting pass.

    Counted in one read of its own when it needs one part (PASS_MEMORY on its
    own); else with SQLite's GROUP BY, which sorts but holds nothing. (Reading
    it once per part, counting the values that hash into that part, measured
    slower than the sort: hashing each value in Python costs more.)
    """
    if parts <= 1:
        counts: Counter = Counter()
        cursor = conn.execute(sqlite_sql(sql.SQL("SELECT {} FROM {}").format(
            sql.Identifier(column), sql.Identifier(table))))
        while chunk := cursor.fetchmany(PASS_CHUNK * PASS_CHECK):
            counts.update(value for (value,) in chunk)
        return _scanned(counts.items(), null_tokens, words)
    return _scanned(conn.execute(sqlite_sql(
        sql.SQL("SELECT {col}, count(*) FROM {table} GROUP BY {col} COLLATE BINARY").format(
            col=sql.Identifier(column), table=sql.Identifier(table)))), null_tokens, words)


# -- the stage --------------------------------------------------------------------------


def profile(run: Run, settings: Settings, source: Path, *, workers: int | None = None) -> Profile:
    """Profile ``source`` read-only; write ``profile.json`` and ``plan.json`` to the run dir.

    ``workers`` processes scan columns (default: one per core, up to 4, for
    sources of more than PARALLEL_MIN_CELLS cells; 1 runs in this process).
    """
    source = Path(source)
    with run.stage(STAGE, str(source)) as summary:
        started = time.monotonic()
        conn = open_source(source)
        read_text_leniently(conn)  # its own reads are few: keys, orphans, a small source
        try:
            shapes = [(t, list_columns(conn, t), row_count(conn, t)) for t in list_tables(conn)]
            relations = _relations(settings, shapes)
            flag_words = FlagWords.parse(settings.flag_words)
            scans, digest = _scan_all(
                run, conn, source, shapes, (frozenset(settings.null_tokens), flag_words.every),
                workers, lambda: sha256_file(source), _related(relations))
            overrides = _Overrides(settings)
            tables = _tables(conn, settings, shapes, scans, overrides, flag_words)
            for relation in relations:
                _count_orphans(conn, relation, scans, settings.null_tokens)
            relations = _with_references(relations, tables)
            relations += _declared_relations(conn, tables, relations, settings)
        except sqlite3.DatabaseError as exc:  # a damaged file, found while reading it
            raise BadInput(f"source {source} cannot be read: {exc}") from None
        finally:
            conn.close()
        plan = _plan(tables)
        for key in overrides.unmatched():
            table_name, _, column_name = key.partition(".")
            run.emit(ev.Finding(stage=STAGE, table=table_name, column=column_name,
                                dimension="review",
                                message=f"override {key!r} matches no column in the source"))
        score = quality.score(tables, relations, settings)
        for dimension, part in score.dimensions.items():
            for finding in part.findings:
                run.emit(ev.Finding(stage=STAGE, table=finding.table, column=finding.column,
                                    dimension=dimension, message=finding.message,
                                    count=finding.count, examples=tuple(finding.examples)))
        for table in tables:
            for column in table.columns:
                if column.flagged:
                    run.emit(ev.Finding(stage=STAGE, table=table.name, column=column.name,
                                        dimension="review", message=column.flagged))
        result = Profile(str(source), digest, tables, relations, score, plan,
                         round(time.monotonic() - started, 3))
        write_json(run.dir / "profile.json", result.to_dict())
        plan.save(run.dir / "plan.json")
        summary.update(tables=len(tables), rows=sum(t.rows for t in tables),
                       score=score.total,
                       flagged=sum(1 for t in tables for c in t.columns if c.flagged))
    return result


def _scan_all(run: Run, conn, source: Path, shapes, reading: Reading,
              workers: int | None, meanwhile: Callable[[], Any],
              related: dict[str, frozenset[str]]) -> tuple[dict, Any]:
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
            _scan_in_workers(workers, source, jobs, reading, related, finished,
                             lambda: also.append(meanwhile()))
        except BrokenProcessPool:
            pass  # the workers could not run (say, an unguarded __main__): scan here instead
    for table, columns, rows in shapes:
        missing = [c for c, _ in columns if (table, c) not in scans]
        if missing:
            found, left = _count_pass(conn, table, missing, *reading, rows,
                                      related.get(table, frozenset()))
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


def _scan_in_workers(workers: int, source: Path, jobs, reading: Reading,
                     related: dict[str, frozenset[str]], finished,
                     meanwhile: Callable[[], None]) -> None:
    """One counting pass per table in the workers, then the columns the passes left out."""
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=processes.context(),
                                                initializer=processes.worker_start) as pool:
        pending = {pool.submit(scan_columns, source, table, columns, *reading, rows,
                               related.get(table, frozenset())): table
                   for table, columns, rows in jobs}
        try:
            meanwhile()  # the workers are forked by now: starting threads is safe again
            while pending:
                ready, _ = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in ready:
                    table = pending.pop(future)
                    found, left = future.result()
                    finished(table, found)
                    for column, parts in left:
                        pending[pool.submit(scan_columns, source, table, [column], *reading,
                                            0, parts=parts)] = table
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


class _Overrides:
    """The operator's ``table.column`` overrides, matched by source name or identifier."""

    def __init__(self, settings: Settings) -> None:
        self.types = settings.type_overrides
        self.orders = settings.date_order_overrides
        self.used: set[str] = set()

    def find(self, mapping: Mapping[str, str], table: TableProfile, name: str,
             ident: str) -> str | None:
        for key, value in mapping.items():
            table_key, _, column_key = key.partition(".")
            if table_key in (table.name, table.ident) and column_key in (name, ident):
                self.used.add(key)
                return value
        return None

    def unmatched(self) -> list[str]:
        return [key for key in (*self.types, *self.orders) if key not in self.used]


def _tables(conn, settings: Settings, shapes, scans, overrides: _Overrides,
            flag_words: FlagWords) -> list[TableProfile]:
    idents = normalise_all([t for t, _, _ in shapes])
    tables = []
    for name, columns, rows in shapes:
        table = TableProfile(name, idents[name], rows, declared=declared_schema(conn, name))
        column_idents = normalise_all([c for c, _ in columns])
        for column, declared in columns:
            ident = column_idents[column]
            scan = scans[(name, column)]
            table.columns.append(_column(
                column, declared, ident, scan, settings,
                overrides.find(overrides.types, table, column, ident),
                overrides.find(overrides.orders, table, column, ident)))
            _flags(table.columns[-1], scan, flag_words)
        _choose_key(conn, table, scans)
        table.date_column = _date_column(table.columns)
        tables.append(table)
    return tables


def _column(name: str, declared: str, ident: str, scan: ColumnScan, settings: Settings,
            type_override: str | None, order_override: str | None) -> ColumnProfile:
    """Decide a column's date order and type from its scan; overrides win over evidence."""
    dates = _date_evidence(scan, order_override, settings.date_order)
    order = dates.decision if _is_order(dates.decision) else settings.date_order
    shares = _shares(scan, None if dates.decision == "contradicting" else order,
                     ident in KNOWN_FLAGS)
    inferred = _stored_type(scan, declared) or next(
        (t for t in PREFERENCE if shares.get(t, 0.0) >= settings.type_confidence), "text")
    if inferred == "integer" and _DECLARED_BOOLEAN.search(declared) and (
            scan.conform["boolean"] == scan.present):
        inferred = "boolean"
    column = ColumnProfile(
        name=name, ident=ident, declared_type=declared, inferred_type=inferred, type=inferred,
        confidence=round(shares.get(inferred, 1.0), 4), date_order=order,
        rows=scan.rows, nulls=scan.nulls, empties=scan.empties,
        placeholders=dict(sorted(scan.placeholders.items())), present=scan.present,
        distinct=scan.distinct, max_length=scan.max_length, nul_bytes=scan.nul_bytes,
        whitespace=scan.whitespace, non_text=scan.non_text,
        repeated_values=scan.repeated_values, blobs=scan.blobs,
        invalid_utf8=scan.invalid_utf8, lossy=scan.lossy,
    )
    date_like = sum(scan.evidence.values()) >= MAJORITY * scan.present > 0
    if inferred in DATE_TYPES or date_like:
        column.date_evidence = dates
        if dates.decision == "contradicting" or inferred in DATE_TYPES:
            column.flagged = dates.reason
    if inferred == "text" and scan.lossy and not column.flagged:
        example = scan.examples["lossy"][0]
        column.flagged = (f"{scan.lossy:,} values such as {example!r} are numbers a number"
                          f" type would not keep as written ({lossy_number(example)}):"
                          " kept as text")
    elif inferred == "text" and not column.flagged and scan.present:
        best = max(PREFERENCE, key=lambda t: shares.get(t, 0.0))
        if shares.get(best, 0.0) >= MAJORITY:
            column.candidate = best
            column.flagged = (f"only {shares[best]:.1%} of values are {best}"
                              f" (threshold {settings.type_confidence:.0%}): kept as text")
    if type_override:
        column.type, column.flagged, column.candidate = type_override, "", None
    if column.type == "numeric":
        _declared_precision(column, scan)
    column.departure = _departure(column, declared, shares)
    _validity(column, scan)
    _range(column, scan)
    return column


_DECLARED_BOOLEAN = re.compile(r"BOOL", re.I)
_DECLARED_DECIMAL = re.compile(r"DEC|NUMERIC|MONEY", re.I)
_DECLARED_PRECISION = re.compile(r"(?:DECIMAL|NUMERIC|DEC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)",
                                 re.I)
# What each declared type name (by SQLite's substring rules) leads one to expect.
_DECLARED_FAMILIES = (
    (re.compile(r"BOOL", re.I), {"boolean", "integer"}),
    (re.compile(r"INT", re.I), {"integer"}),
    (re.compile(r"DATE|TIME", re.I), {"date", "timestamp", "time"}),
    (re.compile(r"CHAR|CLOB|TEXT", re.I), {"text"}),
    (re.compile(r"BLOB|BINARY", re.I), {"bytea"}),
    (re.compile(r"REAL|FLOA|DOUB", re.I), {"real"}),
    (re.compile(r"DEC|NUM|MONEY", re.I), {"numeric", "integer"}),
)


def _stored_type(scan: ColumnScan, declared: str) -> str | None:
    """bytea for a column of BLOBs; real for one of REALs (not declared NUMERIC/DECIMAL)."""
    if not scan.present:
        return None
    if scan.blobs == scan.present:
        return "bytea"
    if (scan.reals and scan.reals + scan.exact_integers == scan.present
            and not _DECLARED_DECIMAL.search(declared)):
        return "real"
    return None


def _declared_precision(column: ColumnProfile, scan: ColumnScan) -> None:
    """Keep a declared NUMERIC(p,s) when every value fits it."""
    declared = _DECLARED_PRECISION.search(column.declared_type)
    if declared is None:
        return
    precision, scale = int(declared.group(1)), int(declared.group(2) or 0)
    if scan.scale <= scale and scan.digits <= precision - scale and precision <= 1000:
        column.precision, column.scale = precision, scale
    else:
        column.note = (f"values do not fit the declared {column.declared_type} (up to"
                       f" {scan.digits} digits before and {scan.scale} after the point):"
                       " loaded as numeric")


def _departure(column: ColumnProfile, declared: str, shares: dict[str, float]) -> str:
    """Why the type is not what the declared type leads one to expect ('' when it is)."""
    expected = next((types for pattern, types in _DECLARED_FAMILIES if pattern.search(declared)),
                    None)
    if not declared or expected is None or column.type in expected:
        return ""
    if column.type == column.inferred_type != "text":
        share = shares.get(column.type)
        why = ("every value is stored as " + ("BLOB" if column.type == "bytea" else "REAL")
               if share is None else f"{share:.1%} of {column.present:,} values are"
                                     f" {column.type}")
    elif column.type != column.inferred_type:
        why = "type override"
    else:
        why = column.flagged or "its values are of no one type"
    return f"declared {declared}, loaded as {column.type}: {why}"


def _shares(scan: ColumnScan, order: str | None, known_flag: bool) -> dict[str, float]:
    """Share of present cells converting to each type (dates only with a usable order;
    boolean only with a flag word, or for a known flag whose numbers are all 0 or 1)."""
    if not scan.present:
        return {}
    conform = {
        "integer": scan.conform["integer"],
        "numeric": scan.conform["numeric"],
        "time": scan.conform["time"],
    }
    if scan.lossy:  # a number type would drop a leading zero or '+'
        del conform["integer"], conform["numeric"]
    elif scan.beyond_bigint:
        del conform["integer"]
    if scan.flag_words or (known_flag and not _other_numbers(scan)):
        conform["boolean"] = scan.conform["boolean"]
    if order is not None:
        conform["timestamp"] = scan.conform["timestamp/" + order]
        if not scan.clocked:
            conform["date"] = scan.conform["date/" + order]
    return {t: n / scan.present for t, n in conform.items()}


def _other_numbers(scan: ColumnScan) -> int:
    """Cells that are numbers other than 0 and 1 (a count, not a flag)."""
    return scan.conform["numeric"] - scan.flags["0"] - scan.flags["1"]


def _flags(column: ColumnProfile, scan: ColumnScan, flag_words: FlagWords) -> None:
    """The column's words of setting flag_words, and its ``flag_evidence``: why it is a
    flag, or why not when it holds only 0 and 1 or is a known flag."""
    column.true_words = sorted(w for w in scan.flags if w in flag_words.true)
    column.false_words = sorted(w for w in scan.flags if w in flag_words.false)
    known = column.ident in KNOWN_FLAGS
    zeros_ones = scan.flags["0"] + scan.flags["1"]
    only_01 = scan.present > 0 and zeros_ones == scan.present
    spelt = ", ".join(f"{word} {rows:,}" for word, rows in
                      sorted(scan.flags.items(), key=lambda item: (-item[1], item[0])))
    flag = f"{column.ident} is a ServiceDesk flag the dashboards read"
    if column.inferred_type == "boolean":
        if scan.flag_words:
            why = (f"its values are flag words{' and 0/1' if zeros_ones else ''} ({spelt})"
                   + (f", and {flag}" if known else ""))
        elif known:
            why = f"{flag}, and its values are 0 and 1 ({spelt})"
        else:
            why = f"declared {column.declared_type}, and its values are 0 and 1 ({spelt})"
        column.flag_evidence = "a flag: " + why
    elif known:
        what = (f"{scan.present - scan.conform['boolean']:,} of its {scan.present:,} values"
                " are neither flag words nor 0/1" if scan.present else "it holds no values")
        column.flag_evidence = (f"not a flag: {column.ident} is a ServiceDesk flag, but {what}:"
                                f" kept as {column.inferred_type}")
    elif only_01 and column.inferred_type == "integer":
        column.flag_evidence = (f"not a flag: only 0 and 1 ({spelt}), but no known flag (ids"
                                " and counts look the same): kept as integer; a type override"
                                " to boolean makes it one")


def _is_order(decision: str) -> TypeGuard[DateOrder]:
    """Whether a date evidence decision is an order (not 'contradicting')."""
    return decision in ORDERS


def _date_evidence(scan: ColumnScan, override: str | None, default: str) -> DateEvidence:
    ev_ = scan.evidence
    dates = DateEvidence(
        iso=ev_["iso"], day_first=ev_["day-first"], month_first=ev_["month-first"],
        ambiguous=ev_["ambiguous"],
        examples={k: scan.examples[k] for k in ("iso", "day-first", "month-first", "ambiguous",
                                                "impossible") if k in scan.examples},
    )
    if override:
        dates.decision, dates.reason = override, ""
    elif dates.day_first and dates.month_first:
        dates.decision = "contradicting"
        dates.reason = (
            f"contradicting date order: {dates.day_first:,} values prove day-first"
            f" (e.g. {dates.examples['day-first'][0]!r}) and {dates.month_first:,} prove"
            f" month-first (e.g. {dates.examples['month-first'][0]!r}); kept as text"
        )
    elif dates.day_first or dates.month_first:
        dates.decision = "day-first" if dates.day_first else "month-first"
    else:
        dates.decision = default
        if dates.ambiguous:
            dates.reason = (f"all {dates.ambiguous:,} dates are ambiguous (day and month"
                            f" both <= 12): read as {default} (setting date_order)")
    if dates.decision in ORDERS:
        dates.impossible = scan.impossible[dates.decision]
        dates.examples["impossible"] = scan.examples.get("impossible/" + dates.decision, [])
    return dates


def _validity(column: ColumnProfile, scan: ColumnScan) -> None:
    """Present cells that will not convert to the planned type (or the flagged candidate)."""
    kind = column.type if column.type != "text" else column.candidate
    if kind is None or kind == "text" or not scan.present:
        binary = scan.blobs + scan.invalid_utf8 if column.type == "text" else 0
        if binary:  # BLOBs and text that is not UTF-8 in a text column: rejects
            column.invalid = binary
            column.invalid_examples = scan.examples.get("invalid_utf8", [])[:EXAMPLES]
        return
    if kind in ("bytea", "real"):
        column.invalid = scan.present - (scan.blobs if kind == "bytea"
                                         else scan.reals + scan.exact_integers)
        column.invalid_examples = scan.examples.get("text", [])[:EXAMPLES]
        return
    if kind in DATE_TYPES:
        converting = scan.conform[f"{kind}/{column.date_order}"]
        examples = scan.examples.get("impossible/" + column.date_order, [])
    else:
        converting = scan.conform[kind]
        examples = []
    column.invalid = scan.present - converting
    if column.invalid:
        column.invalid_examples = (examples + scan.examples.get("text", []))[:EXAMPLES]


def _range(column: ColumnProfile, scan: ColumnScan) -> None:
    if column.type in ("integer", "numeric"):
        low, high = scan.low.get("numeric"), scan.high.get("numeric")
        fmt: Callable[[Any], str] = str
    elif column.type in DATE_TYPES:
        low, high = scan.low.get(column.date_order), scan.high.get(column.date_order)

        def day_text(v: Any) -> str:
            day = f"{v[0]:04d}-{v[1]:02d}-{v[2]:02d}"
            return day if column.type == "date" else f"{day} {v[3]}"
        fmt = day_text
    elif column.type == "time":
        low, high, fmt = scan.low.get("time"), scan.high.get("time"), str
    else:
        return
    if low is not None:
        column.min, column.max = fmt(low), fmt(high)


_ID_NAME = re.compile(r"(^|_)id($|_)")


def _choose_key(conn, table: TableProfile, scans: dict) -> None:
    """Mark key candidates, choose the table's key and count its duplicated (trimmed) values:
    from its scan when it has them, else in SQLite. A declared single-column primary
    key is the key, its values unique as SQLite enforces them."""
    declared = table.declared.primary_key
    if declared:
        table.key = declared[0] if len(declared) == 1 else None
        return
    candidates: list[tuple[bool, int, int, ColumnProfile]] = []
    for column in table.columns:
        id_named = bool(_ID_NAME.search(column.ident))
        share = KEY_ID_DISTINCT_SHARE if id_named else KEY_DISTINCT_SHARE
        # A column named like an id is the key even with gaps (which then cost points as
        # missing values of a required column); other candidates have a value in every row.
        column.key_candidate = (
            table.rows > 0
            and (column.present == table.rows or (id_named and column.present > 0))
            and column.distinct >= share * column.present
            and (column.type == "integer"
                 or (column.type == "text" and column.max_length <= KEY_MAX_LENGTH))
        )
        if column.key_candidate:
            candidates.append((id_named, column.distinct, -len(candidates), column))
    if not candidates:
        return
    key = max(candidates, key=lambda c: c[:3])[3]
    table.key = key.name
    found = scans[(table.name, key.name)].duplicates
    if found is None:
        repeated = conn.execute(sqlite_sql(sql.SQL(
            "SELECT v, count(*) FROM (SELECT trim({}, ?) AS v FROM {})"
            " GROUP BY v HAVING count(*) > 1").format(
                sql.Identifier(key.name), sql.Identifier(table.name))),
            (WHITESPACE,)).fetchall()
        found = (len(repeated), sum(count - 1 for _, count in repeated),
                 [str(value) for value, _ in repeated[:EXAMPLES]])
    table.duplicate_keys, table.duplicate_rows, table.duplicate_examples = found


def _date_column(columns: list[ColumnProfile]) -> str | None:
    dated = [c for c in columns if c.type in DATE_TYPES]
    created = [c for c in dated if "created" in c.ident]
    ranked = created or [c for c in dated if c.type == "timestamp"] or dated
    return ranked[0].name if ranked else None


def _relations(settings: Settings, shapes) -> list[RelationProfile]:
    """The RELATIONS the source has (orphans are counted later).

    Names match case-insensitively, as SQLite matches them.
    """
    names = {t.lower(): (t, {c.lower(): c for c, _ in columns}) for t, columns, _ in shapes}
    expected = {key.lower() for key in settings.expected_orphans}
    found = []
    for child_t, child_c, parent_t, parent_c in RELATIONS:
        child, child_cols = names.get(child_t, (None, {}))
        parent, parent_cols = names.get(parent_t, (None, {}))
        child_col, parent_col = child_cols.get(child_c.lower()), parent_cols.get(
            parent_c.lower())
        if child_col is None or parent_col is None:
            continue
        relation = RelationProfile(child, child_col, parent, parent_col)
        relation.expected = relation.key.lower() in expected
        found.append(relation)
    return found


def _related(relations: list[RelationProfile]) -> dict[str, frozenset[str]]:
    """Per table, its columns in a relation (whose scans keep their trimmed values)."""
    related: dict[str, set[str]] = {}
    for r in relations:
        related.setdefault(r.child_table, set()).add(r.child_column)
        related.setdefault(r.parent_table, set()).add(r.parent_column)
    return {table: frozenset(columns) for table, columns in related.items()}


def _count_orphans(conn, relation: RelationProfile, scans: dict, tokens: list[str]) -> None:
    """Count the child's present trimmed values that are no trimmed parent value.

    From the two columns' scans when both kept their trimmed values, else in SQLite.
    """
    child = scans[(relation.child_table, relation.child_column)].trimmed
    parent = scans[(relation.parent_table, relation.parent_column)].trimmed
    if child is not None and parent is not None:
        missing = set(tokens)
        orphans = sorted((value, count) for value, count in child.items()
                         if value not in parent and value not in missing)
    else:
        marks = sql.SQL(", ").join(sql.SQL("?") for _ in tokens) if tokens else sql.SQL("NULL")
        orphans = conn.execute(sqlite_sql(sql.SQL(
            "SELECT v, count(*) FROM (SELECT trim({child_col}, ?) AS v FROM {child})"
            " WHERE v NOT IN ({marks}) AND v NOT IN (SELECT trim({parent_col}, ?)"
            " FROM {parent} WHERE {parent_col} IS NOT NULL) GROUP BY v").format(
                child_col=sql.Identifier(relation.child_column),
                child=sql.Identifier(relation.child_table), marks=marks,
                parent_col=sql.Identifier(relation.parent_column),
                parent=sql.Identifier(relation.parent_table))),
            (WHITESPACE, *sorted(tokens), WHITESPACE)).fetchall()
    relation.orphans = sum(count for _, count in orphans)
    relation.orphan_values = len(orphans)
    relation.examples = [str(value) for value, _ in orphans[:EXAMPLES]]


def _declared_relations(conn, tables: list[TableProfile], known: list[RelationProfile],
                        settings: Settings) -> list[RelationProfile]:
    """The declared foreign keys not already a ServiceDesk relation, their orphans as
    SQLite itself finds them (``PRAGMA foreign_key_check``: exact values, the declared
    collation). A key SQLite cannot check (its parent is not unique) is left out."""
    seen = {(r.child_table.lower(), r.child_column.lower()) for r in known}
    expected = {key.lower() for key in settings.expected_orphans}
    found = []
    for table in tables:
        orphans: Counter = Counter()
        try:
            for _, _, _, key_id in conn.execute("SELECT * FROM pragma_foreign_key_check(?)",
                                                (table.name,)):
                orphans[key_id] += 1
            keys = conn.execute('SELECT DISTINCT id, "table" FROM pragma_foreign_key_list(?)'
                                " ORDER BY id", (table.name,)).fetchall()
        except sqlite3.DatabaseError:
            continue  # a foreign key mismatch: the loader reports the key it cannot create
        for key, (key_id, parent) in zip(table.declared.foreign_keys, keys, strict=False):
            child_column = ", ".join(key.columns)
            if (table.name.lower(), child_column.lower()) in seen:
                continue
            present = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c))
                                            for c in key.columns)
            references = conn.execute(sqlite_sql(sql.SQL("SELECT count(*) FROM {} WHERE {}")
                                                 .format(sql.Identifier(table.name), present))
                                      ).fetchone()[0]
            relation = RelationProfile(table.name, child_column, parent,
                                       ", ".join(key.parent_columns) or "primary key",
                                       references, orphans[key_id], declared=True)
            relation.expected = relation.key.lower() in expected
            found.append(relation)
    return found


def _with_references(relations: list[RelationProfile],
                     tables: list[TableProfile]) -> list[RelationProfile]:
    """Fill in each relation's references: the child column's present cells."""
    by_name = {t.name: t for t in tables}
    for relation in relations:
        relation.references = by_name[relation.child_table].column(relation.child_column).present
    return relations


def _plan(tables: list[TableProfile]) -> Plan:
    """The plan: each table's columns as decided, its declared keys, else an inferred one."""
    by_name = {t.name.lower(): t for t in tables}
    return Plan(tables=[_table_plan(t, by_name) for t in tables])


def _table_plan(table: TableProfile, by_name: dict[str, TableProfile]) -> TablePlan:
    declared = table.declared
    idents = {c.name.lower(): c.ident for c in table.columns}
    key = table.column(table.key) if table.key and not declared.primary_key else None
    inferred = [key.ident] if key and not table.duplicate_keys and key.present == table.rows \
        else []
    return TablePlan(
        name=table.name, ident=table.ident, rows=table.rows,
        columns=[ColumnPlan(c.name, c.ident, c.type, c.date_order, c.flagged, c.precision,
                            c.scale, c.invalid_utf8, c.true_words, c.false_words)
                 for c in table.columns],
        primary_key=[idents[c.lower()] for c in declared.primary_key] or inferred,
        key_inferred=bool(inferred),
        unique=[[idents[c.lower()] for c in columns] for columns in declared.unique],
        foreign_keys=[key for key in (_foreign_key(k, idents, by_name)
                                      for k in declared.foreign_keys) if key is not None],
        date_column=table.column(table.date_column).ident if table.date_column else None,
        order_by=list(declared.primary_key) if declared.without_rowid else [],
    )


def _foreign_key(key: DeclaredForeignKey, idents: dict[str, str],
                 by_name: dict[str, TableProfile]) -> ForeignKeyPlan | None:
    """A declared foreign key by idents; None when it names what the source does not have
    (SQLite accepts such a declaration; PostgreSQL would refuse it)."""
    parent = by_name.get(key.parent.lower())
    if parent is None:
        return None
    parent_idents = {c.name.lower(): c.ident for c in parent.columns}
    parent_columns = key.parent_columns or parent.declared.primary_key
    if len(parent_columns) != len(key.columns) or not all(
            c.lower() in parent_idents for c in parent_columns) or not all(
            c.lower() in idents for c in key.columns):
        return None
    return ForeignKeyPlan([idents[c.lower()] for c in key.columns], parent.ident,
                          [parent_idents[c.lower()] for c in parent_columns])
