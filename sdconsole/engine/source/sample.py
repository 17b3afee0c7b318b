"""Deterministic generator of a dirty ServiceDesk SQLite export.

The database has three tables, ``tickets``, ``comments`` and ``timesheets``, with
the raw export column names (``TKT-Ticket ID``, ``CT-TKT-ID``, ``TS-Crm ID``, ...).
Most columns are declared TEXT, a few have no declared type, and every value is
stored as text or NULL. The same ``(tickets, seed)`` always gives the same rows.

Dirt it contains:

* ticket ids duplicated for about 0.1% of tickets (same id, slightly different
  title; at least one when there are 50 tickets or more);
* day-first timestamps in several shapes: ``31/01/2025 14:05`` mostly, ~10%
  unpadded ``5/3/2025 14:05``, ~5% with seconds, ~5% ISO ``2025-01-31 14:05:00``,
  ~2% with ``-`` or ``.`` separators; timesheet dates are date only, some
  unpadded, and times of day are ``09:00`` or ``09:00:00``;
* impossible closure dates ``29/02/2023 10:00``, ``31/04/2024 09:00`` and
  ``00/00/0000 00:00`` (each at least once from 50 tickets);
* booleans spelt Yes/No/TRUE/FALSE/true/1/0/Y/N;
* numbers with padding spaces (`` 3.25 ``) or without decimals, and a handful
  of junk resolution hours such as ``abc`` or ``approx 3``;
* placeholder tokens ``''``, ``?``, ``-``, ``N/A``, ``NULL``, ``n/a`` and SQL
  NULLs in optional columns;
* comments (~1%) and ticket-work timesheets (~0.5% of all timesheets) pointing
  at tickets that do not exist; timesheets that are not ticket work have an
  empty or NULL ``TS-Crm ID``;
* free text with accents and CJK, double and single quotes, tabs, embedded
  newlines, leading or trailing whitespace or a trailing newline (~2%);
* a few descriptions of 20,000 characters or more;
* exactly one ticket description (from 10 tickets) with a NUL character in the
  middle: ``Printer jam\\x00 after tray 2 replaced``. SQLite keeps the whole
  value, but its ``length()`` counts only up to the NUL.

Variants, so that tests and benchmarks see more than one kind of export
(the default is the mix above, row for row as it always was):

* ``flags``: how the flags ``TKT-SLA Met``, ``TKT-Reopened`` and
  ``CT-VISIBLE-CUSTOMER`` are written. ``mixed`` (default) as above; ``01``
  ``1``/``0``; ``yn`` ``Y``/``N``; ``yesno`` ``Yes``/``No``; ``words``
  Portuguese ``Sim``/``Não`` (profiled as flags with the setting
  ``flag_words = ["sim/não"]``). Only the spelling changes: every variant
  of a ``(tickets, seed)`` has the same rows, flags meaning the same, and
  SLA Met missing (``''``) in the same rows, so dashboards give the same
  figures on each.
* ``sparse_columns``: N optional columns added to ``tickets`` after the
  export's own (a satisfaction survey, links to a parent ticket, problem
  or change; ``TKT-Custom Field N`` beyond SPARSE_COLUMNS), each empty
  (``''`` or NULL) in about 99% of the rows. They are drawn from a random
  stream of their own, so every other value is the same as without them.
"""

from __future__ import annotations

import bisect
import itertools
import os
import pathlib
import random
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

FIRST_TICKET_ID = 100001
NUL_DESCRIPTION = "Printer jam\x00 after tray 2 replaced"
IMPOSSIBLE_DATES = ("29/02/2023 10:00", "31/04/2024 09:00", "00/00/0000 00:00")
PLACEHOLDERS = ("", "?", "-", "N/A", "NULL", "n/a")

_CREATED_FROM = datetime(2023, 1, 1)
_CREATED_SECONDS = int((datetime(2026, 1, 1) - _CREATED_FROM).total_seconds())
_MINUTES_PER_DAY = 24 * 60

