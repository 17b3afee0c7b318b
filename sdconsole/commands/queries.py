"""``sdconsole queries list|show NAME|run NAME``: the dashboard query templates.

``run`` executes a template read-only on the stable schema (or ``--schema``,
e.g. a version schema) and prints a table, or JSON with ``--json``. An
unknown name exits 2 with one line, and so does a template the schema
cannot answer: its needs (tables, columns and their kinds) are checked
first, and the line says which is missing or of another type.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sdconsole.commands.flags import target_flag
from sdconsole.engine.target import queries
from sdconsole.engine.target import server as target
from sdconsole.engine.target.dsn import connect
from sdconsole.settings import Settings

CELL_WIDTH = 60  # longest cell shown in the table; JSON is never cut


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("queries", help="list, show and run the dashboard query templates")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="name, category and title of every template")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    show = actions.add_parser("show", help="print a template's SQL")
    show.add_argument("name", metavar="NAME")
    execute = actions.add_parser("run", help="run a template on the target and print the rows")
    execute.add_argument("name", metavar="NAME")
    target_flag(execute)
    execute.add_argument(
        "--schema", metavar="S", help="schema to read (default: the stable schema)"
    )
    execute.add_argument("--json", action="store_true", help="print columns and rows as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "list":
        return _list(args.json)
    template = queries.get_query(args.name)
    if args.action == "show":
        print(f"{template.header()}\n{template.sql};")
        return 0
    schema = args.schema or settings.stable_schema
    with connect(target.resolve_dsn(settings), autocommit=True) as conn:
        columns, rows = queries.run_query(conn, template, schema)
    if args.json:
        print(
            json.dumps(
                {
                    "query": template.name,
                    "schema": schema,
                    "columns": columns,
                    "rows": [[_json_value(v) for v in row] for row in rows],
                },
                ensure_ascii=False,
            )
        )
    else:
        print("\n".join(render_table(columns, rows)))
    return 0


def _list(as_json: bool) -> int:
    templates = queries.load_queries()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": t.name,
                        "category": t.category,
                        "title": t.title,
                        "description": t.description,
                    }
                    for t in templates
                ],
                ensure_ascii=False,
            )
        )
        return 0
    width = max(len(t.name) for t in templates)
    for t in templates:
        print(f"{t.name:<{width}}  {t.category:<10}  {t.title}")
    return 0


def render_table(columns: list[str], rows: list[tuple]) -> list[str]:
    """Columns aligned under their header (numbers right-aligned), then a row count."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max([width(name), *(width(row[i]) for row in cells)]) for i, name in enumerate(columns)
    ]
    numeric = [
        bool(rows)
        and all(isinstance(row[i], (int, float, Decimal)) or row[i] is None for row in rows)
        for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        padded = (
            " " * (w - width(v)) + v if right else v + " " * (w - width(v))
            for v, w, right in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return out


def width(text: str) -> int:
    """Terminal columns of text: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    text = " ".join(text.split())  # line breaks and tabs of free text stay on one line
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def _json_value(value: Any) -> Any:
    """Exact numbers, dates and times as their PostgreSQL text; the rest as JSON has them."""
    return str(value) if isinstance(value, (Decimal, date, time)) else value
