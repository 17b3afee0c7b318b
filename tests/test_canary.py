"""The canary: deterministic stratified sample, side-by-side metrics, dashboard queries on
both sides (or not applicable), cleanup."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from loading import cleaned, plan_for, profiled, write_source

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.source.sqlite import open_source
from sdconsole.engine.stages import canary
from sdconsole.engine.stages.profile import profiler
from sdconsole.engine.target import queries as dashboard
from sdconsole.engine.target.queries import Need, QueryTemplate
from sdconsole.settings import Settings

OPEN_TICKETS = QueryTemplate(
    name="open_tickets",
    title="Open tickets",
    category="operations",
    description="test",
    sql="SELECT tkt_status, count(*) FROM tickets GROUP BY 1",
)
BROKEN = QueryTemplate(
    name="broken",
    title="Broken",
    category="operations",
    description="test",
    sql="SELECT no_such_column FROM tickets",
)
# Deliberately wrong: its answer depends on where it runs, not on the data.
WHERE_AM_I = QueryTemplate(
    name="where_am_i",
    title="Where am I",
    category="operations",
    description="test",
    sql="SELECT current_schema() AS here",
)
NEEDY = QueryTemplate(
    name="needy",
    title="Needy",
    category="operations",
    description="test",
    sql="SELECT tkt_escalated FROM tickets",
    needs=(Need("tickets", "tkt_escalated", "flag"),),
)
SERVICEDESK = ("tickets", "comments", "timesheets")


@pytest.fixture
def prepared(run: Run, settings: Settings, sample_db: Path):
    return profiled(run, settings, sample_db)


@pytest.fixture
def on_sample(run: Run, conn, prepared, sample_db: Path):
    """The canary of the session sample, with the given templates (None: every packaged one)."""
    plan, working = prepared
    return lambda templates=None: canary.canary(
        run, conn, sample_db, working, plan, "servicedesk", 0.1, templates
    )


def schemas(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}


def left_behind(conn: psycopg.Connection) -> set[str]:
    return {"servicedesk_canary", "servicedesk_canary_source"} & schemas(conn)


def checks(report: canary.CanaryReport) -> tuple[int, int]:
    """(failed, checked): each table metric and each query run on both sides, once."""
    compared = [m for m in report.metrics if m.table != canary.DASHBOARDS]
    ran = [q for q in report.queries if q.applicable]
    return (sum(not m.ok for m in compared) + sum(not q.ok for q in ran), len(compared) + len(ran))


def test_sample_load_agrees_with_the_source_and_is_dropped(
    run: Run, conn, on_sample, sample_db: Path
) -> None:
    report = on_sample([OPEN_TICKETS])

    assert report.ok, report.summary
    assert not left_behind(conn)
    with sqlite3.connect(sample_db) as db:
        tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    db.close()
    # about a tenth, plus at most one row for each of the 36 months the sample spans
    assert 0.07 * tickets <= report.sample["tickets"] <= 0.13 * tickets + 36
    names = {(m.table, m.metric) for m in report.metrics}
    assert {
        ("tickets", "rows"),
        ("tickets", "tkt_created_time min"),
        ("tickets", "tkt_resolution_hours values"),
        ("comments", "row checksums"),
        ("dashboards", "query open_tickets"),
    } <= names
    emitted = [e for e in run.events if isinstance(e, ev.CanaryMetric)]
    assert [(e.table, e.metric) for e in emitted] == [(m.table, m.metric) for m in report.metrics]
    assert report.queries[0].ok and report.queries[0].rows > 0
    query = next(m for m in report.metrics if m.metric == "query open_tickets")
    assert query.source == query.canary == f"{report.queries[0].rows} rows" and query.ok
    _, checked = checks(report)
    assert report.summary == (
        f"canary passed: {sum(report.sample.values())} sampled rows,"
        f" {checked - 1} metrics agree, 1 dashboard query agrees"
        " with the source"
    )
    # the sample's junk hours show as rejects side by side with the source's values
    hours = next(m for m in report.metrics if m.metric == "tkt_resolution_hours values")
    assert hours.ok


def test_every_packaged_dashboard_query_agrees_with_the_source_side(conn, on_sample) -> None:
    report = on_sample()
    assert report.ok, report.summary
    assert len(report.queries) == len(dashboard.load_queries())
    assert all(q.ok and q.applicable for q in report.queries)
    assert sum(q.rows for q in report.queries) > 0
    assert "not applicable" not in report.summary
    assert not left_behind(conn)


def test_a_failing_query_fails_the_verdict_and_still_drops(conn, on_sample) -> None:
    report = on_sample([OPEN_TICKETS, BROKEN])

    assert not report.ok
    broken = next(q for q in report.queries if q.name == "broken")
    assert not broken.ok and "no_such_column" in broken.error
    metric = next(m for m in report.metrics if m.metric == "query broken")
    assert "no_such_column" in metric.source and "no_such_column" in metric.canary
    assert "query broken" in report.summary and "\n" not in report.summary
    assert all(m.ok for m in report.metrics if m.table != "dashboards")
    # one failing query is one failed check; each metric is one check made
    assert checks(report) == (1, len(report.metrics))
    assert report.summary.startswith(f"canary failed on 1 of {len(report.metrics)} checks:")
    assert not left_behind(conn)


def test_a_result_that_depends_on_the_side_fails_the_canary(on_sample) -> None:
    report = on_sample([WHERE_AM_I])

    assert not report.ok
    (outcome,) = report.queries
    assert outcome.applicable and not outcome.ok
    assert outcome.error == (
        "1 row only on the canary, e.g. (servicedesk_canary);"
        " 1 row only on the source, e.g. (servicedesk_canary_source)"
    )
    assert checks(report)[0] == 1 and "query where_am_i: 1 row only" in report.summary


def test_a_cleaning_bug_the_table_metrics_miss_fails_through_the_dashboards(
    conn, prepared, on_sample
) -> None:
    """A text the working copy changed keeps every count, bound and checksum of the load
    intact; the dashboards, computed from the original source as well, differ."""
    plan, working = prepared
    with sqlite3.connect(working) as db:
        sampled = canary.sample_rowids(db, plan, 0.1)["timesheets"]
        db.execute(
            "UPDATE timesheets SET \"TS-Category\" = 'Tampered', \"TS-Hours\" = '999'"
            " WHERE rowid = ?",
            (sampled[0],),
        )
    db.close()
    report = on_sample(
        [dashboard.get_query("timesheet_hours_by_category"), dashboard.get_query("monthly_volume")]
    )

    assert all(m.ok for m in report.metrics if m.table != canary.DASHBOARDS)
    hours, volume = report.queries
    assert volume.ok and not hours.ok
    assert hours.error.startswith("row 1 is (Tampered, 1, 1, 999, ")
    assert hours.error.endswith(" on the source")
    metric = next(m for m in report.metrics if m.metric == "query timesheet_hours_by_category")
    assert metric.source == f"{hours.rows - 1} rows" and not metric.ok
    assert metric.canary == f"{hours.rows} rows, {hours.error}"
    assert report.summary.startswith(
        f"canary failed on 1 of {checks(report)[1]} checks:"
        " query timesheet_hours_by_category: row 1 is (Tampered"
    )
    assert not left_behind(conn)


def test_a_template_whose_needs_are_not_met_is_not_applicable(on_sample) -> None:
    report = on_sample([OPEN_TICKETS, NEEDY])

    assert report.ok, report.summary
    needy = next(q for q in report.queries if q.name == "needy")
    assert not needy.applicable and needy.ok
    assert needy.error == "needs tickets.tkt_escalated, which tickets does not have"
    metric = next(m for m in report.metrics if m.metric == "query needy")
    assert (metric.source, metric.canary, metric.ok) == (
        "not run",
        f"not applicable: {needy.error}",
        True,
    )
    assert report.summary.endswith(
        "1 dashboard query agrees with the source; 1 dashboard query not applicable:"
        " needy (needs tickets.tkt_escalated, which tickets does not have)"
    )


def test_a_database_of_another_shape_passes_with_the_dashboards_not_applicable(
    run: Run, conn, settings: Settings, tmp_path: Path
) -> None:
    plants = [
        (f"plant {n}", f"{n % 40 + 0.5}", f"{n % 28 + 1:02d}/0{n % 9 + 1}/2024") for n in range(60)
    ] + [("weed", "tall", "?")]
    visits = [(f"plant {n % 60}", f"{n % 5} bees", "yes" if n % 3 else "no") for n in range(120)]
    source = write_source(
        tmp_path / "garden.db",
        {
            "plants": (["Name", "Height cm", "Planted"], plants),
            "visits": (["Plant", "Seen", "Watered"], visits),
        },
    )
    plan, working = profiled(run, settings, source)
    report = canary.canary(run, conn, source, working, plan, "servicedesk", 0.5)

    assert report.ok, report.summary
    templates = dashboard.load_queries()
    servicedesk = [t.name for t in templates if {n.table for n in t.needs} & set(SERVICEDESK)]
    skipped = [q for q in report.queries if not q.applicable]
    assert [q.name for q in skipped] == servicedesk
    for outcome in skipped:
        missing = [
            t
            for t in SERVICEDESK
            if any(n.table == t for n in dashboard.get_query(outcome.name).needs)
        ]
        assert outcome.error == (
            f"needs table{'s' if len(missing) > 1 else ''}"
            f" {', '.join(missing)}, which the schema does not have"
        )
    # the one template that reads only what every version has runs on both sides
    (ran,) = [q for q in report.queries if q.applicable]
    assert ran.name == "rejects_by_column" and ran.ok
    failed, checked = checks(report)
    assert failed == 0
    assert report.summary.startswith(
        f"canary passed: {sum(report.sample.values())} sampled rows, {checked - 1} metrics"
        f" agree, 1 dashboard query agrees with the source; {len(servicedesk)} dashboard"
        " queries not applicable: "
    )
    assert all(name in report.summary for name in servicedesk)
    assert not left_behind(conn)


@pytest.mark.parametrize("typed", [None, "integer", "boolean"])
def test_a_flag_written_0_1_is_either_a_flag_or_not_applicable(
    run: Run, conn, settings: Settings, sample_copy: Path, typed: str | None
) -> None:
    """TKT-Reopened holding 0 and 1: typed boolean, the dashboards that read it agree with
    the source; typed as a number (the profile's choice, or set here), they are not
    applicable, named, and the canary still passes."""
    with sqlite3.connect(sample_copy) as db:
        db.execute(
            'UPDATE tickets SET "TKT-Reopened" = CASE WHEN "TKT-Reopened" IN'
            " ('Yes', 'Y') THEN 1 ELSE 0 END"
        )
    db.close()
    plan = profiler.profile(run, settings, sample_copy).plan
    column = plan.table("tickets").column("TKT-Reopened")
    column.type = typed or column.type
    working = cleaned(run, settings, sample_copy, plan)
    report = canary.canary(run, conn, sample_copy, working, plan, "servicedesk", 0.1)

    assert report.ok, report.summary
    skipped = {q.name: q.error for q in report.queries if not q.applicable}
    if column.type == "boolean":
        assert not skipped
    else:
        reason = f"needs tickets.tkt_reopened as a flag; it is {column.pg_type}"
        assert skipped == {"reopen_rate_by_team": reason, "resolved_by_assignee": reason}
        assert report.summary.endswith(
            "; 2 dashboard queries not applicable: reopen_rate_by_team,"
            f" resolved_by_assignee ({reason})"
        )
    assert all(q.ok for q in report.queries)
    assert not left_behind(conn)


def test_a_working_copy_that_lost_values_fails_the_canary(prepared, on_sample) -> None:
    _, working = prepared
    with sqlite3.connect(working) as db:
        db.execute('UPDATE tickets SET "TKT-Title" = NULL')
    db.close()
    report = on_sample([])

    failed = [m for m in report.metrics if not m.ok]
    assert [(m.table, m.metric) for m in failed] == [("tickets", "tkt_title values")]
    assert failed[0].canary == "0" and int(failed[0].source) == report.sample["tickets"]


def test_a_failing_canary_still_drops_its_schema(conn, prepared, on_sample) -> None:
    plan, _ = prepared
    plan.tables[0].columns[0].name = "no such column"
    with pytest.raises(StageError, match="has no column 'no such column' in table 'tickets'"):
        on_sample([OPEN_TICKETS])
    assert not left_behind(conn)


def test_the_sample_is_deterministic(prepared, sample_db: Path) -> None:
    plan, working = prepared
    with open_source(working) as db:
        first = canary.sample_rowids(db, plan, 0.1)
    with open_source(working) as db:
        assert canary.sample_rowids(db, plan, 0.1) == first
    assert all(rowids == sorted(rowids) and rowids for rowids in first.values())


def test_the_sample_covers_every_month_in_proportion(
    run: Run, settings: Settings, tmp_path: Path
) -> None:
    months = {1: 2000, 2: 1000, 3: 1, 4: 500, 7: 1200, 12: 9}
    rows = [
        (f"{day % 28 + 1:02d}/{month:02d}/2024 10:00", f"row {month}-{day}")
        for month, count in months.items()
        for day in range(count)
    ]
    rows += [("N/A", "no date"), ("31/02/2024 10:00", "impossible date")]
    source = write_source(tmp_path / "months.db", {"events": (["when", "what"], rows)})
    plan = plan_for(source, {"events": {"when": "timestamp"}}, dates={"events": "when"})
    working = cleaned(run, settings, source, plan)

    with open_source(working) as db:
        picked = canary.sample_rowids(db, plan, 0.1)["events"]
        when = dict(db.execute('SELECT rowid, "when" FROM events').fetchall())
    per_month = Counter(when[r][:7] if when[r] and when[r][4] == "-" else "other" for r in picked)
    assert set(per_month) == {f"2024-{m:02d}" for m in months} | {"other"}
    for month, count in months.items():
        share = per_month[f"2024-{month:02d}"] / count
        assert count < 100 or 0.08 <= share <= 0.12, (month, share)
    assert per_month["2024-03"] == 1  # a month of one row is still represented
