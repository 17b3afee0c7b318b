"""What a text value means: the shared rules of the profiler, the cleaner and the loader.

Each type has a converter from export text to its canonical text
(``YYYY-MM-DD HH:MM:SS``, ``true``/``false``, ``12.50``...) that raises
:class:`Unconvertible` with the reason when the value cannot be that type.
Converters are idempotent: canonical text converts to itself, which is how
the loader checks cleaned values before COPY.

Dates: ``d/m/yyyy`` or ``m/d/yyyy`` with ``/ - .`` separators, optional zero
padding, optional ``HH:MM[:SS[.fraction]]``, or ISO ``yyyy-mm-dd``. A first
field over 12 proves day-first, a second field over 12 proves month-first;
impossible dates (29/02/2023, 31/04/2024, 00/00/0000) are never shifted.
Fractions of a second are kept (up to PostgreSQL's microseconds, trailing
zeros dropped as PostgreSQL prints them); more digits are not a timestamp.

Flags: ``TRUE_TOKENS``/``FALSE_TOKENS`` (English, any letter case) always
mean true/false; the ``flag_words`` setting adds pairs of other languages
(``sim/não``), parsed by :meth:`FlagWords.parse`. A boolean column converts
the words of its own plan too (``ColumnPlan.convert``).

No lossy number: :func:`lossy_number` names the spellings a number type
would not keep (``06897``, ``+44``), which keep their column text.
``real`` is IEEE double precision, as SQLite's REAL: a REAL cell keeps its
exact value. ``bytea`` holds BLOB cells byte for byte; text is never guessed
to be binary.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal, NamedTuple

TYPES = ("integer", "numeric", "real", "boolean", "timestamp", "date", "time", "bytea", "text")
DateOrder = Literal["day-first", "month-first"]

PG_TYPES = {
    "integer": "bigint",
    "numeric": "numeric",
    "real": "double precision",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
    "time": "time",
    "bytea": "bytea",
    "text": "text",
}

TRUE_TOKENS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_TOKENS = frozenset({"no", "n", "false", "f", "0"})
ENGLISH_FLAG_WORDS = (TRUE_TOKENS | FALSE_TOKENS) - {"0", "1"}

_INTEGER = re.compile(r"[+-]?\d+")
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DAY = r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})"
_CLOCK = r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
_DATE = re.compile(rf"{_DAY}(?:T{_CLOCK})?")  # date, or date and time joined by T
_DATE_CLOCK = re.compile(_CLOCK)  # the time after a date and a space
_TIME = re.compile(_CLOCK)
_LEADING_ZERO = re.compile(r"[+-]?0\d")
MICROSECOND_DIGITS = 6
BIGINT_MAX = 2**63 - 1
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Exactly the characters str.strip() removes (str.isspace), so SQLite's
# trim(x, WHITESPACE) and Python agree on what leading or trailing whitespace is.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0"
    "\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


class Unconvertible(ValueError):
    """The value is not of the column's type; ``str()`` is the reason."""


def is_missing(value: object, null_tokens: frozenset[str]) -> bool:
    """NULL, empty after trimming, or a placeholder token such as 'N/A'.

    NUL characters are ignored, as the cleaner removes them before it looks
    for tokens: ``'N/A\\x00'`` is missing too.
    """
    if value is None:
        return True
    return isinstance(value, str) and value.replace("\x00", "").strip() in null_tokens


class DateFields(NamedTuple):
    """A date-like value as written: three numeric fields, and the time of day if any."""

    first: int
    second: int
    third: int
    year_first: bool  # ISO order, yyyy-mm-dd
    year_digits: int  # digits of the year field (only four are a date)
    clock: str | None  # 'HH:MM:SS' as written, not yet checked


def date_fields(text: str) -> DateFields | None:
    """Split a date-like value into its fields, or None when it does not look like a date.

    ``date[ T]time``: the date part and the time part are parsed (and
    cached) separately, because a column has few distinct days among many
    distinct times.
    """
    head, space, tail = text.strip().partition(" ")
    fields = _day_fields(head)
    if not space or fields is None:
        return fields
    clock = _clock_text(tail)
    if clock is None or fields.clock is not None:
        return None
    return DateFields(
        fields.first, fields.second, fields.third, fields.year_first, fields.year_digits, clock
    )


@functools.lru_cache(maxsize=1 << 16)
def _day_fields(text: str) -> DateFields | None:
    m = _DATE.fullmatch(text)
    if not m:
        return None
    a, _, b, c, hh, mm, ss, fraction = m.groups()
    clock = None if hh is None else _clock(hh, mm, ss, fraction)
    year_first = len(a) == 4
    return DateFields(int(a), int(b), int(c), year_first, len(a if year_first else c), clock)


