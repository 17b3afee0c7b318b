"""What a text value means: the shared rules of the profiler, the cleaner and the loader.

Each type has a converter from export text to its canonical text
(``YYYY-MM-DD HH:MM:SS``, ``true``/``false``, ``12.50``...) that raises
:class:`Unconvertible` with the reason when the value cannot be that type.
Converters are idempotent: canonical text converts to itself, which is how
the loader checks cleaned values before COPY.

Dates: ``d/m/yyyy`` or ``m/d/yyyy`` with ``/ - .`` separators, optional zero
padding, optional ``HH:MM[:SS]``, or ISO ``yyyy-mm-dd``. A first field over
12 proves day-first, a second field over 12 proves month-first; impossible
dates (29/02/2023, 31/04/2024, 00/00/0000) are never shifted.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

TYPES = ("integer", "numeric", "boolean", "timestamp", "date", "time", "text")
DateOrder = Literal["day-first", "month-first"]

PG_TYPES = {
    "integer": "bigint",
    "numeric": "numeric",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
    "time": "time",
    "text": "text",
}

TRUE_TOKENS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_TOKENS = frozenset({"no", "n", "false", "f", "0"})

_INTEGER = re.compile(r"[+-]?\d+")
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(
    r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
)
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
BIGINT_MAX = 2**63 - 1


class Unconvertible(ValueError):
    """The value is not of the column's type; ``str()`` is the reason."""


def is_missing(value: object, null_tokens: frozenset[str]) -> bool:
    """NULL, empty after trimming, or a placeholder token such as 'N/A'."""
    return value is None or (isinstance(value, str) and value.strip() in null_tokens)


def date_evidence(text: str) -> str | None:
    """Classify a date-like value: 'iso', 'day-first', 'month-first', 'ambiguous', or None."""
    m = _DATE.fullmatch(text.strip())
    if not m:
        return None
    a, _, b, c = m.group(1, 2, 3, 4)
    if len(a) == 4:
        return "iso"
    if len(c) != 4:
        return None
    first, second = int(a), int(b)
    if first > 12 and second <= 12:
        return "day-first"
    if second > 12 and first <= 12:
        return "month-first"
    if first > 12 and second > 12:
        return None
    return "ambiguous"


def _date_parts(text: str, order: DateOrder) -> tuple[int, int, int, str | None]:
    """Year, month, day and the time text of a date-like value, or Unconvertible."""
    m = _DATE.fullmatch(text.strip())
    if not m:
        raise Unconvertible("not a date")
    a, _, b, c, hh, mm, ss = m.groups()
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    elif len(c) == 4:
        year = int(c)
        day, month = (int(a), int(b)) if order == "day-first" else (int(b), int(a))
    else:
        raise Unconvertible("not a date (year must have four digits)")
    clock = None if hh is None else f"{int(hh):02d}:{mm}:{ss or '00'}"
    try:
        date(year, month, day)
    except ValueError:
        raise Unconvertible(f"impossible date {text.strip()!r}") from None
    return year, month, day, clock


def to_timestamp(text: str, order: DateOrder = "day-first") -> str:
    year, month, day, clock = _date_parts(text, order)
    clock = clock or "00:00:00"
    _check_clock(clock, text)
    return f"{year:04d}-{month:02d}-{day:02d} {clock}"


def to_date(text: str, order: DateOrder = "day-first") -> str:
    year, month, day, clock = _date_parts(text, order)
    if clock not in (None, "00:00:00"):
        raise Unconvertible("has a time of day")
    return f"{year:04d}-{month:02d}-{day:02d}"


def to_time(text: str, order: DateOrder = "day-first") -> str:
    m = _TIME.fullmatch(text.strip())
    if not m:
        raise Unconvertible("not a time")
    clock = f"{int(m.group(1)):02d}:{m.group(2)}:{m.group(3) or '00'}"
    _check_clock(clock, text)
    return clock


def _check_clock(clock: str, text: str) -> None:
    h, m, s = (int(x) for x in clock.split(":"))
    if h > 23 or m > 59 or s > 59:
        raise Unconvertible(f"impossible time {text.strip()!r}")


def to_integer(text: str, order: DateOrder = "day-first") -> str:
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        raise Unconvertible("not an integer")
    number = int(stripped)
    if abs(number) > BIGINT_MAX:
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


def to_boolean(text: str, order: DateOrder = "day-first") -> str:
    token = text.strip().lower()
    if token in TRUE_TOKENS:
        return "true"
    if token in FALSE_TOKENS:
        return "false"
    raise Unconvertible("not a boolean")


def to_text(text: str, order: DateOrder = "day-first") -> str:
    return text


CONVERTERS = {
    "integer": to_integer,
    "numeric": to_numeric,
    "boolean": to_boolean,
    "timestamp": to_timestamp,
    "date": to_date,
    "time": to_time,
    "text": to_text,
}


def timestamp_value(canonical: str) -> datetime:
    """A canonical timestamp as a datetime (for min/max and checksums)."""
    return datetime.strptime(canonical, "%Y-%m-%d %H:%M:%S")
