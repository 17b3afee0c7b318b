"""What a column becomes, with its evidence, from its scan; the tables' keys and the plan.

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

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard, TypeVar

from psycopg import sql

from sdconsole.engine.records.plan import ColumnPlan, ForeignKeyPlan, Plan, TablePlan
from sdconsole.engine.records.profile import (
    ColumnOverride,
    ColumnProfile,
    DateEvidence,
    TableProfile,
)
from sdconsole.engine.rules.naming import normalise_all
from sdconsole.engine.rules.values import WHITESPACE, DateOrder, FlagWords, lossy_number
from sdconsole.engine.source.sqlite import DeclaredForeignKey, declared_schema, sqlite_sql
from sdconsole.engine.stages.profile.scan import (
    EXAMPLES,
    KEY_ID_DISTINCT_SHARE,
    KEY_MAX_LENGTH,
    ORDERS,
    ColumnScan,
)
from sdconsole.settings import Settings

PREFERENCE = ("boolean", "integer", "numeric", "date", "timestamp", "time")
DATE_TYPES = frozenset({"date", "timestamp"})
# ServiceDesk flags the dashboards read as booleans, by identifier (names match in any case).
KNOWN_FLAGS = frozenset({"tkt_sla_met", "tkt_reopened", "ct_visible_customer"})
KEY_DISTINCT_SHARE = 0.99
MAJORITY = 0.5
V = TypeVar("V")


class Overrides:
    """The operator's ``table.column`` overrides, matched by source name or identifier."""

    def __init__(self, settings: Settings) -> None:
        self.types = settings.type_overrides
        self.orders = settings.date_order_overrides
        self.used: set[str] = set()

    def find(
        self, mapping: Mapping[str, V], table: TableProfile, name: str, ident: str
    ) -> V | None:
        for key, value in mapping.items():
            table_key, _, column_key = key.partition(".")
            if table_key in (table.name, table.ident) and column_key in (name, ident):
                self.used.add(key)
                return value
        return None

    def unmatched(self) -> list[str]:
        return [key for key in (*self.types, *self.orders) if key not in self.used]


def profile_tables(
    conn, settings: Settings, shapes, scans, overrides: Overrides, flag_words: FlagWords
) -> list[TableProfile]:
    idents = normalise_all([t for t, _, _ in shapes])
    tables = []
    for name, columns, rows in shapes:
        table = TableProfile(name, idents[name], rows, declared=declared_schema(conn, name))
        column_idents = normalise_all([c for c, _ in columns])
        for column, declared in columns:
            ident = column_idents[column]
            scan = scans[(name, column)]
            table.columns.append(
                column_profile(
                    column,
                    declared,
                    ident,
                    scan,
                    settings,
                    overrides.find(overrides.types, table, column, ident),
                    overrides.find(overrides.orders, table, column, ident),
                )
            )
            explain_flags(table.columns[-1], scan, flag_words)
        choose_key(conn, table, scans)
        table.date_column = main_date_column(table.columns)
        tables.append(table)
    return tables


def column_profile(
    name: str,
    declared: str,
    ident: str,
    scan: ColumnScan,
    settings: Settings,
    type_override: str | None = None,
    order_override: DateOrder | None = None,
) -> ColumnProfile:
    """Decide a column's date order and type from its scan; overrides win over evidence.

    An overridden column is marked with what the evidence alone made of it; its counts,
    findings and validity are those of the type and order it is loaded as.
    """
    dates = _date_evidence(scan, order_override, settings.date_order)
    order = dates.decision if _is_order(dates.decision) else settings.date_order
    shares = _shares(
        scan, None if dates.decision == "contradicting" else order, ident in KNOWN_FLAGS
    )
    inferred = _stored_type(scan, declared) or next(
        (t for t in PREFERENCE if shares.get(t, 0.0) >= settings.type_confidence), "text"
    )
    if (
        inferred == "integer"
        and _DECLARED_BOOLEAN.search(declared)
        and (scan.conform["boolean"] == scan.present)
    ):
        inferred = "boolean"
    column = ColumnProfile(
        name=name,
        ident=ident,
        declared_type=declared,
        inferred_type=inferred,
        type=inferred,
        confidence=round(shares.get(inferred, 1.0), 4),
        date_order=order,
        rows=scan.rows,
        nulls=scan.nulls,
        empties=scan.empties,
        placeholders=dict(sorted(scan.placeholders.items())),
        present=scan.present,
        distinct=scan.distinct,
        max_length=scan.max_length,
        nul_bytes=scan.nul_bytes,
        whitespace=scan.whitespace,
        non_text=scan.non_text,
        repeated_values=scan.repeated_values,
        blobs=scan.blobs,
        invalid_utf8=scan.invalid_utf8,
        lossy=scan.lossy,
    )
    date_like = sum(scan.evidence.values()) >= MAJORITY * scan.present > 0
    if inferred in DATE_TYPES or date_like or type_override in DATE_TYPES:
        column.date_evidence = dates
        if dates.decision == "contradicting" or inferred in DATE_TYPES:
            column.flagged = dates.reason
    if inferred == "text" and scan.lossy and not column.flagged:
        example = scan.examples["lossy"][0]
        column.flagged = (
            f"{scan.lossy:,} values such as {example!r} are numbers a number"
            f" type would not keep as written ({lossy_number(example)}):"
            " kept as text"
        )
    elif inferred == "text" and not column.flagged and scan.present:
        best = max(PREFERENCE, key=lambda t: shares.get(t, 0.0))
        if shares.get(best, 0.0) >= MAJORITY:
            column.candidate = best
            column.flagged = (
                f"only {shares[best]:.1%} of values are {best}"
                f" (threshold {settings.type_confidence:.0%}): kept as text"
            )
    if type_override:
        column.type, column.flagged, column.candidate = type_override, "", None
    if column.type == "numeric":
        _declared_precision(column, scan)
    column.departure = _departure(column, declared, shares)
    _validity(column, scan)
    _range(column, scan)
    if type_override or order_override:
        natural = column_profile(name, declared, ident, scan, settings)
        column.overridden = ColumnOverride(
            natural.type, natural.date_order, type_override, order_override
        )
    return column