_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "tickets": (
        ("TKT-Ticket ID", "TEXT"),
        ("TKT-Title", "TEXT"),
        ("TKT-Status", "TEXT"),
        ("TKT-Category", "TEXT"),
        ("TKT-Severity", "TEXT"),
        ("TKT-Team", "TEXT"),
        ("TKT-Assigned To", "TEXT"),
        ("TKT-Account Name", "TEXT"),
        ("TKT-Created Time", "TEXT"),
        ("TKT-Modified Time", "TEXT"),
        ("TKT-Closure Date", "TEXT"),
        ("TKT-SLA Met", "TEXT"),
        ("TKT-Reopened", ""),
        ("TKT-Resolution Hours", ""),
        ("TKT-Description", "TEXT"),
    ),
    "comments": (
        ("CT-COMMENT-ID", "TEXT"),
        ("CT-TKT-ID", "TEXT"),
        ("CT-CREATED-TIME", "TEXT"),
        ("CT-COMMENT", "TEXT"),
        ("CT-USERIDNAME", "TEXT"),
        ("CT-OWNERTYPE", "TEXT"),
        ("CT-VISIBLE-CUSTOMER", ""),
        ("CT-TYPE", "TEXT"),
    ),
    "timesheets": (
        ("TS-Title", "TEXT"),
        ("TS-Hours", ""),
        ("TS-Date", "TEXT"),
        ("TS-Time From", "TEXT"),
        ("TS-Time To", "TEXT"),
        ("TS-Category", "TEXT"),
        ("TS-Crm ID", "TEXT"),
        ("TS-User Username", "TEXT"),
        ("TS-User Full Name", "TEXT"),
        ("TS-Description", "TEXT"),
    ),
}

Picker = Callable[[random.Random], Any]
FLAG_SPELLINGS = {
    "01": ("1", "0"),
    "yn": ("Y", "N"),
    "yesno": ("Yes", "No"),
    "words": ("Sim", "Não"),
}  # variant -> (true, false)
FLAGS = ("mixed", *FLAG_SPELLINGS)
SPARSE_FILLED = 0.01  # share of rows with a value in a sparse column
MAX_SPARSE_COLUMNS = 100


def _weighted(pairs: Sequence[tuple[Any, float]]) -> Picker:
    """Return a function drawing one value from ``(value, weight)`` pairs."""
    values = [value for value, _ in pairs]
    bounds = list(itertools.accumulate(weight for _, weight in pairs))
    total, last = bounds[-1], len(values) - 1

    def pick(rng: random.Random) -> Any:
        return values[bisect.bisect(bounds, rng.random() * total, 0, last)]

    return pick


def _uniform(values: Sequence[Any]) -> Picker:
    """Return a function drawing one of values, all equally likely."""
    values = tuple(values)

    def pick(rng: random.Random) -> Any:
        return values[int(rng.random() * len(values))]

    return pick


def _between(rng: random.Random, low: int, high: int) -> int:
    """Draw an integer in [low, high]; cheaper than ``Random.randint``."""
    return low + int(rng.random() * (high - low + 1))