@functools.lru_cache(maxsize=1 << 16)
def _clock_text(text: str) -> str | None:
    m = _DATE_CLOCK.fullmatch(text)
    return None if m is None else _clock(*m.groups())


def _clock(hh: str, mm: str, ss: str | None, fraction: str | None) -> str:
    """'HH:MM:SS[.f]' as PostgreSQL prints it: the fraction without trailing zeros."""
    digits = (fraction or "").rstrip("0")
    return f"{int(hh):02d}:{mm}:{ss or '00'}{digits if len(digits) > 1 else ''}"


def evidence(fields: DateFields) -> str | None:
    """What one date says about the column's order: see :func:`date_evidence`."""
    if fields.year_first:
        return "iso"
    if fields.year_digits != 4:
        return None
    first, second = fields.first, fields.second
    if first > 12 and second <= 12:
        return "day-first"
    if second > 12 and first <= 12:
        return "month-first"
    if first > 12 and second > 12:
        return None
    return "ambiguous"


def date_evidence(text: str) -> str | None:
    """Classify a date-like value: 'iso', 'day-first', 'month-first', 'ambiguous', or None."""
    fields = date_fields(text)
    return None if fields is None else evidence(fields)


def ymd(fields: DateFields, order: DateOrder) -> tuple[int, int, int]:
    """Year, month and day of the fields read in the given order (not checked)."""
    if fields.year_first:
        return fields.first, fields.second, fields.third
    if order == "day-first":
        return fields.third, fields.second, fields.first
    return fields.third, fields.first, fields.second


def real_date(year: int, month: int, day: int) -> bool:
    """True for a day that exists: no 29/02/2023, no 31/04, no 00/00/0000."""
    if not (1 <= month <= 12 and day >= 1 and year >= 1):
        return False
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return day <= (29 if leap else 28)
    return day <= _MONTH_DAYS[month]


@functools.lru_cache(maxsize=1 << 12)
def real_clock(clock: str) -> bool:
    """True for 'HH:MM:SS[.f]' within 00:00:00-23:59:59.999999 (microseconds at most)."""
    h, m, s = clock.split(":")
    s, _, fraction = s.partition(".")
    return int(h) <= 23 and int(m) <= 59 and int(s) <= 59 and len(fraction) <= MICROSECOND_DIGITS


def _date_parts(text: str, order: DateOrder) -> tuple[str, str | None]:
    """'YYYY-MM-DD' and the time text of a date-like value, or Unconvertible."""
    fields = date_fields(text)
    if fields is None:
        raise Unconvertible("not a date")
    if fields.year_digits != 4:
        raise Unconvertible("not a date (year must have four digits)")
    day = _day_text(fields.first, fields.second, fields.third, fields.year_first, order)
    if day is None:
        raise Unconvertible(f"impossible date {text.strip()!r}")
    return day, fields.clock


@functools.lru_cache(maxsize=1 << 16)
def _day_text(
    first: int, second: int, third: int, year_first: bool, order: DateOrder
) -> str | None:
    """'YYYY-MM-DD' of the written fields in the given order, or None for no real day."""
    year, month, day = ymd(DateFields(first, second, third, year_first, 4, None), order)
    return f"{year:04d}-{month:02d}-{day:02d}" if real_date(year, month, day) else None


def to_timestamp(text: str, order: DateOrder = "day-first") -> str:
    day, clock = _date_parts(text, order)
    clock = clock or "00:00:00"
    _check_clock(clock, text)
    return f"{day} {clock}"


def to_date(text: str, order: DateOrder = "day-first") -> str:
    day, clock = _date_parts(text, order)
    if clock not in (None, "00:00:00"):
        raise Unconvertible("has a time of day")
    return day


def to_time(text: str, order: DateOrder = "day-first") -> str:
    m = _TIME.fullmatch(text.strip())
    if not m:
        raise Unconvertible("not a time")
    clock = _clock(*m.groups())
    _check_clock(clock, text)
    return clock


def _check_clock(clock: str, text: str) -> None:
    if not real_clock(clock):
        if len(clock.partition(".")[2]) > MICROSECOND_DIGITS:
            raise Unconvertible("fraction of a second finer than a microsecond")
        raise Unconvertible(f"impossible time {text.strip()!r}")