_DECLARED_BOOLEAN = re.compile(r"BOOL", re.I)
_DECLARED_DECIMAL = re.compile(r"DEC|NUMERIC|MONEY", re.I)
_DECLARED_PRECISION = re.compile(
    r"(?:DECIMAL|NUMERIC|DEC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", re.I
)
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
    if (
        scan.reals
        and scan.reals + scan.exact_integers == scan.present
        and not _DECLARED_DECIMAL.search(declared)
    ):
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
        column.note = (
            f"values do not fit the declared {column.declared_type} (up to"
            f" {scan.digits} digits before and {scan.scale} after the point):"
            " loaded as numeric"
        )


def _departure(column: ColumnProfile, declared: str, shares: dict[str, float]) -> str:
    """Why the type is not what the declared type leads one to expect ('' when it is)."""
    expected = next(
        (types for pattern, types in _DECLARED_FAMILIES if pattern.search(declared)), None
    )
    if not declared or expected is None or column.type in expected:
        return ""
    if column.type == column.inferred_type != "text":
        share = shares.get(column.type)
        why = (
            "every value is stored as " + ("BLOB" if column.type == "bytea" else "REAL")
            if share is None
            else f"{share:.1%} of {column.present:,} values are {column.type}"
        )
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


def explain_flags(column: ColumnProfile, scan: ColumnScan, flag_words: FlagWords) -> None:
    """The column's words of setting flag_words, and its ``flag_evidence``: why it is a
    flag, or why not when it holds only 0 and 1 or is a known flag."""
    column.true_words = sorted(w for w in scan.flags if w in flag_words.true)
    column.false_words = sorted(w for w in scan.flags if w in flag_words.false)
    known = column.ident in KNOWN_FLAGS
    zeros_ones = scan.flags["0"] + scan.flags["1"]
    only_01 = scan.present > 0 and zeros_ones == scan.present
    spelt = ", ".join(
        f"{word} {rows:,}"
        for word, rows in sorted(scan.flags.items(), key=lambda item: (-item[1], item[0]))
    )
    flag = f"{column.ident} is a ServiceDesk flag the dashboards read"
    if column.inferred_type == "boolean":
        if scan.flag_words:
            why = f"its values are flag words{' and 0/1' if zeros_ones else ''} ({spelt})" + (
                f", and {flag}" if known else ""
            )
        elif known:
            why = f"{flag}, and its values are 0 and 1 ({spelt})"
        else:
            why = f"declared {column.declared_type}, and its values are 0 and 1 ({spelt})"
        column.flag_evidence = "a flag: " + why
    elif known:
        what = (
            f"{scan.present - scan.conform['boolean']:,} of its {scan.present:,} values"
            " are neither flag words nor 0/1"
            if scan.present
            else "it holds no values"
        )
        column.flag_evidence = (
            f"not a flag: {column.ident} is a ServiceDesk flag, but {what}:"
            f" kept as {column.inferred_type}"
        )
    elif only_01 and column.inferred_type == "integer":
        column.flag_evidence = (
            f"not a flag: only 0 and 1 ({spelt}), but no known flag (ids"
            " and counts look the same): kept as integer; a type override"
            " to boolean makes it one"
        )


def _is_order(decision: str) -> TypeGuard[DateOrder]:
    """Whether a date evidence decision is an order (not 'contradicting')."""
    return decision in ORDERS