_PEOPLE = (
    ("João Gonçalves", "jgoncalves"),
    ("Zoë O'Brien", "zobrien"),
    ("Amélie Durand", "adurand"),
    ("François Lefèvre", "flefevre"),
    ("Jürgen Müller", "jmuller"),
    ("Ana Conceição", "aconceicao"),
    ("Sérgio Araújo", "saraujo"),
    ("Björn Ångström", "bangstrom"),
    ("山田 太郎", "tyamada"),
    ("Priya Raman", "praman"),
    ("Wei Zhang", "wzhang"),
    ("Mike Smith", "msmith"),
    ("Laura Pérez", "lperez"),
    ("Chloé Martin", "cmartin"),
)
_ACCOUNTS = (
    'Smith "and" Sons',
    "O'Hara Ltd",
    "Café Brasil Ltda.",
    "Müller & Söhne GmbH",
    "日本テック株式会社",
    "Açores Pescas S.A.",
    "Acme Corp",
    "Globex",
    "Initech",
    "Société Générale de Test",
)
_WORDS = """
    printer VPN password reset email Outlook laptop screen network slow error login account
    locked tray driver update server backup disk full after before restart user cannot open
    the a on in with and again since Monday report invoice access denied timeout shared folder
    café façade não über Müller 日本 configuração relatório ação São Zürich naïve résumé señal
    impressora "urgent" "broken" can't won't it's user's O'Brien's 🙂
""".split()
_GAPS = ((" ", 80), (", ", 6), (". ", 8), (".\n", 4), (".\n\n", 1), ("\t", 1))
_GAPPED_WORDS = [gap + word for gap, weight in _GAPS for word in _WORDS for _ in range(weight)]
_PROSE_POOL = tuple(random.Random(0).choices(_GAPPED_WORDS, k=1 << 16))
_FIRST_WORD = _uniform(_WORDS)
_SUBJECT = _uniform(
    "Printer|VPN|Laptop|Outlook|Password|Shared drive|Teclado|Impressora|Wi-Fi|SAP"
    "|Müller's laptop|日本 office email|Badge reader".split("|")
)
_PROBLEM = _uniform(
    "not working|jam on floor 3|won't connect|keeps crashing|não funciona|can't log in"
    '|shows "access denied"|very slow|needs reset|est cassé|error 0x80070005'.split("|")
)
_TITLE_SUFFIX = _weighted(
    [
        ("", 70),
        (" (urgent)", 8),
        (" - São Paulo office", 6),
        (" for O'Hara", 6),
        (' "again"', 5),
        (" – follow-up", 5),
    ]
)
_DUPLICATE_SUFFIX = _uniform((" (copy)", " [dup]", " - resent", "!!"))
_PADDING = _uniform((" {} ", " {}", "{} ", "{}\n", "  {}\t", "\n{}"))
_SPACES = _uniform((" {} ", " {}", "{} "))
_PERSON = _uniform(_PEOPLE)

_TIMESTAMP = _weighted(
    [
        ("{d:02d}/{m:02d}/{y} {H:02d}:{M:02d}", 78),
        ("{d}/{m}/{y} {H:02d}:{M:02d}", 10),
        ("{d:02d}/{m:02d}/{y} {H:02d}:{M:02d}:{S:02d}", 5),
        ("{y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d}", 5),
        ("{d:02d}-{m:02d}-{y} {H:02d}:{M:02d}", 1),
        ("{d:02d}.{m:02d}.{y} {H:02d}:{M:02d}", 1),
    ]
)
_DATE = _weighted([("{d:02d}/{m:02d}/{y}", 88), ("{d}/{m}/{y}", 12)])
_TIME = _weighted([("{H:02d}:{M:02d}", 94), ("{H:02d}:{M:02d}:{S:02d}", 6)])
_NUMBER = _weighted([("{:.2f}", 78), ("{:g}", 17), (" {:.2f} ", 5)])

_STATUS = _weighted(
    [("Open", 15), ("In Progress", 15), ("On Hold", 5), ("Resolved", 25), ("Closed", 40)]
)
_CLOSED_STATUSES = frozenset({"Resolved", "Closed"})
_CATEGORY = _uniform(("Hardware", "Software", "Network", "Access", "Email", "Printing", "Other"))
_SEVERITY = _weighted([("Low", 35), ("Medium", 40), ("High", 20), ("Critical", 5)])
_TEAM = _uniform(("Service Desk", "Network", "Infra", "Apps", "Segurança"))
_ASSIGNEE = _weighted([(name, 96 / len(_PEOPLE)) for name, _ in _PEOPLE] + [("", 3), ("N/A", 1)])
_ACCOUNT = _uniform(_ACCOUNTS)
_SLA_MET = _weighted(
    [
        ("Yes", 30),
        ("No", 15),
        ("TRUE", 10),
        ("FALSE", 5),
        ("true", 10),
        ("1", 10),
        ("0", 5),
        ("Y", 8),
        ("N", 5),
        ("", 2),
    ]
)
_REOPENED = _weighted([("No", 85), ("Yes", 12), ("N", 2), ("Y", 1)])
_OPEN_CLOSURE = _weighted([("", 50), ("-", 25), (None, 25)])
_OPEN_HOURS = _weighted([("", 60), ("N/A", 25), ("?", 15)])
_JUNK_HOURS = _uniform(("abc", "approx 3", "~2", "3 hrs", "see notes"))
_PLACEHOLDER = _weighted([(token, 1) for token in PLACEHOLDERS] + [(None, 1)])

