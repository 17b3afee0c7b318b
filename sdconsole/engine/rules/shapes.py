"""The spellings of a value that SQLite can clean exactly, so that Python sees only the rest.

A *shape* is one common ASCII spelling of a planned type -- ``31/01/2025
14:05`` in a day-first timestamp column, ``14:05`` in a time column, ``Yes``
in a boolean column, or a value that is canonical already -- with an SQL test
that recognises it (byte length, GLOB, substr comparisons: no regular
expression, no Python function) and the SQL that builds its canonical text
(or none, when the value is canonical already). The cleaner converts the
cells a shape recognises in SQL and sends every other cell -- whitespace, NUL
bytes, Unicode digits, impossible dates, odd spellings -- to
:data:`sdconsole.engine.rules.values.CONVERTERS`.

So a shape must be exact: a text value it recognises is one the converter
accepts, and its result is byte for byte the converter's. Every test pins a
byte length or compares the whole value, so a NUL byte, which GLOB does not
look past, never passes one. Tests run only on TEXT cells (the cleaner checks
``typeof``). The tests of the cleaner compare both paths cell by cell.

The SQL is composed with :mod:`psycopg.sql` (column names as identifiers,
patterns and texts as literals) and given to SQLite through
:func:`sdconsole.engine.source.sqlite.sqlite_sql`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import product

from psycopg import sql

from sdconsole.engine.rules.values import FALSE_TOKENS, TRUE_TOKENS

DIGIT = "[0-9]"
YEAR = "[1-9][0-9][0-9][0-9]"  # 1000-9999: earlier years (and 0000, no year) are Python's
SIXTY = "[0-5][0-9]"
SEPARATORS = "/-."  # d/m/yyyy, d-m-yyyy, d.m.yyyy (both separators the same)
LONG_MONTHS = ("01", "03", "05", "07", "08", "10", "12")
NUMERIC_BYTES = 12  # longer canonical decimals are left to Python

Sql = sql.Composable
_AND = sql.SQL(" AND ")


@dataclass(frozen=True, eq=False)  # compared and hashed as itself: cases are dict keys
class Shape:
    """One spelling SQL cleans exactly: its byte length, its test and its canonical text."""

    length: int | None  # bytes, when fixed (the cleaner dispatches on it before the test)
    test: Sql  # condition on a TEXT cell of the column
    result: Sql | None  # the canonical text; None: the value is canonical already


def shapes(column_type: str, date_order: str, col: Sql) -> list[Shape]:
    """The shapes of a column of the given planned type; ``col`` is its identifier."""
    match column_type:
        case "timestamp" | "date":
            return list(_date_shapes(column_type, date_order, col))
        case "time":
            return [
                Shape(c.length, _all(col, c.glob, c.checks), None if c.canonical else c.text)
                for c in _clocks(col, 1, midnight_only=False)
            ]
        case "boolean":
            return _boolean_shapes(col)
        case "integer":
            return [
                Shape(
                    None,
                    sql.SQL("+{c} COLLATE BINARY = CAST(CAST({c} AS INTEGER) AS TEXT)").format(
                        c=col
                    ),
                    None,
                )
            ]
        case "numeric":
            return list(_numeric_shapes(col))
    return []


def dispatch(col: Sql, cases: list[Shape], value: Mapping[Shape, Sql], otherwise: Sql) -> Sql:
    """SQL giving ``value[shape]`` for the first shape a cell has, else ``otherwise``.

    Fixed-length shapes are chosen by the cell's byte length first, so a cell
    runs the tests of its own length only.
    """
    by_length: dict[int, list[Shape]] = {}
    for shape in cases:
        if shape.length is not None:
            by_length.setdefault(shape.length, []).append(shape)
    free = [s for s in cases if s.length is None]
    rest = _first(free, value, otherwise) if free else otherwise
    if not by_length:
        return rest
    whens = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(length), _first(group, value, rest))
        for length, group in by_length.items()
    )
    return sql.SQL("CASE length(CAST({} AS BLOB)) {} ELSE {} END").format(col, whens, rest)


def _first(cases: list[Shape], value: Mapping[Shape, Sql], otherwise: Sql) -> Sql:
    whens = sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(s.test, value[s]) for s in cases)
    return sql.SQL("CASE {} ELSE {} END").format(whens, otherwise)


def _all(col: Sql, pattern: str, checks: tuple[Sql, ...] | list[Sql]) -> Sql:
    return _AND.join([sql.SQL("{} GLOB {}").format(col, sql.Literal(pattern)), *checks])


def _sub(col: Sql, start: int, length: int | None = None) -> Sql:
    if length is None:
        return sql.SQL("substr({}, {})").format(col, sql.Literal(start))
    return sql.SQL("substr({}, {}, {})").format(col, sql.Literal(start), sql.Literal(length))


def _padded(col: Sql, start: int, width: int, before: str) -> Sql:
    """The literal ``before``, then a one- or two-digit field zero-padded to two."""
    if width == 1:
        return sql.SQL("{} || {}").format(sql.Literal(before + "0"), _sub(col, start, 1))
    return sql.SQL("{} || {}").format(sql.Literal(before), _sub(col, start, 2))


@dataclass(frozen=True)
class _Day:
    """A date at the start of the value: its GLOB, byte length and where its fields are."""

    glob: str
    length: int
    year: int
    month: tuple[int, int]  # start, width
    day: tuple[int, int]
    iso: bool  # written yyyy-mm-dd already


def _days(order: str) -> Iterator[_Day]:
    """d/m/yyyy with one- or two-digit fields read in the given order, and yyyy-mm-dd."""
    for first, second in ((2, 2), (1, 2), (2, 1), (1, 1)):
        fields = ((1, first), (first + 2, second))
        day, month = fields if order == "day-first" else fields[::-1]
        for sep in SEPARATORS:
            yield _Day(
                f"{DIGIT * first}{sep}{DIGIT * second}{sep}{YEAR}",
                first + second + 6,
                first + second + 3,
                month,
                day,
                False,
            )
    yield _Day(f"{YEAR}-{DIGIT * 2}-{DIGIT * 2}", 10, 1, (6, 2), (9, 2), True)


def _day_checks(col: Sql, day: _Day) -> list[Sql]:
    """SQL conditions that hold exactly when the written month and day exist (real_date).

    The year is one the GLOB let through (1000-9999); February 29th checks it
    for a leap year.
    """
    (m_at, m_width), (d_at, d_width) = day.month, day.day
    month = _sub(col, m_at, m_width)
    checks: list[Sql] = [
        sql.SQL("{} <> '0'").format(month)
        if m_width == 1
        else sql.SQL("{} BETWEEN '01' AND '12'").format(month)
    ]
    if d_width == 1:  # 1 to 9: a day of every month
        checks.append(sql.SQL("{} <> '0'").format(_sub(col, d_at, 1)))
        return checks
    mm = month if m_width == 2 else sql.SQL("'0' || {}").format(month)
    checks.append(
        sql.SQL(
            "CASE WHEN {dd} BETWEEN '01' AND '28' THEN 1"
            " WHEN {dd} IN ('29', '30') AND {mm} <> '02' THEN 1"
            " WHEN {dd} = '31' THEN {mm} IN ({long_months})"
            " WHEN {dd} = '29' THEN {year} % 4 = 0 AND ({year} % 100 <> 0 OR {year} % 400 = 0)"
            " ELSE 0 END"
        ).format(
            dd=_sub(col, d_at, 2),
            mm=mm,
            long_months=sql.SQL(", ").join(map(sql.Literal, LONG_MONTHS)),
            year=sql.SQL("CAST({} AS INTEGER)").format(_sub(col, day.year, 4)),
        )
    )
    return checks


@dataclass(frozen=True)
class _Clock:
    """A time of day running to the end of the value: GLOB, checks and canonical text."""

    glob: str
    length: int
    checks: tuple[Sql, ...]
    text: Sql  # 'HH:MM:SS'
    spaced: Sql  # ' HH:MM:SS': the clock after a date and its space
    canonical: bool  # written HH:MM:SS already


def _clocks(col: Sql, start: int, midnight_only: bool) -> Iterator[_Clock]:
    """HH:MM, H:MM, HH:MM:SS and H:MM:SS from byte ``start`` to the end of the value.

    ``midnight_only`` (date columns) keeps the spellings of 00:00:00 only:
    any other time of day makes a date value unconvertible.
    """
    rest = col if start == 1 else _sub(col, start)
    for hour_width, seconds in ((2, False), (1, False), (2, True), (1, True)):
        if midnight_only:
            glob = "0" * hour_width + ":00" + (":00" if seconds else "")
        else:
            hour = DIGIT if hour_width == 1 else "[0-2][0-9]"
            glob = f"{hour}:{SIXTY}" + (f":{SIXTY}" if seconds else "")
        tail = sql.SQL("") if seconds else sql.SQL(" || ':00'")
        if hour_width == 1:
            text = sql.SQL("'0' || {}{}").format(rest, tail)
            spaced = sql.SQL("' 0' || {}{}").format(rest, tail)
            checks: tuple[Sql, ...] = ()
        else:
            text = sql.SQL("{}{}").format(rest, tail)
            spaced = sql.SQL("{}{}").format(_sub(col, start - 1), tail)
            checks = () if midnight_only else (sql.SQL("{} <= '23'").format(_sub(col, start, 2)),)
        yield _Clock(
            glob,
            hour_width + (6 if seconds else 3),
            checks,
            text,
            spaced,
            hour_width == 2 and seconds,
        )


def _date_shapes(column_type: str, order: str, col: Sql) -> Iterator[Shape]:
    """Dates, alone or with a clock after one space (values.to_timestamp, values.to_date)."""
    date = column_type == "date"
    for day in _days(order):
        checks = _day_checks(col, day)
        (m_at, m_width), (d_at, d_width) = day.month, day.day
        iso = sql.SQL("{} || {} || {}").format(
            _sub(col, day.year, 4),
            _padded(col, m_at, m_width, "-"),
            _padded(col, d_at, d_width, "-"),
        )
        if date:
            yield Shape(day.length, _all(col, day.glob, checks), None if day.iso else iso)
        else:
            yield Shape(
                day.length, _all(col, day.glob, checks), sql.SQL("{} || ' 00:00:00'").format(iso)
            )
        for clock in _clocks(col, day.length + 2, midnight_only=date):
            test = _all(col, f"{day.glob} {clock.glob}", [*checks, *clock.checks])
            canonical = not date and day.iso and clock.canonical
            yield Shape(
                day.length + 1 + clock.length,
                test,
                None
                if canonical
                else iso
                if date
                else sql.SQL("{} || {}").format(iso, clock.spaced),
            )


def _boolean_shapes(col: Sql) -> list[Shape]:
    """'true'/'false' as they are, and the English tokens values.to_boolean reads, in any
    letter case. A column's own flag words (setting ``flag_words``) are Python's.

    Listed spelling by spelling rather than through lower(), which allocates
    memory for every cell (and SQLite serialises allocations across threads).
    """

    def among(spellings) -> Sql:
        return sql.SQL("+{} COLLATE BINARY IN ({})").format(
            col, sql.SQL(", ").join(map(sql.Literal, spellings))
        )

    def cases(tokens: frozenset[str]) -> list[str]:
        return [s for t in sorted(tokens) for s in _letter_cases(t)]

    return [
        Shape(None, among(("true", "false")), None),
        Shape(None, among(cases(TRUE_TOKENS)), sql.Literal("true")),
        Shape(None, among(cases(FALSE_TOKENS)), sql.Literal("false")),
    ]


def _letter_cases(token: str) -> list[str]:
    """Every spelling of an ASCII token in lower and upper case letters ('no', 'No', 'nO', 'NO')."""
    return [
        "".join(letters)
        for letters in product(*(dict.fromkeys((c.lower(), c.upper())) for c in token))
    ]


def _numeric_shapes(col: Sql) -> Iterator[Shape]:
    """Decimals written canonically, -?(0|[1-9][0-9]*)(.[0-9]+)?, up to NUMERIC_BYTES.

    Within a length, two decimals first (amounts, hours), then whole numbers.
    """
    for length in range(1, NUMERIC_BYTES + 1):
        for sign in ("", "-"):
            digits = length - len(sign)
            for decimals in sorted(range(max(1, digits - 1)), key=lambda d: (d != 2, d)):
                whole = digits - decimals - (1 if decimals else 0)
                if whole < 1:
                    continue
                lead = DIGIT if whole == 1 else "[1-9]"
                fraction = "." + DIGIT * decimals if decimals else ""
                pattern = f"{sign}{lead}{DIGIT * (whole - 1)}{fraction}"
                yield Shape(length, sql.SQL("{} GLOB {}").format(col, sql.Literal(pattern)), None)
