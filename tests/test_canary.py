"""The canary: deterministic stratified sample, side-by-side metrics, dashboard queries, cleanup."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from loading import cleaned, plan_for, profiled, write_source

from sdconsole.engine import canary
from sdconsole.engine import events as ev
from sdconsole.engine.errors import StageError
from sdconsole.engine.queries import QueryTemplate
from sdconsole.engine.run import Run
from sdconsole.engine.source import open_source
from sdconsole.settings import Settings

OPEN_TICKETS = QueryTemplate(
    name="open_tickets", title="Open tickets", category="operations", description="test",
    sql="SELECT tkt_status, count(*) FROM tickets GROUP BY 1")
BROKEN = QueryTemplate(
    name="broken", title="Broken", category="operations", description="test",
    sql="SELECT no_such_column FROM tickets")


@pytest.fixture
def prepared(run: Run, settings: Settings, sample_db: Path):
    return profiled(run, settings, sample_db)


def schemas(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}


def test_sample_load_agrees_with_the_source_and_is_dropped(run: Run, conn, prepared,
                                                           sample_db: Path) -> None:
    plan, working = prepared
    report = canary.canary(run, conn, sample_db, working, plan, "servicedesk", 0.1,
                           [OPEN_TICKETS])

    assert report.ok, report.summary
    assert "servicedesk_canary" not in schemas(conn)
    with sqlite3.connect(sample_db) as db:
        tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    db.close()
    # about a tenth, plus at most one row for each of the 36 months the sample spans
    assert 0.07 * tickets <= report.sample["tickets"] <= 0.13 * tickets + 36
    names = {(m.table, m.metric) for m in report.metrics}
    assert {("tickets", "rows"), ("tickets", "tkt_created_time min"),
            ("tickets", "tkt_resolution_hours values"), ("comments", "row checksums"),
            ("dashboards", "query open_tickets")} <= names
    emitted = [e for e in run.events if isinstance(e, ev.CanaryMetric)]
    assert [(e.table, e.metric) for e in emitted] == [(m.table, m.metric) for m in report.metrics]
    assert report.queries[0].ok and report.queries[0].rows > 0
    # the sample's junk hours show as rejects side by side with the source's values
    hours = next(m for m in report.metrics if m.metric == "tkt_resolution_hours values")
    assert hours.ok


def test_every_packaged_dashboard_query_runs_on_the_canary(run: Run, conn, prepared,
                                                          sample_db: Path) -> None:
    plan, working = prepared
    report = canary.canary(run, conn, sample_db, working, plan, "servicedesk", 0.1)
    assert report.ok, report.summary
    assert len(report.queries) > 5 and all(q.ok for q in report.queries)


def test_a_failing_query_fails_the_verdict_and_still_drops(run: Run, conn, prepared,
                                                          sample_db: Path) -> None:
    plan, working = prepared
    report = canary.canary(run, conn, sample_db, working, plan, "servicedesk", 0.1,
                           [OPEN_TICKETS, BROKEN])

    assert not report.ok
    broken = next(q for q in report.queries if q.name == "broken")
    assert not broken.ok and "no_such_column" in broken.error
    assert "query broken" in report.summary and "\n" not in report.summary
    assert all(m.ok for m in report.metrics if m.table != "dashboards")
    assert "servicedesk_canary" not in schemas(conn)


def test_a_working_copy_that_lost_values_fails_the_canary(run: Run, conn, prepared,
                                                          sample_db: Path) -> None:
    plan, working = prepared
    with sqlite3.connect(working) as db:
        db.execute('UPDATE tickets SET "TKT-Title" = NULL')
    db.close()
    report = canary.canary(run, conn, sample_db, working, plan, "servicedesk", 0.1, [])

    failed = [m for m in report.metrics if not m.ok]
    assert [(m.table, m.metric) for m in failed] == [("tickets", "tkt_title values")]
    assert failed[0].canary == "0" and int(failed[0].source) == report.sample["tickets"]


def test_a_failing_canary_still_drops_its_schema(run: Run, conn, prepared,
                                              sample_db: Path) -> None:
    plan, working = prepared
    plan.tables[0].columns[0].name = "no such column"
    with pytest.raises(StageError, match="has no column 'no such column' in table 'tickets'"):
        canary.canary(run, conn, sample_db, working, plan, "servicedesk", 0.1, [])
    assert "servicedesk_canary" not in schemas(conn)


def test_the_sample_is_deterministic(prepared, sample_db: Path) -> None:
    plan, working = prepared
    with open_source(working) as db:
        first = canary.sample_rowids(db, plan, 0.1)
    with open_source(working) as db:
        assert canary.sample_rowids(db, plan, 0.1) == first
    assert all(rowids == sorted(rowids) and rowids for rowids in first.values())


def test_the_sample_covers_every_month_in_proportion(run: Run, settings: Settings,
                                                     tmp_path: Path) -> None:
    months = {1: 2000, 2: 1000, 3: 1, 4: 500, 7: 1200, 12: 9}
    rows = [(f"{day % 28 + 1:02d}/{month:02d}/2024 10:00", f"row {month}-{day}")
            for month, count in months.items() for day in range(count)]
    rows += [("N/A", "no date"), ("31/02/2024 10:00", "impossible date")]
    source = write_source(tmp_path / "months.db", {"events": (["when", "what"], rows)})
    plan = plan_for(source, {"events": {"when": "timestamp"}}, dates={"events": "when"})
    working = cleaned(run, settings, source, plan)

    with open_source(working) as db:
        picked = canary.sample_rowids(db, plan, 0.1)["events"]
        when = dict(db.execute('SELECT rowid, "when" FROM events').fetchall())
    per_month = Counter(when[r][:7] if when[r] and when[r][4] == "-" else "other"
                        for r in picked)
    assert set(per_month) == {f"2024-{m:02d}" for m in months} | {"other"}
    for month, count in months.items():
        share = per_month[f"2024-{month:02d}"] / count
        assert count < 100 or 0.08 <= share <= 0.12, (month, share)
    assert per_month["2024-03"] == 1  # a month of one row is still represented