_OWNER_TYPE = _weighted([("Agent", 60), ("Customer", 30), ("System", 10)])
_VISIBLE = _uniform(("Yes", "No", "true", "false", "1", "0"))
_COMMENT_TYPE = _weighted([("Public", 40), ("Private", 25), ("Email", 20), ("Note", 15)])
_CUSTOMER_USERS = _uniform(("customer@smith-sons.example", "joao@cafe-brasil.example", "ohara"))

_TS_CATEGORY = _weighted([("Ticket Work", 60), ("Meeting", 15), ("Training", 10), ("Admin", 15)])
_NO_CRM_ID = _uniform(("", None))
_EMPTY = _uniform(("", None))
_MEANING = {
    "Yes": True,
    "TRUE": True,
    "true": True,
    "1": True,
    "Y": True,
    "No": False,
    "FALSE": False,
    "false": False,
    "0": False,
    "N": False,
}
_RATING = _weighted([("5", 40), ("4", 30), ("3", 15), ("2", 8), ("1", 7)])


def _survey_comment(rng: random.Random, tickets: int) -> str:
    return _prose(rng, 3, 20)


def _parent_ticket(rng: random.Random, tickets: int) -> str:
    return str(FIRST_TICKET_ID + int(rng.random() * tickets))


def _code(prefix: str) -> Callable[[random.Random, int], str]:
    return lambda rng, tickets: f"{prefix}{_between(rng, 1000, 99999):07d}"


def _survey_sent(rng: random.Random, tickets: int) -> str:
    return _render(
        rng, _TIMESTAMP, _CREATED_FROM + timedelta(seconds=int(rng.random() * _CREATED_SECONDS))
    )


# The sparse columns' names and values, in order; more are TKT-Custom Field N (short text).
SPARSE_COLUMNS: tuple[tuple[str, Callable[[random.Random, int], str]], ...] = (
    ("TKT-Satisfaction Rating", lambda rng, tickets: _RATING(rng)),
    ("TKT-Satisfaction Comment", _survey_comment),
    ("TKT-Parent Ticket", _parent_ticket),
    ("TKT-Problem ID", _code("PRB")),
    ("TKT-Change ID", _code("CHG")),
    ("TKT-Survey Sent", _survey_sent),
    ("TKT-Knowledge Article", _code("KB")),
)


def _sparse_columns(count: int) -> list[tuple[str, Callable[[random.Random, int], str]]]:
    columns = list(SPARSE_COLUMNS[:count])
    for number in range(len(columns) + 1, count + 1):
        columns.append((f"TKT-Custom Field {number}", lambda rng, tickets: _title(rng)))
    return columns


class _Plan(NamedTuple):
    created: list[datetime]
    specials: dict[int, tuple[str, str | None]]
    flag: Callable[[str], str]  # a flag as the variant spells it
    sparse: list[tuple[str, Callable[[random.Random, int], str]]]
    sparse_rng: random.Random


def generate(
    path: pathlib.Path,
    tickets: int = 2000,
    seed: int = 7,
    *,
    flags: str = "mixed",
    sparse_columns: int = 0,
) -> dict[str, int]:
    """Write a dirty ServiceDesk SQLite database to path; return row counts per table.

    ``flags`` (one of FLAGS) and ``sparse_columns`` choose a variant (see the module).
    """
    path = pathlib.Path(path)
    if tickets < 0:
        raise ValueError(f"tickets must be >= 0, got {tickets}")
    if flags not in FLAGS:
        raise ValueError(f"flags must be one of {', '.join(FLAGS)}, got {flags!r}")
    if not 0 <= sparse_columns <= MAX_SPARSE_COLUMNS:
        raise ValueError(f"sparse_columns must be 0 to {MAX_SPARSE_COLUMNS}, got {sparse_columns}")
    if path.exists():
        raise FileExistsError(path)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.touch(exist_ok=False)
    try:
        counts = _write(partial, tickets, seed, flags, sparse_columns)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return counts


