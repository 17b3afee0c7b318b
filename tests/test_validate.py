"""Validation of a loaded version: row counts, values per column, row checksums."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from loading import new_schema, profiled

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.stages import loader, validate
from sdconsole.settings import Settings


@pytest.fixture
def loaded(workdir: Path, settings: Settings, pg_dsn: str, sample_db: Path):
    """The sample profiled, cleaned and loaded into sd_v1; yields what validation needs."""
    events: list[ev.Event] = []
    with (
        Run(workdir, listeners=[events.append]) as run,
        psycopg.connect(pg_dsn, autocommit=True) as conn,
    ):
        plan, working = profiled(run, settings, sample_db)
        report = loader.load(run, conn, working, plan, new_schema(conn, "sd_v1", plan))
        run.events = events
        yield run, conn, plan, working, report, sample_db


def check(loaded) -> validate.ValidationReport:
    run, conn, plan, working, _, sample_db = loaded
    return validate.validate(
        run, conn, sample_db, plan, "sd_v1", frozenset(["", "?", "-", "N/A", "NULL", "n/a"])
    )


def rowid_of(working: Path, comment_id: int) -> int:
    with sqlite3.connect(working) as db:
        row = db.execute(
            'SELECT rowid FROM comments WHERE "CT-COMMENT-ID" = ?', (str(comment_id),)
        ).fetchone()
    db.close()
    return row[0]


def test_a_faithful_load_validates(loaded) -> None:
    report = check(loaded)
    assert report.ok, report.summary
    assert "\n" not in report.summary and report.summary.startswith("validation of sd_v1 passed")
    tickets = report.tables["tickets"]
    assert tickets.source_rows == tickets.target_rows > 0
    hours = next(c for c in tickets.columns if c.column == "tkt_resolution_hours")
    assert hours.rejects > 0 and hours.source_values == hours.target_values + hours.rejects
    run = loaded[0]
    results = [e for e in run.events if isinstance(e, ev.CheckResult) and e.stage == "validate"]
    assert len(results) == 9 and {r.status for r in results} == {"pass"}


def test_a_tampered_row_is_named(loaded) -> None:
    run, conn, _, working, _, _ = loaded
    conn.execute("UPDATE sd_v1.comments SET ct_type = 'tampered' WHERE ct_comment_id = 42")
    report = check(loaded)

    assert not report.ok
    comments = report.tables["comments"]
    assert comments.rows_ok and comments.values_ok and not comments.checksum_ok
    assert (comments.differing_rows, comments.extra_rows) == (1, 1)
    name = f"rowid {rowid_of(working, 42)} (ct_comment_id 42) ct_type: source"
    assert len(comments.examples) == 1 and comments.examples[0].startswith(name)
    assert comments.examples[0].endswith("target has 'tampered'")
    assert name in report.summary and "\n" not in report.summary
    failed = [e for e in run.events if isinstance(e, ev.CheckResult) and e.status == "fail"]
    assert [e.name for e in failed] == ["comments: row checksums"]


def test_a_lost_row_and_a_lost_reject_are_caught(loaded) -> None:
    _, conn, _, _, _, _ = loaded
    conn.execute(
        "DELETE FROM sd_v1.timesheets WHERE ctid = (SELECT min(ctid) FROM sd_v1.timesheets)"
    )
    conn.execute(
        "DELETE FROM sd_v1._rejects WHERE ctid = (SELECT min(ctid) FROM sd_v1._rejects"
        " WHERE column_name = 'tkt_resolution_hours')"
    )
    report = check(loaded)

    sheets, tickets = report.tables["timesheets"], report.tables["tickets"]
    assert not sheets.rows_ok and sheets.source_rows == sheets.target_rows + 1
    assert (sheets.differing_rows, sheets.extra_rows) == (1, 0)
    assert tickets.rows_ok and tickets.checksum_ok and not tickets.values_ok
    assert [c.column for c in tickets.columns if not c.ok] == ["tkt_resolution_hours"]
    assert "tkt_resolution_hours: source" in report.summary


def test_a_value_lost_to_null_fails_values_and_checksums(loaded) -> None:
    _, conn, _, _, _, _ = loaded
    conn.execute(
        "UPDATE sd_v1.tickets SET tkt_title = NULL WHERE tkt_ticket_id ="
        " (SELECT min(tkt_ticket_id) FROM sd_v1.tickets)"
    )
    tickets = check(loaded).tables["tickets"]
    assert [c.column for c in tickets.columns if not c.ok] == ["tkt_title"]
    assert not tickets.checksum_ok and tickets.differing_rows == 1


def test_profile_and_validation_count_the_same_source_values(
    workdir: Path, settings: Settings, sample_db: Path
) -> None:
    """The pipeline validates against the profile's counts: both must count alike."""
    from sdconsole.engine.rules.cells import reading
    from sdconsole.engine.rules.expected import present_counts
    from sdconsole.engine.stages.profile import profiler

    with Run(workdir) as run:
        profile = profiler.profile(run, settings, sample_db)
    tokens = frozenset(settings.null_tokens)
    with reading(sample_db, "validate") as db:
        for table in profile.plan.tables:
            rows, present = present_counts(db, table, tokens)
            counted = profile.table(table.name)
            assert rows == counted.rows
            assert present == {c.ident: c.present for c in counted.columns}
