"""Dashboard query templates: the .sql files shipped in the ``sdconsole.queries`` package.

Each file starts with a header of ``-- key: value`` comment lines (name,
title, category, description, and any number of ``needs``), then one
SELECT. Tables are named without a schema (``tickets``, ``comments``,
``timesheets``, ``_rejects``): :func:`run_query` sets the search_path, so
the same template runs on the stable schema, a versioned schema or the
canary.

The templates are written for the ServiceDesk shape, and a migrated
database may have another. So each declares what it reads, a ``needs``
line per table: ``-- needs: tickets(tkt_team text, tkt_reopened flag)``.
A kind says which PostgreSQL types fit (:data:`KINDS`): ``flag`` boolean,
``timestamp`` a timestamp or a date, ``time`` a time of day, ``number`` an
integer, numeric or floating type, ``text`` text, and ``any`` any type
(a column only counted, grouped or shown). A template whose needs a schema
does not meet is not applicable to it (:class:`NotApplicable`, naming the
missing or mistyped column) rather than a PostgreSQL error.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg

from sdconsole.engine.runtime.errors import BadInput, StageError
from sdconsole.engine.target import metadata

CATEGORIES = ("executive", "operations", "quality", "team")
HEADER_KEYS = ("name", "title", "category", "description")
NEEDS = "needs"  # the header key that may repeat
# Kind of value -> the information_schema data types that hold it (None: any type).
KINDS: dict[str, frozenset[str] | None] = {
    "flag": frozenset({"boolean"}),
    "timestamp": frozenset({"timestamp without time zone", "timestamp with time zone", "date"}),
    "time": frozenset({"time without time zone", "time with time zone"}),
    "number": frozenset({"smallint", "integer", "bigint", "numeric", "real", "double precision"}),
    "text": frozenset({"text", "character varying", "character"}),
    "any": None,
}
_HEADER_LINE = re.compile(r"--\s*(\w+):\s*(.*?)\s*")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_NEEDS = re.compile(r"(\w+)\s*\((.*)\)")
_NEED = re.compile(r"(\w+)\s+(\w+)")
# Text an ORDER BY may hide in: comments, string literals, quoted names.
_NOT_CODE = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


@dataclass(frozen=True)
class Need:
    """A column a template reads, and the kind of value it must hold (a key of :data:`KINDS`)."""

    table: str
    column: str
    kind: str


@dataclass(frozen=True)
class QueryTemplate:
    name: str
    title: str
    category: str
    description: str
    sql: str
    needs: tuple[Need, ...] = ()

    @property
    def ordered(self) -> bool:
        """Whether the result has an order: an ORDER BY outside every parenthesis."""
        depth = 0
        code = _NOT_CODE.sub(" ", self.sql)
        for token in re.findall(r"[()]|\bORDER\s+BY\b", code, re.IGNORECASE):
            if token == "(":
                depth += 1
            elif token == ")":
                depth -= 1
            elif depth == 0:
                return True
        return False

    def header(self) -> str:
        """The template's header lines, as a file has them (a table's needs on one line)."""
        lines = [f"-- {key}: {getattr(self, key)}" for key in HEADER_KEYS]
        for table, needs in itertools.groupby(self.needs, key=lambda n: n.table):
            lines.append(
                f"-- {NEEDS}: {table}(" + ", ".join(f"{n.column} {n.kind}" for n in needs) + ")"
            )
        return "\n".join(lines)


class TemplateError(StageError):
    """A packaged .sql file is malformed; the message names the file."""


class NotApplicable(BadInput):
    """A template's needs are not met by the schema; the message names what is missing."""


def parse_template(filename: str, text: str) -> QueryTemplate:
    """Split a template file into its header fields, its needs and its SQL (see the module
    docstring)."""
    lines = text.splitlines()
    header_matches: list[re.Match[str]] = []  # the comment lines at the top
    for line in lines:
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            break
        header_matches.append(match)
    header: dict[str, str] = {}
    needs: list[Need] = []
    for match in header_matches:
        key, value = match.groups()
        if key == NEEDS:
            needs += _parse_needs(filename, value)
        elif key in HEADER_KEYS:
            header[key] = value
        else:
            raise TemplateError(f"query template {filename}: unknown header key {key!r}")
    missing = [key for key in HEADER_KEYS if not header.get(key)]
    if missing:
        raise TemplateError(f"query template {filename}: header lacks {', '.join(missing)}")
    if not _NAME.fullmatch(header["name"]) or f"{header['name']}.sql" != filename:
        raise TemplateError(
            f"query template {filename}: name {header['name']!r} must be lower_snake_case"
            " and match the file name"
        )
    if header["category"] not in CATEGORIES:
        raise TemplateError(
            f"query template {filename}: unknown category"
            f" {header['category']!r} (one of {', '.join(CATEGORIES)})"
        )
    sql_text = "\n".join(lines[len(header_matches) :]).strip().rstrip(";").strip()
    if not sql_text:
        raise TemplateError(f"query template {filename}: no SQL after the header")
    return QueryTemplate(sql=sql_text, needs=tuple(needs), **header)


