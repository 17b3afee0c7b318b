"""Dashboard query templates: every one runs on a migrated sample and matches figures
computed independently in Python from the sample SQLite file; each declares what it
reads, runs wherever that is met, and is "not applicable", named, where it is not.

The reference reads the raw export, types each value with the shared value
rules (placeholders and unconvertible values become None, like NULL after
migration), and computes each dashboard figure with plain Python.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from sdconsole.cli import main
from sdconsole.engine.rules import values
from sdconsole.engine.rules.naming import normalise
from sdconsole.engine.runtime.errors import BadInput, StageError
from sdconsole.engine.target import queries
from sdconsole.settings import DEFAULT_NULL_TOKENS

# Raw export columns and the type each has after migration.
COLUMN_TYPES = {
    "tickets": {
        "TKT-Ticket ID": "integer",
        "TKT-Title": "text",
        "TKT-Status": "text",
        "TKT-Category": "text",
        "TKT-Severity": "text",
        "TKT-Team": "text",
        "TKT-Assigned To": "text",
        "TKT-Account Name": "text",
        "TKT-Created Time": "timestamp",
        "TKT-Modified Time": "timestamp",
        "TKT-Closure Date": "timestamp",
        "TKT-SLA Met": "boolean",
        "TKT-Reopened": "boolean",
        "TKT-Resolution Hours": "numeric",
        "TKT-Description": "text",
    },
    "comments": {
        "CT-COMMENT-ID": "integer",
        "CT-TKT-ID": "integer",
        "CT-CREATED-TIME": "timestamp",
        "CT-COMMENT": "text",
        "CT-USERIDNAME": "text",
        "CT-OWNERTYPE": "text",
        "CT-VISIBLE-CUSTOMER": "boolean",
        "CT-TYPE": "text",
    },
    "timesheets": {
        "TS-Title": "text",
        "TS-Hours": "numeric",
        "TS-Date": "date",
        "TS-Time From": "time",
        "TS-Time To": "time",
        "TS-Category": "text",
        "TS-Crm ID": "integer",
        "TS-User Username": "text",
        "TS-User Full Name": "text",
        "TS-Description": "text",
    },
}
PYTHON_VALUE: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "numeric": Decimal,
    "boolean": lambda text: text == "true",
    "timestamp": values.timestamp_value,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "text": str,
}
NULL_TOKENS = frozenset(DEFAULT_NULL_TOKENS)
OPEN = ("Open", "In Progress", "On Hold")
CLOSED = ("Resolved", "Closed")
SEVERITY_RANK = {"Critical": 1, "High": 2, "Medium": 3, "Low": 4}
CENT = Decimal("0.01")
# Types of a column only counted, grouped or shown ("any"), taken in turn.
ANY_TYPES = ("text", "bigint", "boolean", "date", "bytea", "numeric")
# The n-th fitting type of every kind: each variant a schema the templates' needs accept.
VARIANTS = max(len(fits) for fits in queries.KINDS.values() if fits)


@dataclass
class Reference:
    """The sample, typed as it should be after migration, and the values that were rejected."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rejects: list[tuple[str, int, str]] = field(default_factory=list)  # table, rowid, column

    @property
    def tickets(self) -> list[dict[str, Any]]:
        return self.tables["tickets"]

    @property
    def comments(self) -> list[dict[str, Any]]:
        return self.tables["comments"]

    @property
    def timesheets(self) -> list[dict[str, Any]]:
        return self.tables["timesheets"]

    @property
    def unique_tickets(self) -> list[dict[str, Any]]:
        """One row per ticket id: the latest modified, then the first title (as the templates)."""
        chosen: dict[int, dict[str, Any]] = {}
        for row in self.tickets:
            key = row["tkt_ticket_id"]
            best = chosen.get(key)
            if best is None or _newer(row, best):
                chosen[key] = row
        return list(chosen.values())

    @property
    def as_of(self) -> datetime:
        return max(r["tkt_modified_time"] for r in self.tickets if r["tkt_modified_time"])


def _newer(row: dict[str, Any], best: dict[str, Any]) -> bool:
    def rank(r: dict[str, Any]) -> tuple:
        modified = r["tkt_modified_time"]
        return (modified is not None, modified or datetime.min, _neg_text(r["tkt_title"]))

    return rank(row) > rank(best)


def _neg_text(text: str | None) -> tuple:
    """Sort key under which the smallest title (C collation) ranks highest, NULL lowest."""
    if text is None:
        return (-math.inf,)
    return (*(-ord(c) for c in text), 1)


def load_reference(source: Path) -> Reference:
    ref = Reference()
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        for table, columns in COLUMN_TYPES.items():
            names = ", ".join('"' + name.replace('"', '""') + '"' for name in columns)
            rows = []
            for rowid, *raw in conn.execute(f'SELECT rowid, {names} FROM "{table}"'):
                row = {}
                for (name, kind), value in zip(columns.items(), raw, strict=True):
                    row[normalise(name)] = _typed(value, kind)
                    if row[normalise(name)] is None and not values.is_missing(value, NULL_TOKENS):
                        ref.rejects.append((table, rowid, normalise(name)))
                rows.append(row)
            ref.tables[table] = rows
    finally:
        conn.close()
    return ref


