"""Flags are flags: however an export spells yes/no, it lands boolean and the dashboards agree.

Real PostgreSQL and real SQLite files: the sample in each ``--flags`` variant
is migrated (simple mode) into a database of its own, and every dashboard
template gives the same result on each; flag words of another language
(setting ``flag_words``) are cleaned, loaded and validated like English ones.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from conftest import Migrated, _create_database, _drop_database
from loading import write_source
from psycopg import sql

from sdconsole.engine.pipeline import Migration, drive
from sdconsole.engine.source import sample
from sdconsole.engine.target import queries
from sdconsole.settings import load_settings

VARIANTS = ("01", "yn", "yesno", "words")
FLAG_WORDS = ["sim/não"]  # what an operator sets for the 'words' variant (Sim/Não)
FLAGS = {"tickets": ("tkt_sla_met", "tkt_reopened"), "comments": ("ct_visible_customer",)}


def migrate(source: Path, dsn: str, workdir: Path, **settings) -> Migrated:
    """The source through the whole pipeline (simple mode) into the database ``dsn``."""
    chosen = load_settings(None, workdir=workdir, target_dsn=dsn, **settings)
    with Migration(chosen, source, mode="simple") as migration:
        drive(migration, yes=True)
    return Migrated(dsn, chosen.stable_schema, source, chosen)


@pytest.fixture(scope="module")
def variants(pg_server, migrated_sample, tmp_path_factory) -> dict[str, Migrated]:
    """The session sample (the mixed spellings) and the same sample in every other variant."""
    migrated = {"mixed": migrated_sample}
    databases = []
    try:
        for flags in VARIANTS:
            source = tmp_path_factory.mktemp(f"flags-{flags}") / "servicedesk.db"
            sample.generate(source, tickets=300, seed=11, flags=flags)  # as the session sample
            name, dsn = _create_database(pg_server)
            databases.append(name)
            migrated[flags] = migrate(
                source, dsn, tmp_path_factory.mktemp(f"work-{flags}"), flag_words=FLAG_WORDS
            )
        yield migrated
    finally:
        for name in databases:
            _drop_database(pg_server, name)


def column_types(target: Migrated) -> dict[tuple[str, str], str]:
    with psycopg.connect(target.dsn) as conn:
        return {
            (table, column): kind
            for table, column, kind in conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s",
                (target.schema,),
            )
        }


def test_every_spelling_of_the_flags_lands_boolean(variants):
    for flags, target in variants.items():
        types = column_types(target)
        assert {
            types[(table, column)] for table, columns in FLAGS.items() for column in columns
        } == {"boolean"}, flags


def test_the_dashboards_give_the_same_figures_whatever_the_spelling(variants):
    results: dict[str, dict[str, tuple]] = {}
    for flags, target in variants.items():
        with psycopg.connect(target.dsn) as conn:
            results[flags] = {
                template.name: queries.run_query(conn, template, target.schema)
                for template in queries.load_queries()
            }
    mixed = results.pop("mixed")
    assert len(mixed) >= 23
    for name in ("reopen_rate_by_team", "sla_compliance_by_severity", "agent_comment_activity"):
        assert mixed[name][1], name  # the flag dashboards have figures to compare
    for flags, found in results.items():
        differing = [name for name, result in mixed.items() if found[name] != result]
        assert differing == [], flags


def test_flag_words_of_another_language_are_cleaned_loaded_and_validated(tmp_path, pg_dsn):
    """English spellings are converted in SQL, the configured words in Python: together,
    with the placeholders and a value that is no flag, they land as the rules say and
    validation proves every cell against the original file."""
    spelt = [
        "Sim",
        " sim ",
        "NÃO",
        "Não\x00",
        "não",
        "Yes",
        "no",
        "0",
        "1",
        "SIM\t",
        "N/A",
        "",
        None,
    ] * 8 + ["talvez"]
    source = write_source(
        tmp_path / "pt.db",
        {"pagamentos": (["Id", "Pago"], [(str(n), value) for n, value in enumerate(spelt, 1)])},
    )
    target = migrate(
        source, pg_dsn, tmp_path, flag_words=FLAG_WORDS, quality_threshold=0, quality_floor=0
    )
    expected = [
        True,
        True,
        False,
        False,
        False,
        True,
        False,
        False,
        True,
        True,
        None,
        None,
        None,
    ] * 8 + [None]
    with psycopg.connect(pg_dsn) as conn:
        landed = [
            paid for (paid,) in conn.execute("SELECT pago FROM servicedesk.pagamentos ORDER BY id")
        ]
        (schema,) = conn.execute(
            "SELECT schema_name FROM sdconsole.deployments WHERE status = 'active'"
        ).fetchone()
        rejects = conn.execute(
            sql.SQL("SELECT column_name, raw_value FROM {}._rejects").format(sql.Identifier(schema))
        ).fetchall()
    assert landed == expected
    assert rejects == [("pago", "talvez")]
    with sqlite3.connect(source) as db:  # the source is untouched
        assert [v for (v,) in db.execute("SELECT Pago FROM pagamentos ORDER BY rowid")] == spelt
    db.close()
    assert column_types(target)[("pagamentos", "pago")] == "boolean"
