"""The typed COPY load, against a real PostgreSQL, from working copies made by the real cleaner."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from loading import cleaned, new_schema, plan_for, profiled, rows_of, write_source
from psycopg import sql

from sdconsole.engine.records.plan import Plan
from sdconsole.engine.rules import cells
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime import run as run_module
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.stages import loader, validate
from sdconsole.settings import Settings

TOKENS = frozenset(["", "?", "-", "N/A", "NULL", "n/a"])


def column_types(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    return dict(
        conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        ).fetchall()
    )


def column_comments(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    return dict(
        conn.execute(
            "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a"
            " WHERE a.attrelid = (quote_ident(%s) || '.' || quote_ident(%s))::regclass"
            " AND a.attnum > 0",
            (schema, table),
        ).fetchall()
    )


def test_sample_loads_typed_with_original_names(
    run: Run, settings: Settings, conn, sample_db: Path
) -> None:
    plan, working = profiled(run, settings, sample_db)
    report = loader.load(run, conn, working, plan, new_schema(conn, "sd_v1", plan))

    types = column_types(conn, "sd_v1", "tickets")
    assert types["tkt_created_time"] == "timestamp without time zone"
    assert types["tkt_ticket_id"] == "bigint"
    assert types["tkt_sla_met"] == "boolean"
    assert types["tkt_resolution_hours"] == "numeric"
    assert types["tkt_title"] == "text"
    sheets = column_types(conn, "sd_v1", "timesheets")
    assert sheets["ts_date"] == "date"
    assert sheets["ts_time_from"] == "time without time zone"
    assert column_comments(conn, "sd_v1", "tickets")["tkt_created_time"] == "TKT-Created Time"
    assert conn.execute("SELECT obj_description('sd_v1.comments'::regclass)").fetchone() == (
        "comments",
    )
    with sqlite3.connect(sample_db) as db:
        for table in ("tickets", "comments", "timesheets"):
            expected = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            assert report.tables[table]["rows"] == expected
            assert (
                conn.execute(
                    sql.SQL("SELECT count(*) FROM sd_v1.{}").format(sql.Identifier(table))
                ).fetchone()[0]
                == expected
            )
    db.close()
    # the sample's impossible closure dates and junk hours are rejects, not lost
    reasons = dict(
        conn.execute("SELECT column_name, count(*) FROM sd_v1._rejects GROUP BY 1").fetchall()
    )
    assert set(reasons) == {"tkt_closure_date", "tkt_resolution_hours"}
    progress = [e for e in run.events if isinstance(e, ev.Progress) and e.table == "tickets"]
    assert progress[-1].done == progress[-1].total == report.tables["tickets"]["rows"]


def test_keyword_and_quoted_identifiers(run: Run, settings: Settings, conn, tmp_path: Path) -> None:
    source = write_source(
        tmp_path / "odd.db",
        {
            "select": (
                ['"weird" name', "from", "O'Brien col"],
                [("1", "x", "a"), ("2", "y", "b"), ("3", None, "c")],
            ),
        },
    )
    plan = plan_for(source, {"select": {'"weird" name': "integer"}})
    plan.tables[0].columns[2].ident = 'we"ird col'  # any identifier must be safe, not only ours
    working = cleaned(run, settings, source, plan)
    loader.load(run, conn, working, plan, new_schema(conn, "odd_v1", plan))

    assert column_types(conn, "odd_v1", "select") == {
        "weird_name": "bigint",
        "from": "text",
        'we"ird col': "text",
    }
    assert column_comments(conn, "odd_v1", "select") == {
        "weird_name": '"weird" name',
        "from": "from",
        'we"ird col': "O'Brien col",
    }
    assert rows_of(conn, "odd_v1", "select", "weird_name") == [
        (1, "x", "a"),
        (2, "y", "b"),
        (3, None, "c"),
    ]


IMPOSSIBLE = {
    "tickets": (
        ["id", "opened", "hours", "note"],
        [
            ("1", "31/01/2025 14:05", "1.50", "ok"),
            ("2", "29/02/2023 10:00", "abc", "impossible date, junk hours"),
            ("3", "31/04/2024 09:00", " 2 ", "impossible date"),
            ("4", "00/00/0000 00:00", "approx 3", "zero date"),
            ("5", "N/A", "", "placeholders are missing, not rejects"),
            ("6", "2024-02-29 08:00:00", "-0.00", "leap day"),
            ("7", None, "1e3", None),
        ],
    ),
}


def test_rejects_reconcile_exactly(run: Run, settings: Settings, conn, tmp_path: Path) -> None:
    source = write_source(tmp_path / "bad.db", IMPOSSIBLE)
    plan = plan_for(
        source,
        {"tickets": {"id": "integer", "opened": "timestamp", "hours": "numeric"}},
        keys={"tickets": "id"},
    )
    working = cleaned(run, settings, source, plan)
    report = loader.load(run, conn, working, plan, new_schema(conn, "bad_v1", plan))

    rejects = conn.execute(
        "SELECT table_name, source_rowid, column_name, raw_value, reason"
        " FROM bad_v1._rejects ORDER BY 2, 3"
    ).fetchall()
    assert rejects == [
        ("tickets", 2, "hours", "abc", "not a number"),
        ("tickets", 2, "opened", "29/02/2023 10:00", "impossible date '29/02/2023 10:00'"),
        ("tickets", 3, "opened", "31/04/2024 09:00", "impossible date '31/04/2024 09:00'"),
        ("tickets", 4, "hours", "approx 3", "not a number"),
        ("tickets", 4, "opened", "00/00/0000 00:00", "impossible date '00/00/0000 00:00'"),
    ]
    assert report.rejects_total == 5
    assert conn.execute(
        "SELECT id, opened::text, hours::text FROM bad_v1.tickets ORDER BY id"
    ).fetchall() == [
        (1, "2025-01-31 14:05:00", "1.50"),
        (2, None, None),
        (3, None, "2"),
        (4, None, None),
        (5, None, None),
        (6, "2024-02-29 08:00:00", "0.00"),
        (7, None, "1000"),
    ]
    check = validate.validate(run, conn, source, plan, "bad_v1", TOKENS)
    assert check.ok, check.summary
    by_column = {c.column: c for c in check.tables["tickets"].columns}
    assert (
        by_column["opened"].source_values,
        by_column["opened"].target_values,
        by_column["opened"].rejects,
    ) == (5, 2, 3)
    assert (
        by_column["hours"].source_values,
        by_column["hours"].target_values,
        by_column["hours"].rejects,
    ) == (6, 4, 2)


NUL_TEXT = "Printer jam\x00 after tray 2 replaced"


def test_nul_byte_removed_by_the_cleaner_keeps_the_rest(
    run: Run, settings: Settings, conn, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "nul.db", {"t": (["id", "text"], [("1", NUL_TEXT)])})
    plan = plan_for(source, {"t": {"id": "integer"}})
    loader.load(
        run, conn, cleaned(run, settings, source, plan), plan, new_schema(conn, "nul_v1", plan)
    )
    assert rows_of(conn, "nul_v1", "t") == [(1, "Printer jam after tray 2 replaced")]


def test_nul_byte_left_in_the_working_copy_is_removed_at_load(
    run: Run, conn, tmp_path: Path
) -> None:
    working = write_source(
        tmp_path / "raw.db",
        {"t": (["id", "text"], [("1", NUL_TEXT), ("2", "clean"), ("3", "\x00\x00tail")])},
    )
    plan = plan_for(working, {"t": {"id": "integer"}})
    report = loader.load(run, conn, working, plan, new_schema(conn, "nul_v1", plan))

    assert rows_of(conn, "nul_v1", "t", "id") == [
        (1, "Printer jam after tray 2 replaced"),
        (2, "clean"),
        (3, "tail"),
    ]
    assert report.nul_removed == 2 and report.rejects_total == 0
    findings = [e for e in run.events if isinstance(e, ev.Finding) and e.stage == "load"]
    assert [(f.table, f.count) for f in findings] == [("t", 2)]
    check = validate.validate(run, conn, working, plan, "nul_v1", TOKENS)
    assert check.ok, check.summary


def drop_copy_of(pg_dsn: str, table: str):
    """A listener that terminates the backend copying into ``table`` at its first progress."""
    terminated: list[tuple] = []

    def listener(event: ev.Event) -> None:
        if (
            isinstance(event, ev.Progress)
            and event.table == table
            and event.done > 0
            and not terminated
        ):
            with psycopg.connect(pg_dsn, autocommit=True) as admin:
                terminated.extend(
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND query LIKE %s",
                        (f'COPY %"{table}" (%',),
                    ).fetchall()
                )

    listener.terminated = terminated
    return listener


def test_connection_dropped_mid_copy_is_one_line_naming_the_table(
    run: Run, conn, pg_dsn: str, tmp_path: Path, monkeypatch
) -> None:
    rows = [(str(i), f"2024-01-{i % 28 + 1:02d}", "x" * 200) for i in range(30_000)]
    working = write_source(tmp_path / "big.db", {"tickets": (["id", "day", "text"], rows)})
    plan = plan_for(working, {"tickets": {"id": "integer", "day": "date"}})
    new_schema(conn, "big_v1", plan)
    monkeypatch.setattr(run_module, "PROGRESS_INTERVAL", 0)  # an event for every chunk
    drop = drop_copy_of(pg_dsn, "tickets")
    run.listeners.append(drop)
    with pytest.raises(StageError) as failure:
        loader.load(run, conn, working, plan, "big_v1")

    message = str(failure.value)
    assert drop.terminated == [(True,)]
    assert message.startswith("connection to the target was lost while loading tickets (row ")
    assert message.endswith("of 30000)") and "\n" not in message
    with psycopg.connect(pg_dsn) as fresh:  # the table's transaction rolled back: empty
        assert fresh.execute("SELECT count(*) FROM big_v1.tickets").fetchone() == (0,)
    failed = [e for e in run.events if isinstance(e, ev.StageFailed)]
    assert [f.error for f in failed] == [message]


def test_reload_replaces_rows_and_rejects(
    run: Run, settings: Settings, conn, tmp_path: Path
) -> None:
    source = write_source(tmp_path / "bad.db", IMPOSSIBLE)
    plan = plan_for(source, {"tickets": {"opened": "timestamp", "hours": "numeric"}})
    working = cleaned(run, settings, source, plan)
    new_schema(conn, "re_v1", plan)
    loader.load(run, conn, working, plan, "re_v1")
    again = loader.load(run, conn, working, plan, "re_v1")

    assert conn.execute("SELECT count(*) FROM re_v1.tickets").fetchone() == (7,)
    assert conn.execute("SELECT count(*) FROM re_v1._rejects").fetchone() == (5,)
    assert again.rejects_total == 5


def indexes(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    return dict(
        conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
            (schema, table),
        )
    )


def test_primary_key_and_indexes_after_load(
    run: Run, settings: Settings, conn, tmp_path: Path
) -> None:
    source = write_source(
        tmp_path / "keys.db",
        {
            "comments": (
                ["comment_id", "ticket_id", "created", "body"],
                [("1", "10", "01/02/2024 10:00", "a"), ("2", "10", "02/02/2024 11:00", "b")],
            ),
            "tickets": (["ticket_id", "title"], [("10", "dup"), ("10", "dup again")]),
        },
    )
    plan = plan_for(
        source,
        {
            "comments": {"comment_id": "integer", "ticket_id": "integer", "created": "timestamp"},
            "tickets": {"ticket_id": "integer"},
        },
        keys={"comments": "comment_id", "tickets": "ticket_id"},
        dates={"comments": "created"},
    )
    report = loader.load(
        run, conn, cleaned(run, settings, source, plan), plan, new_schema(conn, "keys_v1", plan)
    )

    comment_indexes = " ".join(indexes(conn, "keys_v1", "comments").values())
    assert "PRIMARY KEY" not in comment_indexes  # pg_indexes shows the unique index
    assert "UNIQUE INDEX comments_pkey ON keys_v1.comments USING btree (comment_id)" in (
        comment_indexes
    )
    assert "(ticket_id)" in comment_indexes and "(created)" in comment_indexes
    # duplicate ids: no key, but the column is still indexed and the operator is told
    ticket_indexes = list(indexes(conn, "keys_v1", "tickets").values())
    assert len(ticket_indexes) == 1 and "UNIQUE" not in ticket_indexes[0]
    assert "(ticket_id)" in ticket_indexes[0]
    finding = next(
        e for e in run.events if isinstance(e, ev.Finding) and e.dimension == "uniqueness"
    )
    assert finding.table == "tickets" and "primary key" in finding.message
    assert any("ADD PRIMARY KEY" in s for s in report.statements)


FAST_PATH_VALUES = {
    "integer": [
        "0",
        "-0",
        "7",
        "007",
        "-12",
        "+5",
        " 5",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "1.0",
        "١٢",
        "",
    ],
    "numeric": [
        "0",
        "0.00",
        "-0",
        "-0.00",
        "-0.5",
        "1.50",
        "1.",
        ".5",
        "+1.5",
        "1e3",
        "12345678901234567890123456789012.5",
        "1,5",
        "NaN",
        "",
    ],
    "boolean": ["true", "false", "True", "yes", "1", "0", "TRUE", ""],
    "timestamp": [
        "2024-02-29 23:59:59",
        "2023-02-29 10:00:00",
        "2024-04-31 09:00:00",
        "0000-01-01 00:00:00",
        "2000-02-29 00:00:00",
        "1900-02-29 00:00:00",
        "2025-01-31 24:00:00",
        "2025-01-31 14:05",
        "2025-01-31T14:05:00",
        "31/01/2025 14:05",
        "2025-1-31 14:05:00",
        "",
    ],
    "date": [
        "2024-02-29",
        "2023-02-29",
        "2024-06-31",
        "0004-02-29",
        "0400-02-29",
        "0100-02-29",
        "2025-01-31 00:00:00",
        "31/01/2025",
        "",
    ],
    "time": ["00:00:00", "23:59:59", "24:00:00", "9:00:00", "09:00", "23:60:00", ""],
}


@pytest.mark.parametrize("kind", sorted(FAST_PATH_VALUES))
def test_fast_path_agrees_with_the_full_rules(kind: str) -> None:
    """Values the chunk check lets through are exactly what the full conversion returns."""
    column = plan_for_one(kind)
    values = FAST_PATH_VALUES[kind]
    for value in values:
        if cells.CANONICAL[kind].fullmatch(value):
            assert cells.convert_cell(value, column) == (value, None, False), value
    rows = [(i, v) for i, v in enumerate(values, start=1)]
    got, rejects, _ = cells.CellRules(plan_for_one(kind, table=True)).canonicalise(rows)
    expected = [cells.convert_cell(v, column) for v in values]
    assert [row[1] for row in got] == [canonical for canonical, _, _ in expected]
    assert [(r.rowid, r.reason) for r in rejects] == [
        (i, reason) for i, (_, reason, _) in enumerate(expected, start=1) if reason
    ]


def plan_for_one(kind: str, *, table: bool = False):
    plan = Plan.from_dict(
        {
            "tables": [
                {
                    "name": "t",
                    "ident": "t",
                    "rows": 0,
                    "columns": [{"name": "c", "ident": "c", "type": kind}],
                }
            ]
        }
    )
    return plan.tables[0] if table else plan.tables[0].columns[0]


def test_bigint_range_loads_whole_and_beyond_is_a_reject(
    run: Run, settings: Settings, conn, tmp_path: Path
) -> None:
    edges = ["-9223372036854775808", "9223372036854775807", "9223372036854775808"]
    source = write_source(tmp_path / "big.db", {"t": (["n"], [(v,) for v in edges])})
    plan = plan_for(source, {"t": {"n": "integer"}})
    report = loader.load(
        run, conn, cleaned(run, settings, source, plan), plan, new_schema(conn, "big_v1", plan)
    )
    assert conn.execute("SELECT n FROM big_v1.t ORDER BY n NULLS LAST").fetchall() == [
        (-(2**63),),
        (2**63 - 1,),
        (None,),
    ]
    assert report.rejects_total == 1
    assert conn.execute("SELECT raw_value, reason FROM big_v1._rejects").fetchall() == [
        ("9223372036854775808", "integer out of range")
    ]