def _typed(value: Any, kind: str) -> Any:
    if values.is_missing(value, NULL_TOKENS):
        return None
    text = str(value).replace("\x00", "")
    if kind == "text":  # text keeps every byte but a NUL
        return text
    text = text.strip()
    try:
        return PYTHON_VALUE[kind](values.CONVERTERS[kind](text))
    except values.Unconvertible:
        return None


# -- helpers mirroring SQL semantics ------------------------------------------------------


def pct(part: Any, whole: Any) -> Decimal | None:
    """ROUND(100.0 * part / NULLIF(whole, 0), 2)"""
    if not whole:
        return None
    return (Decimal(100) * Decimal(part) / Decimal(whole)).quantize(CENT, ROUND_HALF_UP)


def seconds(later: datetime | None, earlier: datetime | None) -> int | None:
    if later is None or earlier is None:
        return None
    return (later - earlier) // timedelta(seconds=1)


def avg_hours(secs: Iterable[int | None]) -> Decimal | None:
    """ROUND(avg(seconds) / 3600, 2), NULLs ignored."""
    known = [s for s in secs if s is not None]
    if not known:
        return None
    return (Decimal(sum(known)) / len(known) / 3600).quantize(CENT, ROUND_HALF_UP)


def percentile_hours(secs: Iterable[int | None], fraction: float) -> Decimal | None:
    """ROUND(percentile_disc(fraction) WITHIN GROUP (ORDER BY seconds) / 3600, 2)"""
    known = sorted(s for s in secs if s is not None)
    if not known:
        return None
    index = max(math.ceil(fraction * len(known)), 1) - 1
    return (Decimal(known[index]) / 3600).quantize(CENT, ROUND_HALF_UP)


def text_key(text: str | None) -> tuple:
    """ORDER BY text COLLATE "C" NULLS LAST"""
    return (text is None, text or "")


def severity_key(severity: str | None) -> tuple:
    return (SEVERITY_RANK.get(severity, 99), text_key(severity))


def month(moment: date | None) -> date | None:
    return None if moment is None else date(moment.year, moment.month, 1)