def _write(
    target: pathlib.Path, tickets: int, seed: int, flags: str, sparse_columns: int
) -> dict[str, int]:
    rng = random.Random(seed)
    sparse = _sparse_columns(sparse_columns)
    plan = _Plan(
        _created_times(rng, tickets),
        _pick_specials(rng, tickets),
        _speller(flags),
        sparse,
        random.Random(f"{seed}/sparse"),
    )
    feeds = {"tickets": _ticket_rows, "comments": _comment_rows, "timesheets": _timesheet_rows}
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        for table, columns in _TABLES.items():
            if table == "tickets":
                columns = (*columns, *((name, "TEXT") for name, _ in sparse))
            names = ", ".join(f'"{name}" {decl}'.rstrip() for name, decl in columns)
            conn.execute(f'CREATE TABLE "{table}" ({names})')
            marks = ", ".join("?" * len(columns))
            conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', feeds[table](rng, plan))
        conn.execute("COMMIT")
        return {
            table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in _TABLES
        }
    finally:
        conn.close()


def _speller(flags: str) -> Callable[[str], str]:
    """How a variant writes a flag drawn in the mixed spellings ('' stays missing)."""
    if flags == "mixed":
        return lambda drawn: drawn
    true, false = FLAG_SPELLINGS[flags]
    return lambda drawn: drawn if drawn == "" else true if _MEANING[drawn] else false


def _created_times(rng: random.Random, tickets: int) -> list[datetime]:
    offsets = sorted(rng.randrange(_CREATED_SECONDS) for _ in range(tickets))
    return [_CREATED_FROM + timedelta(seconds=offset) for offset in offsets]