def _parse_needs(filename: str, value: str) -> list[Need]:
    """``table(column kind, ...)`` -> its needs; TemplateError naming the file otherwise."""
    found = _NEEDS.fullmatch(value)
    items = [item.strip() for item in found.group(2).split(",")] if found else []
    pairs = [p for p in map(_NEED.fullmatch, items) if p is not None]
    if found is None or not items or len(pairs) != len(items):
        raise TemplateError(
            f"query template {filename}: needs {value!r} is not 'table(column kind, ...)'"
        )
    unknown = sorted({p.group(2) for p in pairs} - KINDS.keys())
    if unknown:
        raise TemplateError(
            f"query template {filename}: unknown kind {unknown[0]!r} (one of {', '.join(KINDS)})"
        )
    return [Need(found.group(1), *p.groups()) for p in pairs]


def load_queries() -> list[QueryTemplate]:
    """Every packaged template, ordered by category then name."""
    return list(_load_all())


@cache
def _load_all() -> tuple[QueryTemplate, ...]:
    folder = resources.files("sdconsole.queries")
    templates = [
        parse_template(entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return tuple(sorted(templates, key=lambda t: (CATEGORIES.index(t.category), t.name)))


def get_query(name: str) -> QueryTemplate:
    """The template called ``name``; BadInput naming the known ones otherwise."""
    for template in load_queries():
        if template.name == name:
            return template
    raise BadInput(f"unknown query {name!r} (see 'sdconsole queries list')")


Columns = dict[str, dict[str, str]]  # table -> column -> information_schema data_type


def schema_columns(conn: psycopg.Connection, schema: str) -> Columns:
    """The tables and views of ``schema`` with their columns' types, as the catalog has them."""
    columns: Columns = {}
    for table, column, data_type in conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s",
        (schema,),
    ):
        columns.setdefault(table, {})[column] = data_type
    return columns


def why_not_applicable(template: QueryTemplate, columns: Columns) -> str:
    """Why the template's needs are not met by a schema's ``columns``; "" when they are.

    Names each missing table, then each missing or mistyped column:
    ``needs tickets.tkt_reopened as a flag; it is bigint``.
    """
    tables = dict.fromkeys(need.table for need in template.needs)
    absent = [table for table in tables if table not in columns]
    reasons = (
        [
            f"needs table{'s' if len(absent) > 1 else ''} {', '.join(absent)},"
            " which the schema does not have"
        ]
        if absent
        else []
    )
    for need in template.needs:
        if need.table in absent:
            continue
        found = columns[need.table].get(need.column)
        where = f"{need.table}.{need.column}"
        fits = KINDS[need.kind]
        if found is None:
            reasons.append(f"needs {where}, which {need.table} does not have")
        elif fits is not None and found not in fits:
            reasons.append(f"needs {where} as {_article(need.kind)} {need.kind}; it is {found}")
    return "; ".join(reasons)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def run_query(
    conn: psycopg.Connection, template: QueryTemplate, schema: str
) -> tuple[list[str], list[tuple]]:
    """Run a template on ``schema`` in a read-only transaction; return (columns, rows).

    The search_path is set for this transaction only, so the connection is
    left as it was. A missing schema is BadInput; a template whose needs
    the schema does not meet is NotApplicable (checked first, so the
    operator reads what is missing instead of a PostgreSQL error); an SQL
    error is a one-line StageError naming the query and the schema.
    """
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            if not metadata.schema_exists(conn, schema):
                raise BadInput(f"schema {schema!r} does not exist in the target")
            if template.needs:
                reason = why_not_applicable(template, schema_columns(conn, schema))
                if reason:
                    raise NotApplicable(
                        f"query {template.name} is not applicable to schema {schema}: {reason}"
                    )
            conn.execute("SELECT set_config('search_path', %s, true)", (schema,))
            cursor = conn.execute(template.sql)
            columns = [column.name for column in cursor.description or ()]
            return columns, cursor.fetchall()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StageError(f"query {template.name} on schema {schema} failed: {reason}") from None
