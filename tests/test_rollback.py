"""One-step rollback on a real PostgreSQL: from metadata, in a fresh process, with restores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from versions import (
    STABLE,
    make_version,
    schema_exists,
    sdconsole,
    seen,
    statuses,
    views_point_at,
)

from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.stages import cutover, rollback
from sdconsole.engine.target import deployments, metadata


def test_two_cutovers_then_rollback_then_roll_forward(run, conn, pg_dsn, settings):
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    cutover.cutover(run, conn, pg_dsn, settings, v2)

    back = rollback.rollback(run, conn, pg_dsn, settings)

    assert (back.action, back.from_version, back.to_version) == ("switch", v2, v1)
    assert statuses(conn) == {v1: "active", v2: "rolled_back"}
    assert seen(conn) == (3, v1) and views_point_at(conn) == {"servicedesk_v1"}
    with pytest.raises(BadInput, match="nothing to roll back to: no retired version"):
        rollback.plan_rollback(conn, STABLE)

    forward = rollback.rollback(run, conn, pg_dsn, settings, to_version=v2)

    assert (forward.from_version, forward.to_version) == (v1, v2)
    assert statuses(conn) == {v1: "retired", v2: "active"}
    assert seen(conn) == (5, v2) and views_point_at(conn) == {"servicedesk_v2"}
    audit = [
        (a["action"], a["from_version"], a["to_version"])
        for a in reversed(deployments.audit_log(conn, STABLE))
    ]
    assert audit == [
        ("cutover", None, v1),
        ("cutover", v1, v2),
        ("rollback", v2, v1),
        ("rollforward", v1, v2),
    ]


def test_a_rollback_keeps_the_cutover_time_and_says_since_when_it_is_live_again(
    run, conn, pg_dsn, settings, workdir
):
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    cut_over = deployments.get(conn, STABLE, v1)
    cutover.cutover(run, conn, pg_dsn, settings, v2)

    rollback.rollback(run, conn, pg_dsn, settings)

    back = deployments.get(conn, STABLE, v1)
    assert cut_over is not None and back is not None
    assert back.activated_at == cut_over.activated_at == cut_over.live_since
    assert back.live_since is not None and back.live_since > cut_over.activated_at
    out = sdconsole("--workdir", str(workdir), "status", "--target", pg_dsn).stdout
    assert "active: v1 (servicedesk_v1) since " in out and " (cut over " in out


def test_a_metadata_schema_from_before_live_since_gets_it_from_the_active_version(
    run, conn, pg_dsn, settings
):
    v1 = make_version(conn, 3)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    conn.execute("ALTER TABLE sdconsole.deployments DROP COLUMN live_since")

    metadata.ensure(conn)

    active = deployments.active(conn, STABLE)
    assert active is not None and active.live_since == active.activated_at


def test_rollback_in_a_fresh_process_after_the_run_ended(run, conn, pg_dsn, settings, workdir):
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    cutover.cutover(run, conn, pg_dsn, settings, v2)
    run.close()

    done = sdconsole("--workdir", str(workdir), "rollback", "--yes", "--target", pg_dsn)

    assert done.returncode == 0, done.stderr
    assert "servicedesk now shows v1 (was v2)" in done.stdout
    assert seen(conn) == (3, v1)
    assert statuses(conn) == {v1: "active", v2: "rolled_back"}
    runs = deployments.last_runs(conn, STABLE)
    assert [(r.mode, r.outcome) for r in runs] == [("rollback", "succeeded")]
    # the rollback has its own journal, with the statements it ran
    journal = (workdir / "runs" / runs[0].run_id / "events.jsonl").read_text()
    assert 'CREATE OR REPLACE VIEW \\"servicedesk\\".\\"tickets\\"' in journal


def test_rollback_without_yes_shows_the_statements_and_changes_nothing(
    run, conn, pg_dsn, settings, workdir
):
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    cutover.cutover(run, conn, pg_dsn, settings, v2)

    shown = sdconsole("--workdir", str(workdir), "rollback", "--target", pg_dsn)

    assert shown.returncode == 7
    assert "would switch servicedesk from v2 to v1" in shown.stdout
    assert (
        'CREATE OR REPLACE VIEW "servicedesk"."tickets" AS SELECT * FROM'
        ' "servicedesk_v1"."tickets";' in shown.stdout
    )
    assert shown.stderr.strip() == (
        "sdconsole: error: rollback not done: re-run with --yes to do it"
    )
    assert seen(conn) == (5, v2)

    as_json = sdconsole("--workdir", str(workdir), "rollback", "--json", "--target", pg_dsn)
    plan = json.loads(as_json.stdout)
    assert as_json.returncode == 7
    assert (plan["action"], plan["from_version"], plan["to_version"]) == ("switch", v2, v1)


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "nothing to roll back: servicedesk has no active version"),
        (("--to", "9"), "no version 9 of servicedesk in the deployment history"),
        (("--to", "1"), "v1 of servicedesk is already active"),
    ],
)
def test_nothing_to_roll_back_to_exits_2(run, conn, pg_dsn, settings, workdir, args, message):
    if args:
        cutover.cutover(run, conn, pg_dsn, settings, make_version(conn, 3))

    done = sdconsole("--workdir", str(workdir), "rollback", "--yes", *args, "--target", pg_dsn)

    assert done.returncode == 2
    assert done.stderr.strip() == f"sdconsole: error: {message}"


def test_discard_before_cutover_leaves_the_active_version_untouched(run, conn, pg_dsn, settings):
    v1 = make_version(conn, 3)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    v2 = make_version(conn, 5)

    rollback.discard(run, conn, STABLE, v2)

    assert statuses(conn) == {v1: "active", v2: "discarded"}
    assert not schema_exists(conn, v2) and schema_exists(conn, v1)
    assert seen(conn) == (3, v1)
    with pytest.raises(
        BadInput,
        match="v1 of servicedesk is active: only a version not cut over yet can be discarded",
    ):
        rollback.discard(run, conn, STABLE, v1)


def test_rollback_of_a_failed_load_discards_it(run, conn, pg_dsn, settings, workdir):
    v1 = make_version(conn, 3)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    v2 = make_version(conn, 5)
    deployments.mark(conn, STABLE, v2, "failed", error="connection lost mid-COPY")

    shown = sdconsole("--workdir", str(workdir), "rollback", "--target", pg_dsn)
    assert "would discard v2 of servicedesk (not cut over); active stays v1" in shown.stdout
    assert 'DROP SCHEMA IF EXISTS "servicedesk_v2" CASCADE;' in shown.stdout

    done = sdconsole("--workdir", str(workdir), "rollback", "--yes", "--target", pg_dsn)

    assert done.returncode == 0, done.stderr
    assert "discarded v2 of servicedesk" in done.stdout
    assert statuses(conn) == {v1: "active", v2: "discarded"}
    assert seen(conn) == (3, v1) and not schema_exists(conn, v2)


def test_rollback_to_a_purged_version_restores_it_from_its_dump(run, conn, pg_dsn, settings):
    settings = settings.model_copy(update={"retention": 1})
    v1, v2, v3 = make_version(conn, 3), make_version(conn, 5), make_version(conn, 7)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    cutover.cutover(run, conn, pg_dsn, settings, v2)
    cutover.cutover(run, conn, pg_dsn, settings, v3)
    assert statuses(conn) == {v1: "purged", v2: "purged", v3: "active"}
    plan = rollback.plan_rollback(conn, STABLE)
    assert plan.to_version == v2 and plan.restore_from.endswith(".dump")

    report = rollback.rollback(run, conn, pg_dsn, settings)

    assert report.restored_from == plan.restore_from
    assert statuses(conn) == {v1: "purged", v2: "active", v3: "rolled_back"}
    assert seen(conn) == (5, v2) and views_point_at(conn) == {"servicedesk_v2"}
    assert conn.execute("SELECT count(*) FROM servicedesk.comments").fetchone()[0] == 5
    assert conn.execute("SELECT count(*) FROM servicedesk._rejects").fetchone()[0] == 0


def test_rollback_to_a_purged_version_without_its_dump_is_refused(run, conn, pg_dsn, settings):
    settings = settings.model_copy(update={"retention": 1})
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    cutover.cutover(run, conn, pg_dsn, settings, v1)
    cutover.cutover(run, conn, pg_dsn, settings, v2)
    dump = Path(deployments.get(conn, STABLE, v1).backup_path)
    dump.unlink()

    with pytest.raises(
        BadInput, match=f"v1 of servicedesk was purged and no pg_dump of it exists \\({dump}\\)"
    ):
        rollback.rollback(run, conn, pg_dsn, settings)
    assert seen(conn) == (5, v2)


def test_passwords_never_appear_in_output_or_files(run, conn, pg_dsn, settings, workdir):
    # A server that trusts local connections ignores the made-up password.
    secret = conninfo_to_dict(pg_dsn).get("password") or "Sup3r-s3cret-pw"
    dsn = make_conninfo(pg_dsn, password=secret)
    v1, v2 = make_version(conn, 3), make_version(conn, 5)
    cutover.cutover(run, conn, dsn, settings, v1)
    cutover.cutover(run, conn, dsn, settings, v2)  # pg_dump with the password

    outputs = [
        sdconsole("--workdir", str(workdir), *args, "--target", dsn)
        for args in (
            ("rollback",),
            ("rollback", "--yes", "--json"),
            ("status",),
            ("status", "--json"),
            ("rollback", "--to", "7"),
        )
    ]

    assert [o.returncode for o in outputs] == [7, 0, 0, 0, 2]
    for o in outputs:
        assert secret not in o.stdout + o.stderr
    for path in workdir.rglob("*"):
        if path.is_file() and path.suffix != ".dump":
            assert secret.encode() not in path.read_bytes(), path
    for table in ("runs", "audit", "deployments", "locks"):
        stored = conn.execute(
            sql.SQL("SELECT coalesce(string_agg(t::text, ' '), '') FROM sdconsole.{} t").format(
                sql.Identifier(table)
            )
        )
        assert secret not in stored.fetchone()[0], table
