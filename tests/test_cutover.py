"""Blue-green cutover on a real PostgreSQL: views, metadata, backups, readers, retention."""

from __future__ import annotations

import secrets
import stat
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from versions import STABLE, make_version, seen, statuses, views_point_at

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput, StageError
from sdconsole.engine.stages import cutover, rollback
from sdconsole.engine.target import deployments
from sdconsole.settings import Settings


def test_first_cutover_creates_the_views_and_activates(run, conn, pg_dsn, settings):
    v1 = make_version(conn, 3)

    report = cutover.cutover(run, conn, pg_dsn, settings, v1)

    assert (report.from_version, report.to_version, report.backup_path) == (None, v1, None)
    assert seen(conn) == (3, v1)
    assert views_point_at(conn) == {"servicedesk_v1"}
    names = conn.execute(
        "SELECT table_name FROM information_schema.views WHERE table_schema = %s ORDER BY 1",
        (STABLE,),
    ).fetchall()
    assert [n[0] for n in names] == ["_rejects", "comments", "tickets"]
    assert statuses(conn) == {v1: "active"}
    audit = deployments.audit_log(conn, STABLE)
    assert [(a["action"], a["from_version"], a["to_version"]) for a in audit] == [
        ("cutover", None, v1)
    ]


def test_the_confirmation_says_why_nothing_is_backed_up(run, conn, pg_dsn, settings):
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    first = cutover.plan_cutover(conn, STABLE, v1)
    assert first.backup is None and first.backup_line() == "none: no version is active yet"
    cutover.cutover(run, conn, pg_dsn, settings, v1)

    simple = cutover.plan_cutover(conn, STABLE, v2, backup=False)

    assert simple.backup is None
    assert simple.backup_line() == "none: this run's mode keeps no backup of version 1"
    assert cutover.plan_cutover(conn, STABLE, v2).backup_line().startswith("pg_dump -Fc")


def test_second_cutover_dumps_the_active_first_and_retires_it(run, conn, pg_dsn, settings):
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    plan = cutover.plan_cutover(conn, STABLE, v2)
    assert (plan.from_version, plan.to_version) == (v1, v2)
    assert plan.backup.startswith("pg_dump -Fc -n servicedesk_v1")

    report = cutover.cutover(run, conn, pg_dsn, settings, v2)

    assert seen(conn) == (5, v2)
    assert statuses(conn) == {v1: "retired", v2: "active"}
    dump = Path(report.backup_path)
    assert dump.parent == settings.workdir / "backups"
    assert dump.name.startswith("servicedesk_v1-") and dump.suffix == ".dump"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert deployments.get(conn, STABLE, v1).backup_path == str(dump)
    # the confirmation showed exactly what ran, and the console's log got every statement
    assert report.statements == plan.statements
    executed = [
        e.statement for e in run.events if isinstance(e, ev.SqlExecuted) and e.stage == "cutover"
    ]
    assert executed[-len(plan.statements) :] == plan.statements
    assert "LOCK TABLE" in plan.statements[1]
    assert any(
        s.startswith('CREATE OR REPLACE VIEW "servicedesk"."tickets"') for s in plan.statements
    )


def test_cutover_refuses_a_version_that_is_not_loaded(run, conn, pg_dsn, settings):
    v1 = make_version(conn, 3)
    deployments.mark(conn, STABLE, v1, "failed", error="boom")
    with pytest.raises(BadInput, match="v1 of servicedesk is failed, not loaded"):
        cutover.cutover(run, conn, pg_dsn, settings, v1)
    with pytest.raises(BadInput, match="no version 9"):
        cutover.plan_cutover(conn, STABLE, 9)
    assert not views_point_at(conn)


def test_readers_never_see_an_error_a_mix_or_nothing(run, conn, pg_dsn, settings):
    """Dashboards keep querying while the views switch back and forth, compatible or not."""
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    v3 = make_version(conn, 7, title_type="integer")  # other column type: DROP + CREATE
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    expected = {(3, v1, v1), (5, v2, v2), (7, v3, v3)}
    queries = {
        # autoprepared after a few runs, like a dashboard's driver
        "tickets": "SELECT count(*), min(marker), max(marker) FROM servicedesk.tickets",
        # two views in one statement: both must come from the same version
        "join": "SELECT (SELECT count(*) FROM servicedesk.tickets),"
        " (SELECT min(marker) FROM servicedesk.comments),"
        " (SELECT max(marker) FROM servicedesk.tickets)",
        "comments-first": "SELECT count(*), min(c.marker), max(t.marker)"
        " FROM servicedesk.comments c JOIN servicedesk.tickets t USING"
        " (ticket_id)",
    }
    stop = threading.Event()
    observed: dict[str, list] = {name: [] for name in queries}
    errors: list[str] = []

    def reader(name: str, query: str, prepare: bool) -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as rc:
            while not stop.is_set():
                try:
                    observed[name].append(rc.execute(query, prepare=prepare).fetchone())
                except psycopg.Error as exc:
                    errors.append(f"{name}: {exc}")

    threads = [
        threading.Thread(target=reader, args=(name, q, name != "join"))
        for name, q in queries.items()
    ]
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)
        cutover.cutover(run, conn, pg_dsn, settings, v2, backup=False, allow_shape_change=True)
        time.sleep(0.05)
        cutover.cutover(run, conn, pg_dsn, settings, v3, backup=False, allow_shape_change=True)
        for target in (v2, v3, v1, v3, v2, v1, v2):
            time.sleep(0.05)
            rollback.rollback(run, conn, pg_dsn, settings, target)
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()

    assert errors == []
    for name, rows in observed.items():
        assert set(rows) <= expected, name
        assert len(rows) > 50 and len(set(rows)) == 3, (name, len(rows), set(rows))
    assert seen(conn) == (5, v2)