def _date_evidence(scan: ColumnScan, override: str | None, default: str) -> DateEvidence:
    ev_ = scan.evidence
    dates = DateEvidence(
        iso=ev_["iso"],
        day_first=ev_["day-first"],
        month_first=ev_["month-first"],
        ambiguous=ev_["ambiguous"],
        examples={
            k: scan.examples[k]
            for k in ("iso", "day-first", "month-first", "ambiguous", "impossible")
            if k in scan.examples
        },
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
            dates.reason = (
                f"all {dates.ambiguous:,} dates are ambiguous (day and month"
                f" both <= 12): read as {default} (setting date_order)"
            )
    dates.impossible_in = {order: scan.impossible[order] for order in ORDERS}
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
        column.invalid = scan.present - (
            scan.blobs if kind == "bytea" else scan.reals + scan.exact_integers
        )
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


def choose_key(conn, table: TableProfile, scans: dict) -> None:
    """Mark key candidates, choose the table's key and count its duplicated (trimmed) values:
    from its scan when it has them, else in SQLite. A declared single-column primary
    key is the key, its values unique as SQLite enforces them. Chosen afresh each call
    (an override can change which columns could be the key)."""
    declared = table.declared.primary_key
    if declared:
        table.key = declared[0] if len(declared) == 1 else None
        return
    table.key, table.duplicate_keys, table.duplicate_rows = None, 0, 0
    table.duplicate_examples = []
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
            and (
                column.type == "integer"
                or (column.type == "text" and column.max_length <= KEY_MAX_LENGTH)
            )
        )
        if column.key_candidate:
            candidates.append((id_named, column.distinct, -len(candidates), column))
    if not candidates:
        return
    key = max(candidates, key=lambda c: c[:3])[3]
    table.key = key.name
    scanned = scans.get((table.name, key.name))
    found = scanned.duplicates if scanned is not None else None
    if found is None:
        repeated = conn.execute(
            sqlite_sql(
                sql.SQL(
                    "SELECT v, count(*) FROM (SELECT trim({}, ?) AS v FROM {})"
                    " GROUP BY v HAVING count(*) > 1"
                ).format(sql.Identifier(key.name), sql.Identifier(table.name))
            ),
            (WHITESPACE,),
        ).fetchall()
        found = (
            len(repeated),
            sum(count - 1 for _, count in repeated),
            [str(value) for value, _ in repeated[:EXAMPLES]],
        )
    table.duplicate_keys, table.duplicate_rows, table.duplicate_examples = found


def main_date_column(columns: list[ColumnProfile]) -> str | None:
    dated = [c for c in columns if c.type in DATE_TYPES]
    created = [c for c in dated if "created" in c.ident]
    ranked = created or [c for c in dated if c.type == "timestamp"] or dated
    return ranked[0].name if ranked else None


def plan_of(tables: list[TableProfile]) -> Plan:
    """The plan: each table's columns as decided, its declared keys, else an inferred one."""
    by_name = {t.name.lower(): t for t in tables}
    return Plan(tables=[table_plan(t, by_name) for t in tables])


def table_plan(table: TableProfile, by_name: dict[str, TableProfile]) -> TablePlan:
    declared = table.declared
    idents = {c.name.lower(): c.ident for c in table.columns}
    key = table.column(table.key) if table.key and not declared.primary_key else None
    inferred = [key.ident] if key and not table.duplicate_keys and key.present == table.rows else []
    return TablePlan(
        name=table.name,
        ident=table.ident,
        rows=table.rows,
        columns=[
            ColumnPlan(
                c.name,
                c.ident,
                c.type,
                c.date_order,
                c.flagged,
                c.precision,
                c.scale,
                c.invalid_utf8,
                c.true_words,
                c.false_words,
            )
            for c in table.columns
        ],
        primary_key=[idents[c.lower()] for c in declared.primary_key] or inferred,
        key_inferred=bool(inferred),
        unique=[[idents[c.lower()] for c in columns] for columns in declared.unique],
        foreign_keys=[
            key
            for key in (_foreign_key(k, idents, by_name) for k in declared.foreign_keys)
            if key is not None
        ],
        date_column=table.column(table.date_column).ident if table.date_column else None,
        order_by=list(declared.primary_key) if declared.without_rowid else [],
    )


def _foreign_key(
    key: DeclaredForeignKey, idents: dict[str, str], by_name: dict[str, TableProfile]
) -> ForeignKeyPlan | None:
    """A declared foreign key by idents; None when it names what the source does not have
    (SQLite accepts such a declaration; PostgreSQL would refuse it)."""
    parent = by_name.get(key.parent.lower())
    if parent is None:
        return None
    parent_idents = {c.name.lower(): c.ident for c in parent.columns}
    parent_columns = key.parent_columns or parent.declared.primary_key
    if (
        len(parent_columns) != len(key.columns)
        or not all(c.lower() in parent_idents for c in parent_columns)
        or not all(c.lower() in idents for c in key.columns)
    ):
        return None
    return ForeignKeyPlan(
        [idents[c.lower()] for c in key.columns],
        parent.ident,
        [parent_idents[c.lower()] for c in parent_columns],
    )