def lossy_number(text: str) -> str | None:
    """Why a number type would not keep this number's spelling ('leading zero', 'leading +').

    None for any other text, number or not.

    ``06897`` and ``+44`` are codes: as numbers they would print ``6897`` and
    ``44``. A single ``0`` before the point (``0``, ``0.5``) is kept.
    """
    stripped = text.strip()
    if not _NUMERIC.fullmatch(stripped):
        return None  # not a number at all (a date such as 05/03/2016, a code such as 0A1)
    if stripped.startswith("+"):
        return "leading +"
    if _LEADING_ZERO.match(stripped):
        return "leading zero"
    return None


def to_integer(text: str, order: DateOrder = "day-first") -> str:
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        raise Unconvertible("not an integer")
    number = int(stripped)
    if not -BIGINT_MAX - 1 <= number <= BIGINT_MAX:  # PostgreSQL bigint
        raise Unconvertible("integer out of range")
    return str(number)


def to_numeric(text: str, order: DateOrder = "day-first") -> str:
    stripped = text.strip()
    if not _NUMERIC.fullmatch(stripped):
        raise Unconvertible("not a number")
    try:
        number = Decimal(stripped)
    except InvalidOperation:
        raise Unconvertible("not a number") from None
    if "e" in stripped.lower():
        number = number.normalize()
    return format(number, "f").lstrip("+")


def to_real(text: str, order: DateOrder = "day-first") -> str:
    """A decimal text as the nearest double, written so it reads back exactly (Python repr)."""
    stripped = text.strip()
    if not _NUMERIC.fullmatch(stripped):
        raise Unconvertible("not a number")
    number = float(stripped)
    if math.isinf(number):
        raise Unconvertible("number beyond double precision")
    return repr(number)


def to_bytea(text: str, order: DateOrder = "day-first") -> str:
    raise Unconvertible("text in a binary (bytea) column")


def to_boolean(
    text: str,
    order: DateOrder = "day-first",
    true_words: Collection[str] = (),
    false_words: Collection[str] = (),
) -> str:
    """'true'/'false' for TRUE_TOKENS/FALSE_TOKENS and the column's own (lower-case) words."""
    token = text.strip().lower()
    if token in TRUE_TOKENS or token in true_words:
        return "true"
    if token in FALSE_TOKENS or token in false_words:
        return "false"
    raise Unconvertible("not a boolean")


@dataclass(frozen=True)
class FlagWords:
    """Lower-case words meaning true and false besides the English TRUE_TOKENS/FALSE_TOKENS."""

    true: frozenset[str] = frozenset()
    false: frozenset[str] = frozenset()

    @property
    def every(self) -> frozenset[str]:
        """Every flag word, English included (not 0 and 1, which are numbers first)."""
        return ENGLISH_FLAG_WORDS | self.true | self.false

    @classmethod
    def parse(cls, entries: Iterable[str]) -> FlagWords:
        """Entries written ``TRUE/FALSE`` (``sim/não``), in any letter case.

        ValueError names the first entry that is no such pair, that holds a
        digit or starts like a number (numbers are read as numbers first), or
        that gives a word the opposite meaning of another entry or of English.
        """
        true, false = set(TRUE_TOKENS), set(FALSE_TOKENS)
        for entry in entries:
            words = [word.strip().lower() for word in entry.split("/")]
            if len(words) != 2 or not all(words):
                raise ValueError(f"{entry!r} is not a pair written true/false, such as 'sim/não'")
            for word, same, other in ((words[0], true, false), (words[1], false, true)):
                if any(c.isdigit() for c in word) or word[0] in "+-.":
                    raise ValueError(
                        f"{entry!r}: a flag word has no digits and does not start"
                        " with + - or . (0 and 1 are flags where the name says so)"
                    )
                if word in other:
                    raise ValueError(
                        f"{entry!r}: {word!r} already means {'false' if other is false else 'true'}"
                    )
                same.add(word)
        return cls(frozenset(true - TRUE_TOKENS), frozenset(false - FALSE_TOKENS))


def to_text(text: str, order: DateOrder = "day-first") -> str:
    return text


CONVERTERS = {
    "integer": to_integer,
    "numeric": to_numeric,
    "real": to_real,
    "boolean": to_boolean,
    "timestamp": to_timestamp,
    "date": to_date,
    "time": to_time,
    "bytea": to_bytea,
    "text": to_text,
}


def timestamp_value(canonical: str) -> datetime:
    """A canonical timestamp as a datetime (for comparing query results)."""
    return datetime.fromisoformat(canonical)