def test_incompatible_columns_recreate_the_view_with_its_grants(run, conn, pg_dsn, settings):
    role = "sdc_dash_" + secrets.token_hex(3)
    conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
    try:
        v1, v2 = make_version(conn, 3), make_version(conn, 5, title_type="integer")
        cutover.cutover(run, conn, pg_dsn, settings, v1)
        conn.execute(
            sql.SQL("GRANT SELECT ON servicedesk.tickets TO {}").format(sql.Identifier(role))
        )
        plan = cutover.plan_cutover(conn, STABLE, v2)
        assert 'DROP VIEW "servicedesk"."tickets"' in plan.statements
        assert f'GRANT SELECT ON "servicedesk"."tickets" TO "{role}"' in plan.statements

        cutover.cutover(run, conn, pg_dsn, settings, v2, backup=False, allow_shape_change=True)

        kind = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE"
            " table_schema = 'servicedesk' AND table_name = 'tickets'"
            " AND column_name = 'title'"
        ).fetchone()[0]
        assert kind == "integer"
        assert conn.execute(
            "SELECT has_table_privilege(%s, 'servicedesk.tickets', 'SELECT')", (role,)
        ).fetchone()[0]
    finally:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_views_of_others_in_the_stable_schema_are_left_alone(run, conn, pg_dsn, settings):
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    v3 = make_version(conn, 7, title_type="integer")
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    conn.execute(
        "CREATE VIEW servicedesk.open_tickets AS SELECT ticket_id FROM servicedesk.tickets"
    )

    cutover.cutover(run, conn, pg_dsn, settings, v2, backup=False, allow_shape_change=True)
    assert conn.execute("SELECT count(*) FROM servicedesk.open_tickets").fetchone()[0] == 5

    # a DROP would take the team's view with it: refused in one line, nothing changed
    with pytest.raises(
        StageError,
        match=r"^cutover of servicedesk to v3 failed: cannot drop"
        r" view servicedesk\.tickets",
    ) as info:
        cutover.cutover(run, conn, pg_dsn, settings, v3, backup=False, allow_shape_change=True)
    assert "\n" not in str(info.value)
    assert seen(conn) == (5, v2)
    assert statuses(conn) == {v1: "retired", v2: "active", v3: "loaded"}


def test_retention_purges_old_schemas_and_keeps_their_dumps(run, conn, pg_dsn, settings: Settings):
    settings = settings.model_copy(update={"retention": 2})
    versions = [make_version(conn, n) for n in (3, 4, 5, 6)]
    reports = [cutover.cutover(run, conn, pg_dsn, settings, v) for v in versions]

    assert statuses(conn) == {1: "purged", 2: "purged", 3: "retired", 4: "active"}
    assert reports[2].purged == [1] and reports[3].purged == [2]
    present = {
        r[0]
        for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'servicedesk\\_v%'"
        )
    }
    assert present == {"servicedesk_v3", "servicedesk_v4"}
    for v in (1, 2, 3):
        assert Path(deployments.get(conn, STABLE, v).backup_path).is_file()
    actions = [a["action"] for a in deployments.audit_log(conn, STABLE)]
    assert actions.count("purge") == 2


def test_retention_keeps_the_rollback_target_when_it_has_no_dump(
    run, conn, pg_dsn, settings: Settings
):
    settings = settings.model_copy(update={"retention": 1})
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    cutover.cutover(run, conn, pg_dsn, settings, v1)

    report = cutover.cutover(run, conn, pg_dsn, settings, v2, backup=False)

    assert report.purged == []
    assert report.kept == {v1: "it is the rollback target and no pg_dump of it exists"}
    assert statuses(conn) == {v1: "retired", v2: "active"}