def _pick_specials(rng: random.Random, tickets: int) -> dict[int, tuple[str, str | None]]:
    """Choose which tickets carry the rare, guaranteed kinds of dirt."""
    wanted: list[tuple[str, str | None]] = []
    if tickets >= 10:
        wanted.append(("nul", None))
    if tickets >= 50:
        wanted += [("duplicate", None)] * max(1, tickets // 1000)
        wanted += [("long", None)] * max(1, tickets // 2000)
        wanted += [("closure", date) for date in IMPOSSIBLE_DATES] * max(1, tickets // 10000)
        wanted += [("hours", None)] * max(2, tickets // 1000)
    return dict(zip(rng.sample(range(tickets), len(wanted)), wanted, strict=True))


def _render(rng: random.Random, shapes: Picker, t: datetime) -> str:
    return shapes(rng).format(d=t.day, m=t.month, y=t.year, H=t.hour, M=t.minute, S=t.second)


def _number(rng: random.Random, value: float) -> str:
    return _NUMBER(rng).format(value)


def _pad(rng: random.Random, text: str, shapes: Picker = _PADDING) -> str:
    if rng.random() < 0.02:
        return shapes(rng).format(text)
    return text


def _or_placeholder(rng: random.Random, rate: float, make: Callable[..., str], *args: Any) -> Any:
    if rng.random() < rate:
        return _PLACEHOLDER(rng)
    return make(rng, *args)


def _prose(rng: random.Random, shortest: int, longest: int) -> str:
    """A run of words from a fixed pool, starting at a random place."""
    count = _between(rng, shortest, longest) - 1
    start = int(rng.random() * (len(_PROSE_POOL) - count))
    return _FIRST_WORD(rng) + "".join(_PROSE_POOL[start : start + count])


def _long_prose(rng: random.Random) -> str:
    target = _between(rng, 20_000, 40_000)
    parts: list[str] = []
    size = 0
    while size < target:
        parts.append(_prose(rng, 300, 600))
        size += len(parts[-1]) + 2
    return "\n\n".join(parts)


def _title(rng: random.Random) -> str:
    return f"{_SUBJECT(rng)} {_PROBLEM(rng)}{_TITLE_SUFFIX(rng)}"


def _minutes_later(rng: random.Random, moment: datetime, most: int) -> datetime:
    return moment + timedelta(minutes=_between(rng, 1, most))


def _orphan_id(rng: random.Random, tickets: int) -> str:
    return str(max(999_000, FIRST_TICKET_ID + tickets) + _between(rng, 0, 999))


def _ticket_rows(rng: random.Random, plan: _Plan) -> Iterator[tuple]:
    for index, opened in enumerate(plan.created):
        status = _STATUS(rng)
        if status in _CLOSED_STATUSES:
            closed = _minutes_later(rng, opened, 20 * _MINUTES_PER_DAY)
            modified = _minutes_later(rng, closed, 10 * _MINUTES_PER_DAY)
            closure: str | None = _render(rng, _TIMESTAMP, closed)  # None: NULL
            hours = _number(rng, round((closed - opened).total_seconds() / 900) / 4)
        else:
            modified = _minutes_later(rng, opened, 60 * _MINUTES_PER_DAY)
            closure = _OPEN_CLOSURE(rng)
            hours = _OPEN_HOURS(rng)
        description = _or_placeholder(rng, 0.03, _prose, 5, 80)
        kind, detail = plan.specials.get(index, (None, None))
        if kind == "nul":
            description = NUL_DESCRIPTION
        elif kind == "long":
            description = _long_prose(rng)
        elif kind == "closure":
            closure = detail
        elif kind == "hours":
            hours = _JUNK_HOURS(rng)
        row = (
            str(FIRST_TICKET_ID + index),
            _pad(rng, _title(rng)),
            _pad(rng, status, _SPACES),
            _or_placeholder(rng, 0.01, _CATEGORY),
            _SEVERITY(rng),
            _TEAM(rng),
            _ASSIGNEE(rng),
            _or_placeholder(rng, 0.01, _ACCOUNT),
            _render(rng, _TIMESTAMP, opened),
            _render(rng, _TIMESTAMP, modified),
            closure,
            plan.flag(_SLA_MET(rng)),
            plan.flag(_REOPENED(rng)),
            hours,
            description,
            *_sparse_values(plan),
        )
        yield row
        if kind == "duplicate":
            yield (row[0], row[1] + _DUPLICATE_SUFFIX(rng), *row[2:])


def _sparse_values(plan: _Plan) -> Iterator[str | None]:
    """One ticket's values of the sparse columns: mostly '' or NULL."""
    rng = plan.sparse_rng
    for _, make in plan.sparse:
        yield make(rng, len(plan.created)) if rng.random() < SPARSE_FILLED else _EMPTY(rng)


def _comment_user(rng: random.Random, owner: str) -> str:
    if owner == "Agent":
        return _PERSON(rng)[1]
    if owner == "Customer":
        return _CUSTOMER_USERS(rng)
    return "system"


def _comment_rows(rng: random.Random, plan: _Plan) -> Iterator[tuple]:
    tickets = len(plan.created)
    comment_ids = itertools.count(1)
    for index, opened in enumerate(plan.created):
        for _ in range(_between(rng, 0, 8)):
            ticket = str(FIRST_TICKET_ID + index)
            if rng.random() < 0.01:
                ticket = _orphan_id(rng, tickets)
            owner = _OWNER_TYPE(rng)
            yield (
                str(next(comment_ids)),
                ticket,
                _render(rng, _TIMESTAMP, _minutes_later(rng, opened, 30 * _MINUTES_PER_DAY)),
                _pad(rng, _prose(rng, 3, 40)),
                _or_placeholder(rng, 0.01, _comment_user, owner),
                owner,
                plan.flag(_VISIBLE(rng)),
                _COMMENT_TYPE(rng),
            )


def _timesheet_rows(rng: random.Random, plan: _Plan) -> Iterator[tuple]:
    tickets = len(plan.created)
    for index, opened in enumerate(plan.created):
        for _ in range(_between(rng, 0, 10)):
            category = _TS_CATEGORY(rng)
            if category != "Ticket Work":
                crm_id = _NO_CRM_ID(rng)
            elif rng.random() < 0.008:
                crm_id = _orphan_id(rng, tickets)
            else:
                crm_id = str(FIRST_TICKET_ID + index)
            hour, minute = _between(rng, 7, 17), 15 * _between(rng, 0, 3)
            start = datetime(opened.year, opened.month, opened.day, hour, minute)
            start += timedelta(days=_between(rng, 0, 30))
            quarters = _between(rng, 1, 16)
            full_name, username = _PERSON(rng)
            yield (
                _pad(rng, f"{category}: {_prose(rng, 2, 6)}"),
                _number(rng, quarters / 4),
                _render(rng, _DATE, start),
                _render(rng, _TIME, start),
                _render(rng, _TIME, start + timedelta(minutes=15 * quarters)),
                category,
                crm_id,
                username,
                full_name,
                _or_placeholder(rng, 0.05, _prose, 3, 30),
            )
