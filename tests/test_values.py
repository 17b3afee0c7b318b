"""The shared value rules: date evidence, converters, whitespace and missing values."""

import random
import re

import pytest

from sdconsole.engine.rules import values
from sdconsole.engine.rules.values import (
    Unconvertible,
    date_evidence,
    to_date,
    to_time,
    to_timestamp,
)


def test_whitespace_is_exactly_what_str_strip_removes():
    assert values.WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("31/01/2025 14:05", "day-first"),
        ("13/1/2025", "day-first"),
        ("01/31/2025", "month-first"),
        ("5/3/2016 12:00", "ambiguous"),
        ("12/12/2024", "ambiguous"),
        ("00/00/0000", "ambiguous"),
        ("2025-01-31 14:05:00", "iso"),
        ("2025-01-31T14:05", "iso"),
        ("31/31/2025", None),
        ("1/2/24", None),
        ("31/01/2025 14:05 extra", None),
        ("hello", None),
    ],
)
def test_date_evidence(text, evidence):
    assert date_evidence(text) == evidence


@pytest.mark.parametrize(
    ("text", "order", "canonical"),
    [
        ("31/01/2025 14:05", "day-first", "2025-01-31 14:05:00"),
        ("5/3/2016 12:00", "day-first", "2016-03-05 12:00:00"),
        ("5/3/2016 12:00", "month-first", "2016-05-03 12:00:00"),
        ("31/01/2025", "day-first", "2025-01-31 00:00:00"),
        ("31.01.2025 9:05:07", "day-first", "2025-01-31 09:05:07"),
        ("2025-01-31 14:05:00", "month-first", "2025-01-31 14:05:00"),
        ("2025-01-31T14:05", "day-first", "2025-01-31 14:05:00"),
        ("29/02/2024 10:00", "day-first", "2024-02-29 10:00:00"),
        ("  31-01-2025 14:05\n", "day-first", "2025-01-31 14:05:00"),
    ],
)
def test_timestamps_become_canonical_and_stay_so(text, order, canonical):
    assert to_timestamp(text, order) == canonical
    assert to_timestamp(canonical, order) == canonical


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("29/02/2023 10:00", "impossible date '29/02/2023 10:00'"),
        ("31/04/2024 09:00", "impossible date '31/04/2024 09:00'"),
        ("00/00/0000 00:00", "impossible date '00/00/0000 00:00'"),
        ("31/01/2025 24:00", "impossible time '31/01/2025 24:00'"),
        ("31/04/2024 xx", "not a date"),
        ("1/2/24", "not a date (year must have four digits)"),
    ],
)
def test_impossible_dates_are_never_shifted(text, reason):
    with pytest.raises(Unconvertible) as caught:
        to_timestamp(text, "day-first")
    assert str(caught.value) == reason


def test_dates_and_times():
    assert to_date("31/01/2025") == "2025-01-31"
    assert to_date("2025-01-31") == "2025-01-31"
    assert to_date("31/01/2025 00:00") == "2025-01-31"
    with pytest.raises(Unconvertible, match="has a time of day"):
        to_date("31/01/2025 10:00")
    assert to_time("9:00") == "09:00:00"
    assert to_time("09:00:00") == "09:00:00"
    with pytest.raises(Unconvertible, match="impossible time"):
        to_time("25:00")


def test_date_fields_read_date_and_time_like_one_pattern():
    """Date and time are parsed apart (and cached); the result is the one-pattern reading."""
    pattern = re.compile(
        r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})"
        r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
    )

    def expected(text):
        m = pattern.fullmatch(text.strip())
        if not m:
            return None
        a, _, b, c, hh, mm, ss = m.groups()
        year_first = len(a) == 4
        clock = None if hh is None else f"{int(hh):02d}:{mm}:{ss or '00'}"
        return (int(a), int(b), int(c), year_first, len(a if year_first else c), clock)

    pieces = ["1", "01", "31", "2024", "0", "13", "/", "-", ".", ":", " ", "T", "00", "  ", ".5"]
    rng = random.Random(3)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 9)))
        fields = values.date_fields(text)
        assert (tuple(fields) if fields else None) == expected(text), text


def test_missing_values_ignore_nul_bytes():
    tokens = frozenset({"", "N/A"})
    assert values.is_missing(None, tokens)
    assert values.is_missing("  ", tokens)
    assert values.is_missing(" N/A\x00", tokens)
    assert not values.is_missing("n/a", tokens)
    assert not values.is_missing("x\x00", tokens)
