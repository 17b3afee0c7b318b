"""Dashboard query templates: the .sql files shipped in the ``sdconsole.queries`` package.

Each file starts with a header of ``-- key: value`` comment lines (name,
title, category, description), then one SELECT. Tables are named without a
schema (``tickets``, ``comments``, ``timesheets``, ``_rejects``):
:func:`run_query` sets the search_path, so the same template runs on the
stable schema, a versioned schema or the canary.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg

from sdconsole.engine import metadata
from sdconsole.engine.errors import BadInput, StageError

CATEGORIES = ("executive", "operations", "quality", "team")
HEADER_KEYS = ("name", "title", "category", "description")
_HEADER_LINE = re.compile(r"--\s*(\w+):\s*(.*?)\s*")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class QueryTemplate:
    name: str
    title: str
    category: str
    description: str
    sql: str


class TemplateError(StageError):
    """A packaged .sql file is malformed; the message names the file."""


def parse_template(filename: str, text: str) -> QueryTemplate:
    """Split a template file into its header fields and its SQL (see the module docstring)."""
    lines = text.splitlines()
    header_lines = list(itertools.takewhile(_HEADER_LINE.fullmatch, lines))
    header: dict[str, str] = {}
    for line in header_lines:
        key, value = _HEADER_LINE.fullmatch(line).groups()
        if key not in HEADER_KEYS:
            raise TemplateError(f"query template {filename}: unknown header key {key!r}")
        header[key] = value
    missing = [key for key in HEADER_KEYS if not header.get(key)]
    if missing:
        raise TemplateError(f"query template {filename}: header lacks {', '.join(missing)}")
    if not _NAME.fullmatch(header["name"]) or f"{header['name']}.sql" != filename:
        raise TemplateError(
            f"query template {filename}: name {header['name']!r} must be lower_snake_case"
            " and match the file name")
    if header["category"] not in CATEGORIES:
        raise TemplateError(f"query template {filename}: unknown category"
                            f" {header['category']!r} (one of {', '.join(CATEGORIES)})")
    sql_text = "\n".join(lines[len(header_lines):]).strip().rstrip(";").strip()
    if not sql_text:
        raise TemplateError(f"query template {filename}: no SQL after the header")
    return QueryTemplate(sql=sql_text, **header)


def load_queries() -> list[QueryTemplate]:
    """Every packaged template, ordered by category then name."""
    return list(_load_all())


@cache
def _load_all() -> tuple[QueryTemplate, ...]:
    folder = resources.files("sdconsole.queries")
    templates = [parse_template(entry.name, entry.read_text(encoding="utf-8"))
                 for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return tuple(sorted(templates, key=lambda t: (CATEGORIES.index(t.category), t.name)))


def get_query(name: str) -> QueryTemplate:
    """The template called ``name``; BadInput naming the known ones otherwise."""
    for template in load_queries():
        if template.name == name:
            return template
    raise BadInput(f"unknown query {name!r} (see 'sdconsole queries list')")


def run_query(conn: psycopg.Connection, template: QueryTemplate,
              schema: str) -> tuple[list[str], list[tuple]]:
    """Run a template on ``schema`` in a read-only transaction; return (columns, rows).

    The search_path is set for this transaction only, so the connection is
    left as it was. A missing schema is BadInput; an SQL error is a one-line
    StageError naming the query and the schema.
    """
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            if not metadata.schema_exists(conn, schema):
                raise BadInput(f"schema {schema!r} does not exist in the target")
            conn.execute("SELECT set_config('search_path', %s, true)", (schema,))
            cursor = conn.execute(template.sql)
            columns = [column.name for column in cursor.description or ()]
            return columns, cursor.fetchall()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StageError(f"query {template.name} on schema {schema} failed: {reason}") from None