def quarter(moment: date | None) -> date | None:
    return None if moment is None else date(moment.year, 3 * ((moment.month - 1) // 3) + 1, 1)


def group(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> dict:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def count(rows: Iterable[dict[str, Any]], test: Callable[[dict[str, Any]], Any]) -> int:
    return sum(1 for row in rows if test(row))


def total(numbers: Iterable[Decimal | None]) -> Decimal | None:
    known = [n for n in numbers if n is not None]
    return sum(known, Decimal(0)) if known else None


def sla(rows: list[dict[str, Any]]) -> tuple[int, int, Decimal | None]:
    known = count(rows, lambda r: r["tkt_sla_met"] is not None)
    met = count(rows, lambda r: r["tkt_sla_met"])
    return known, met, pct(met, known)


# -- expected results, one function per template --------------------------------------------

EXPECTED: dict[str, Callable[[Reference], list[tuple]]] = {}


def expect(func: Callable[[Reference], list[tuple]]) -> Callable[[Reference], list[tuple]]:
    EXPECTED[func.__name__] = func
    return func


@expect
def monthly_volume(ref: Reference) -> list[tuple]:
    tickets = ref.unique_tickets
    opened = group(
        (r for r in tickets if r["tkt_created_time"]), lambda r: month(r["tkt_created_time"])
    )
    closed = group(
        (r for r in tickets if r["tkt_closure_date"]), lambda r: month(r["tkt_closure_date"])
    )
    return [
        (m, len(opened.get(m, [])), len(closed.get(m, [])))
        for m in sorted(opened.keys() | closed.keys())
    ]


@expect
def sla_compliance_monthly(ref: Reference) -> list[tuple]:
    closed = group(
        (r for r in ref.unique_tickets if r["tkt_closure_date"]),
        lambda r: month(r["tkt_closure_date"]),
    )
    return [(m, len(rows), *sla(rows)) for m, rows in sorted(closed.items())]


@expect
def sla_compliance_by_severity(ref: Reference) -> list[tuple]:
    closed = group(
        (r for r in ref.unique_tickets if r["tkt_status"] in CLOSED), lambda r: r["tkt_severity"]
    )
    return [
        (severity or "(none)", len(rows), *sla(rows))
        for severity, rows in sorted(closed.items(), key=lambda kv: severity_key(kv[0]))
    ]


def _in_month(moment: datetime | None, start: date, end: date) -> bool:
    return moment is not None and start <= moment.date() < end


def _open_at(row: dict[str, Any], end: date) -> bool:
    """Created before ``end`` and not closed by then (closed without a date: left out)."""
    if row["tkt_created_time"] is None or row["tkt_created_time"].date() >= end:
        return False
    if row["tkt_closure_date"] is not None:
        return row["tkt_closure_date"].date() >= end
    return row["tkt_status"] not in CLOSED


@expect
def backlog_trend(ref: Reference) -> list[tuple]:
    tickets = ref.unique_tickets
    created = [r["tkt_created_time"] for r in tickets if r["tkt_created_time"]]
    result = []
    start = month(min(created))
    while start <= month(max(created)):
        end = month(start + timedelta(days=31))
        result.append(
            (
                start,
                sum(_in_month(r["tkt_created_time"], start, end) for r in tickets),
                sum(_in_month(r["tkt_closure_date"], start, end) for r in tickets),
                sum(_open_at(r, end) for r in tickets),
            )
        )
        start = end
    return result


@expect
def tickets_by_category(ref: Reference) -> list[tuple]:
    tickets = ref.unique_tickets
    groups = group(tickets, lambda r: r["tkt_category"])
    rows = [
        (
            category or "(none)",
            len(rows),
            count(rows, lambda r: r["tkt_status"] in OPEN),
            count(rows, lambda r: r["tkt_status"] in CLOSED),
            pct(len(rows), len(tickets)),
            category,
        )
        for category, rows in groups.items()
    ]
    rows.sort(key=lambda r: (-r[1], text_key(r[-1])))
    return [r[:-1] for r in rows]


@expect
def top_accounts(ref: Reference) -> list[tuple]:
    groups = group(
        (r for r in ref.unique_tickets if r["tkt_account_name"]), lambda r: r["tkt_account_name"]
    )
    rows = [
        (
            account,
            len(rows),
            count(rows, lambda r: r["tkt_status"] in OPEN),
            count(rows, lambda r: r["tkt_severity"] == "Critical"),
            sla([r for r in rows if r["tkt_status"] in CLOSED])[2],
        )
        for account, rows in groups.items()
    ]
    return sorted(rows, key=lambda r: (-r[1], text_key(r[0])))[:10]


@expect
def quarterly_summary(ref: Reference) -> list[tuple]:
    tickets = ref.unique_tickets
    opened = group(
        (r for r in tickets if r["tkt_created_time"]), lambda r: quarter(r["tkt_created_time"])
    )
    closed = group(
        (r for r in tickets if r["tkt_closure_date"]), lambda r: quarter(r["tkt_closure_date"])
    )
    result = []
    for q in sorted(opened.keys() | closed.keys()):
        done = closed.get(q, [])
        hours = avg_hours(seconds(r["tkt_closure_date"], r["tkt_created_time"]) for r in done)
        result.append((q, len(opened.get(q, [])), len(done), hours, sla(done)[2] if done else None))
    return result


@expect
def open_ticket_ageing(ref: Reference) -> list[tuple]:
    as_of = ref.as_of
    ages = [
        (as_of - r["tkt_created_time"], r["tkt_severity"])
        for r in ref.unique_tickets
        if r["tkt_status"] in OPEN and r["tkt_created_time"]
    ]
    bands = [
        ("under 7 days", 0, 7),
        ("7 to 30 days", 7, 30),
        ("30 to 90 days", 30, 90),
        ("over 90 days", 90, None),
    ]
    result = []
    for label, low, high in bands:
        inside = [
            sev
            for age, sev in ages
            if age >= timedelta(days=low) and (high is None or age < timedelta(days=high))
        ]
        result.append(
            (
                label,
                len(inside),
                *(inside.count(sev) for sev in ("Critical", "High", "Medium", "Low")),
            )
        )
    return result


@expect
def first_response_time(ref: Reference) -> list[tuple]:
    first: dict[int, datetime] = {}
    for c in ref.comments:
        if c["ct_ownertype"] == "Agent" and c["ct_created_time"] and c["ct_tkt_id"] is not None:
            key = c["ct_tkt_id"]
            first[key] = min(first.get(key, c["ct_created_time"]), c["ct_created_time"])
    groups = group(
        (r for r in ref.unique_tickets if r["tkt_created_time"]), lambda r: r["tkt_severity"]
    )
    result = []
    for severity, rows in sorted(groups.items(), key=lambda kv: severity_key(kv[0])):
        secs = [seconds(first.get(r["tkt_ticket_id"]), r["tkt_created_time"]) for r in rows]
        answered = [s for s in secs if s is not None]
        result.append(
            (
                severity or "(none)",
                len(answered),
                len(secs) - len(answered),
                avg_hours(answered),
                percentile_hours(answered, 0.5),
                pct(sum(1 for s in answered if s <= 86400), len(answered)),
            )
        )
    return result


@expect
def resolution_time_by_team_severity(ref: Reference) -> list[tuple]:
    groups = group(
        (r for r in ref.unique_tickets if r["tkt_closure_date"] and r["tkt_created_time"]),
        lambda r: (r["tkt_team"], r["tkt_severity"]),
    )
    result = []
    for (team, severity), rows in sorted(
        groups.items(), key=lambda kv: (text_key(kv[0][0]), severity_key(kv[0][1]))
    ):
        secs = [seconds(r["tkt_closure_date"], r["tkt_created_time"]) for r in rows]
        result.append(
            (
                team or "(none)",
                severity or "(none)",
                len(rows),
                avg_hours(secs),
                percentile_hours(secs, 0.5),
                percentile_hours(secs, 0.9),
            )
        )
    return result


@expect
def reopen_rate_by_team(ref: Reference) -> list[tuple]:
    groups = group(
        (r for r in ref.unique_tickets if r["tkt_status"] in CLOSED), lambda r: r["tkt_team"]
    )
    result = []
    for team, rows in sorted(groups.items(), key=lambda kv: text_key(kv[0])):
        reopened = count(rows, lambda r: r["tkt_reopened"])
        known = count(rows, lambda r: r["tkt_reopened"] is not None)
        result.append((team or "(none)", len(rows), reopened, pct(reopened, known)))
    return result


@expect
def resolution_hours_distribution(ref: Reference) -> list[tuple]:
    hours = [
        r["tkt_resolution_hours"]
        for r in ref.unique_tickets
        if r["tkt_resolution_hours"] is not None
    ]
    bands = [
        ("under 4 hours", None, 4),
        ("4 to 24 hours", 4, 24),
        ("1 to 3 days", 24, 72),
        ("3 to 7 days", 72, 168),
        ("over 7 days", 168, None),
    ]
    counts = [
        (label, sum(1 for h in hours if (low is None or h >= low) and (high is None or h < high)))
        for label, low, high in bands
    ]
    whole = sum(n for _, n in counts)
    return [(label, n, pct(n, whole)) for label, n in counts]


@expect
def stale_open_tickets(ref: Reference) -> list[tuple]:
    as_of = ref.as_of
    stale = [
        r
        for r in ref.unique_tickets
        if r["tkt_status"] in OPEN
        and r["tkt_modified_time"]
        and r["tkt_modified_time"] <= as_of - timedelta(days=14)
    ]
    stale.sort(key=lambda r: (r["tkt_modified_time"], r["tkt_ticket_id"]))
    return [
        (
            r["tkt_ticket_id"],
            r["tkt_title"],
            r["tkt_status"],
            r["tkt_severity"],
            r["tkt_team"],
            r["tkt_assigned_to"],
            r["tkt_modified_time"],
            (Decimal(seconds(as_of, r["tkt_modified_time"])) / 86400).quantize(
                Decimal("0.1"), ROUND_HALF_UP
            ),
        )
        for r in stale[:25]
    ]


@expect
def comment_activity_by_owner_type(ref: Reference) -> list[tuple]:
    groups = group(ref.comments, lambda c: c["ct_ownertype"])
    rows = [
        (
            owner or "(none)",
            len(rows),
            len({c["ct_tkt_id"] for c in rows if c["ct_tkt_id"] is not None}),
            pct(
                count(rows, lambda c: c["ct_visible_customer"]),
                count(rows, lambda c: c["ct_visible_customer"] is not None),
            ),
            owner,
        )
        for owner, rows in groups.items()
    ]
    rows.sort(key=lambda r: (-r[1], text_key(r[-1])))
    return [r[:-1] for r in rows]


@expect
def missing_values_by_column(ref: Reference) -> list[tuple]:
    result = []
    for table in sorted(ref.tables):
        rows = ref.tables[table]
        for column in sorted(rows[0]):
            missing = count(rows, lambda r, c=column: r[c] is None)
            result.append((table, column, len(rows), missing, pct(missing, len(rows))))
    return result


@expect
def rejects_by_column(ref: Reference) -> list[tuple]:
    groups = group(
        ({"key": (t, c), "rowid": rowid} for t, rowid, c in ref.rejects), lambda r: r["key"]
    )
    return [
        (table, column, len(rows), len({r["rowid"] for r in rows}))
        for (table, column), rows in sorted(groups.items())
    ]


def _orphans(rows: list[dict[str, Any]], id_column: str, ticket_ids: set[int]) -> list[dict]:
    return [r for r in rows if r[id_column] is not None and r[id_column] not in ticket_ids]


@expect
def orphan_comments(ref: Reference) -> list[tuple]:
    ticket_ids = {r["tkt_ticket_id"] for r in ref.tickets}
    orphans = _orphans(ref.comments, "ct_tkt_id", ticket_ids)
    return [
        (
            len(ref.comments),
            len(orphans),
            len({c["ct_tkt_id"] for c in orphans}),
            pct(len(orphans), len(ref.comments)),
            count(ref.comments, lambda c: c["ct_tkt_id"] is None),
        )
    ]


@expect
def orphan_timesheets(ref: Reference) -> list[tuple]:
    ticket_ids = {r["tkt_ticket_id"] for r in ref.tickets}
    orphans = _orphans(ref.timesheets, "ts_crm_id", ticket_ids)
    ticket_work = count(ref.timesheets, lambda s: s["ts_crm_id"] is not None)
    return [
        (
            len(ref.timesheets),
            ticket_work,
            len(orphans),
            len({s["ts_crm_id"] for s in orphans}),
            total(s["ts_hours"] for s in orphans) or Decimal(0),
            pct(len(orphans), ticket_work),
        )
    ]


@expect
def duplicate_ticket_ids(ref: Reference) -> list[tuple]:
    groups = group(
        (r for r in ref.tickets if r["tkt_ticket_id"] is not None), lambda r: r["tkt_ticket_id"]
    )
    return [
        (
            ticket_id,
            len(rows),
            len({r["tkt_title"] for r in rows if r["tkt_title"]}),
            min((r["tkt_created_time"] for r in rows if r["tkt_created_time"]), default=None),
        )
        for ticket_id, rows in sorted(groups.items())
        if len(rows) > 1
    ]


def _before(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a < b


@expect
def consistency_checks(ref: Reference) -> list[tuple]:
    created: dict[int, datetime] = {}
    for r in ref.tickets:
        if r["tkt_created_time"]:
            key = r["tkt_ticket_id"]
            created[key] = min(created.get(key, r["tkt_created_time"]), r["tkt_created_time"])
    tickets = ref.tickets
    return [
        (
            "resolved or closed without closure date",
            count(tickets, lambda r: r["tkt_status"] in CLOSED and r["tkt_closure_date"] is None),
        ),
        (
            "open with a closure date",
            count(tickets, lambda r: r["tkt_status"] in OPEN and r["tkt_closure_date"]),
        ),
        (
            "closed before created",
            count(tickets, lambda r: _before(r["tkt_closure_date"], r["tkt_created_time"])),
        ),
        (
            "modified before created",
            count(tickets, lambda r: _before(r["tkt_modified_time"], r["tkt_created_time"])),
        ),
        (
            "comment before its ticket was created",
            count(
                ref.comments, lambda c: _before(c["ct_created_time"], created.get(c["ct_tkt_id"]))
            ),
        ),
        (
            "timesheet entry ends before it starts",
            count(ref.timesheets, lambda s: _before(s["ts_time_to"], s["ts_time_from"])),
        ),
    ]


@expect
def workload_by_assignee(ref: Reference) -> list[tuple]:
    groups = group(
        (r for r in ref.unique_tickets if r["tkt_status"] in OPEN), lambda r: r["tkt_assigned_to"]
    )
    rows = [
        (
            assignee or "(unassigned)",
            len(rows),
            *(count(rows, lambda r, s=s: r["tkt_status"] == s) for s in OPEN),
            count(rows, lambda r: r["tkt_severity"] in ("Critical", "High")),
            min((r["tkt_created_time"] for r in rows if r["tkt_created_time"]), default=None),
            assignee,
        )
        for assignee, rows in groups.items()
    ]
    rows.sort(key=lambda r: (-r[1], text_key(r[-1])))
    return [r[:-1] for r in rows]


@expect
def resolved_by_assignee(ref: Reference) -> list[tuple]:
    groups = group(
        (r for r in ref.unique_tickets if r["tkt_status"] in CLOSED), lambda r: r["tkt_assigned_to"]
    )
    rows = [
        (
            assignee or "(unassigned)",
            len(rows),
            avg_hours(seconds(r["tkt_closure_date"], r["tkt_created_time"]) for r in rows),
            sla(rows)[2],
            count(rows, lambda r: r["tkt_reopened"]),
            assignee,
        )
        for assignee, rows in groups.items()
    ]
    rows.sort(key=lambda r: (-r[1], text_key(r[-1])))
    return [r[:-1] for r in rows]


def _hours(rows: list[dict[str, Any]], test: Callable[[dict[str, Any]], Any] = bool) -> Decimal:
    return total(s["ts_hours"] for s in rows if test(s)) or Decimal(0)


def _hours_order(rows: list[tuple]) -> list[tuple]:
    """ORDER BY hours DESC, key COLLATE "C" NULLS LAST (hours in column hours_at, key last)."""
    rows.sort(key=lambda r: text_key(r[-1]))
    rows.sort(key=lambda r: r[-2], reverse=True)
    return [r[:-2] for r in rows]


@expect
def timesheet_hours_by_user(ref: Reference) -> list[tuple]:
    groups = group(ref.timesheets, lambda s: s["ts_user_username"])
    rows = []
    for username, entries in groups.items():
        hours = _hours(entries)
        names = [s["ts_user_full_name"] for s in entries if s["ts_user_full_name"]]
        rows.append(
            (
                username,
                min(names, default=None),
                len(entries),
                len({s["ts_date"] for s in entries if s["ts_date"]}),
                hours,
                _hours(entries, lambda s: s["ts_crm_id"] is not None),
                _hours(entries, lambda s: s["ts_crm_id"] is None),
                hours,
                username,
            )
        )
    return _hours_order(rows)


@expect
def timesheet_hours_by_category(ref: Reference) -> list[tuple]:
    groups = group(ref.timesheets, lambda s: s["ts_category"])
    whole = _hours(ref.timesheets)
    rows = [
        (
            category or "(none)",
            len(entries),
            len({s["ts_user_username"] for s in entries if s["ts_user_username"]}),
            _hours(entries),
            pct(_hours(entries), whole),
            _hours(entries),
            category,
        )
        for category, entries in groups.items()
    ]
    return _hours_order(rows)


@expect
def timesheet_hours_by_user_month(ref: Reference) -> list[tuple]:
    groups = group(
        (s for s in ref.timesheets if s["ts_date"]),
        lambda s: (month(s["ts_date"]), s["ts_user_username"]),
    )
    return [
        (
            m,
            username,
            len(entries),
            _hours(entries),
            _hours(entries, lambda s: s["ts_crm_id"] is not None),
        )
        for (m, username), entries in sorted(
            groups.items(), key=lambda kv: (kv[0][0], text_key(kv[0][1]))
        )
    ]


@expect
def agent_comment_activity(ref: Reference) -> list[tuple]:
    groups = group(
        (c for c in ref.comments if c["ct_ownertype"] == "Agent" and c["ct_useridname"]),
        lambda c: c["ct_useridname"],
    )
    rows = []
    for agent, comments in groups.items():
        times = [c["ct_created_time"] for c in comments if c["ct_created_time"]]
        rows.append(
            (
                agent,
                len(comments),
                len({c["ct_tkt_id"] for c in comments if c["ct_tkt_id"] is not None}),
                count(comments, lambda c: c["ct_visible_customer"]),
                min(times, default=None),
                max(times, default=None),
            )
        )
    return sorted(rows, key=lambda r: (-r[1], r[0]))


@expect
def hours_per_ticket_by_team(ref: Reference) -> list[tuple]:
    team_of = {r["tkt_ticket_id"]: r["tkt_team"] for r in ref.unique_tickets}
    groups = group(
        (s for s in ref.timesheets if s["ts_crm_id"] in team_of), lambda s: team_of[s["ts_crm_id"]]
    )
    rows = []
    for team, entries in groups.items():
        tickets = len({s["ts_crm_id"] for s in entries})
        hours = total(s["ts_hours"] for s in entries)
        average = None if hours is None else (hours / tickets).quantize(CENT, ROUND_HALF_UP)
        rows.append((team or "(none)", tickets, hours, average, hours or Decimal(-1), team))
    return _hours_order(rows)


# -- tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(migrated_sample) -> Reference:
    return load_reference(Path(migrated_sample.source))


@pytest.fixture(scope="module")
def sample_conn(migrated_sample):
    with psycopg.connect(migrated_sample.dsn) as conn:
        yield conn


def test_at_least_23_templates_in_every_category_each_with_an_expectation():
    templates = queries.load_queries()
    assert len(templates) >= 23
    assert {t.category for t in templates} == set(queries.CATEGORIES)
    assert {t.name for t in templates} == set(EXPECTED)
    assert all(t.title and t.description for t in templates)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_template_matches_figures_computed_from_the_source(
    name, migrated_sample, sample_conn, reference
):
    template = queries.get_query(name)
    columns, rows = queries.run_query(sample_conn, template, migrated_sample.schema)
    expected = EXPECTED[name](reference)
    assert expected, f"{name}: the sample should give this dashboard something to show"
    assert len(columns) == len(expected[0])
    assert rows == expected


def test_the_sample_has_the_dirt_the_quality_templates_look_for(reference):
    assert duplicate_ticket_ids(reference)
    assert orphan_comments(reference)[0][1] > 0
    assert orphan_timesheets(reference)[0][2] > 0
    assert rejects_by_column(reference)


def test_run_query_is_read_only_and_leaves_the_search_path(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA dash")
        conn.execute("CREATE TABLE dash.tickets (id integer)")
        conn.execute("INSERT INTO dash.tickets VALUES (1), (2)")
        before = conn.execute("SHOW search_path").fetchone()[0]
        counting = queries.QueryTemplate("n", "n", "quality", "n", "SELECT count(*) FROM tickets")
        assert queries.run_query(conn, counting, "dash") == (["count"], [(2,)])
        assert conn.execute("SHOW search_path").fetchone()[0] == before
        writing = queries.QueryTemplate("w", "w", "quality", "w", "DELETE FROM tickets")
        with pytest.raises(StageError, match="query w on schema dash failed: .*read-only"):
            queries.run_query(conn, writing, "dash")
        assert conn.execute("SELECT count(*) FROM dash.tickets").fetchone()[0] == 2
        with pytest.raises(BadInput, match="schema 'nowhere' does not exist"):
            queries.run_query(conn, counting, "nowhere")


def fitting(kind: str, variant: int) -> str:
    """The ``variant``-th PostgreSQL type that holds a value of ``kind``."""
    fits = queries.KINDS[kind]
    types = ANY_TYPES if fits is None else sorted(fits)
    return types[variant % len(types)]


def create_for(
    conn: psycopg.Connection,
    schema: str,
    needs: Iterable[queries.Need],
    variant: int = 0,
    retyped: dict[str, str] | None = None,
) -> None:
    """``schema`` afresh with exactly the columns of ``needs``, in types that fit their kinds
    (``retyped``: column -> another type)."""
    retyped = retyped or {}
    conn.execute(
        sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}").format(
            sql.Identifier(schema)
        )
    )
    tables: dict[str, dict[str, str]] = {}
    for need in needs:
        tables.setdefault(need.table, {})[need.column] = retyped.get(
            need.column, fitting(need.kind, variant)
        )
    for table, columns in tables.items():
        conn.execute(
            sql.SQL("CREATE TABLE {}.{} ({})").format(
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
                    for c, t in columns.items()
                ),
            )
        )


def test_every_template_declares_the_tables_and_columns_it_reads():
    for template in queries.load_queries():
        assert template.needs, template.name
        words = set(re.findall(r"\w+", template.sql))
        undeclared = [
            f"{n.table}.{n.column}"
            for n in template.needs
            if n.table not in words or n.column not in words
        ]
        assert not undeclared, f"{template.name} declares what it does not read: {undeclared}"


@pytest.mark.parametrize("variant", range(VARIANTS))
def test_every_template_runs_wherever_its_needs_are_met(pg_dsn, variant):
    """A schema holding only what a template declares, in any of the types its kinds accept
    (0/1 integers are not a flag; a date is a timestamp; hours may be a double), runs it:
    what it reads is declared, and it does not depend on one type of a kind."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for template in queries.load_queries():
            create_for(conn, "needs", template.needs, variant)
            assert not queries.why_not_applicable(
                template, queries.schema_columns(conn, "needs")
            ), template.name
            columns, _ = queries.run_query(conn, template, "needs")
            assert columns, template.name


def test_a_template_whose_needs_are_not_met_is_not_applicable_naming_what_is_missing(pg_dsn):
    template = queries.get_query("resolved_by_assignee")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_for(conn, "flags01", template.needs, retyped={"tkt_reopened": "bigint"})
        with pytest.raises(queries.NotApplicable) as caught:
            queries.run_query(conn, template, "flags01")
        assert str(caught.value) == (
            "query resolved_by_assignee is not applicable to schema flags01:"
            " needs tickets.tkt_reopened as a flag; it is bigint"
        )
        assert caught.value.exit_code == 2

        create_for(
            conn,
            "partial",
            [n for n in template.needs if n.column != "tkt_team"]
            + [queries.Need("tickets", "tkt_sla_met", "text")],
            retyped={"tkt_created_time": "text", "tkt_sla_met": "text"},
        )
        assert (
            queries.why_not_applicable(
                queries.get_query("reopen_rate_by_team"), queries.schema_columns(conn, "partial")
            )
            == "needs tickets.tkt_team, which tickets does not have"
        )
        assert queries.why_not_applicable(template, queries.schema_columns(conn, "partial")) == (
            "needs tickets.tkt_created_time as a timestamp; it is text;"
            " needs tickets.tkt_sla_met as a flag; it is text"
        )

        conn.execute("CREATE SCHEMA garden")
        conn.execute("CREATE TABLE garden.plants (name text, height numeric)")
        assert (
            queries.why_not_applicable(
                queries.get_query("consistency_checks"), queries.schema_columns(conn, "garden")
            )
            == "needs tables tickets, comments, timesheets, which the schema does not have"
        )


def test_needs_lines_are_parsed_and_a_malformed_one_names_the_file():
    text = (
        "-- name: x\n-- title: X\n-- category: team\n-- description: d\n"
        "-- needs: tickets(tkt_team text, tkt_reopened flag)\n"
        "-- needs: comments(ct_tkt_id number)\n-- needs: tickets(tkt_title any)\n"
        "SELECT 1\n"
    )
    template = queries.parse_template("x.sql", text)
    assert template.needs == (
        queries.Need("tickets", "tkt_team", "text"),
        queries.Need("tickets", "tkt_reopened", "flag"),
        queries.Need("comments", "ct_tkt_id", "number"),
        queries.Need("tickets", "tkt_title", "any"),
    )
    for line, message in (
        ("-- needs: tickets", "needs 'tickets' is not 'table\\(column kind"),
        ("-- needs: tickets()", "needs 'tickets\\(\\)' is not"),
        ("-- needs: tickets(tkt_team)", "needs 'tickets\\(tkt_team\\)' is not"),
        ("-- needs: tickets(tkt_team bool)", "unknown kind 'bool' \\(one of flag,"),
    ):
        with pytest.raises(queries.TemplateError, match=f"x.sql: {message}"):
            queries.parse_template(
                "x.sql", text.replace("-- needs: comments(ct_tkt_id number)", line)
            )


def test_every_header_reads_back_as_the_same_template():
    for template in queries.load_queries():
        again = queries.parse_template(
            f"{template.name}.sql", f"{template.header()}\n{template.sql};\n"
        )
        assert again == template


def test_a_template_is_ordered_by_an_order_by_outside_every_parenthesis():
    def ordered(text: str) -> bool:
        return queries.QueryTemplate("x", "x", "team", "x", text).ordered

    assert ordered("SELECT a FROM t ORDER BY a")
    assert ordered("SELECT '(' AS p, a FROM t order  by a")
    assert ordered("WITH x AS (SELECT 1 AS a) SELECT a FROM x UNION ALL SELECT 2 ORDER BY 1")
    assert not ordered("SELECT count(*) OVER (ORDER BY a) FROM t")
    assert not ordered("WITH x AS (SELECT a FROM t ORDER BY a) SELECT a FROM x")
    assert not ordered("SELECT a FROM t -- ORDER BY a")
    assert not ordered('SELECT "ORDER BY" FROM t')
    assert not queries.get_query("orphan_comments").ordered
    assert queries.get_query("monthly_volume").ordered


def test_a_malformed_header_is_an_error_naming_the_file():
    good = "-- name: x\n-- title: X\n-- category: team\n-- description: d\nSELECT 1\n"
    assert queries.parse_template("x.sql", good).sql == "SELECT 1"
    with pytest.raises(queries.TemplateError, match="y.sql: header lacks description"):
        queries.parse_template(
            "y.sql", good.replace("name: x", "name: y").replace("-- description: d\n", "")
        )
    with pytest.raises(queries.TemplateError, match="x.sql: unknown category 'sales'"):
        queries.parse_template("x.sql", good.replace("team", "sales"))
    with pytest.raises(queries.TemplateError, match="z.sql: name 'x' must .* match the file"):
        queries.parse_template("z.sql", good)
    with pytest.raises(queries.TemplateError, match="x.sql: no SQL"):
        queries.parse_template("x.sql", good.replace("SELECT 1\n", ""))


def test_cli_lists_and_shows_templates(capsys):
    assert main(["queries", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    for template in queries.load_queries():
        assert any(
            line.split()[:2] == [template.name, template.category] and template.title in line
            for line in listed
        )
    assert main(["queries", "show", "backlog_trend"]) == 0
    shown = capsys.readouterr().out
    assert queries.get_query("backlog_trend").sql in shown
    assert "-- title: Backlog trend" in shown
    assert "-- needs: tickets(tkt_ticket_id any, tkt_modified_time timestamp," in shown


def test_cli_unknown_query_exits_2_with_one_line(capsys):
    assert main(["queries", "show", "no_such_query"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sdconsole: error: unknown query 'no_such_query' (see 'sdconsole queries list')"]


def test_cli_runs_a_template_as_a_table_and_as_json(migrated_sample, reference, capsys, tmp_path):
    args = [
        "--workdir",
        str(tmp_path),
        "queries",
        "run",
        "sla_compliance_by_severity",
        "--target",
        migrated_sample.dsn,
        "--schema",
        migrated_sample.schema,
    ]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["severity", "closed", "sla_known", "sla_met", "compliance_pct"]
    expected = sla_compliance_by_severity(reference)
    body = [line.split() for line in lines[2:] if line.strip()]
    assert body[: len(expected)] == [[str(v) for v in row] for row in expected]

    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["columns"][0] == "severity"
    assert data["rows"] == [
        [v if isinstance(v, (int, str)) else str(v) for v in row] for row in expected
    ]


def test_cli_says_a_template_is_not_applicable_and_exits_2(pg_dsn, capsys, tmp_path):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        create_for(
            conn,
            "flags01",
            queries.get_query("reopen_rate_by_team").needs,
            retyped={"tkt_reopened": "bigint"},
        )
        conn.execute("CREATE SCHEMA garden")
        conn.execute("CREATE TABLE garden.plants (name text, height numeric)")
    args = ["--workdir", str(tmp_path), "queries", "run", "--target", pg_dsn]
    assert main([*args, "reopen_rate_by_team", "--schema", "flags01"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "sdconsole: error: query reopen_rate_by_team is not applicable to schema flags01:"
        " needs tickets.tkt_reopened as a flag; it is bigint"
    ]
    assert main([*args, "monthly_volume", "--schema", "garden", "--json"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "sdconsole: error: query monthly_volume is not applicable to schema garden:"
        " needs table tickets, which the schema does not have"
    ]
    assert main([*args, "rejects_by_column", "--schema", "garden"]) == 2
    assert "needs table _rejects" in capsys.readouterr().err
