"""Fidelity: any SQLite file arrives with nothing changed in meaning, proven cell by cell.

Real SQLite files (the fidelity cases written here, the public Chinook and
Northwind databases under tests/data, the project's sample) go through the
real pipeline into a real PostgreSQL; then every source cell is compared with
its target cell through the documented rules (:mod:`sdconsole.engine.stages.roundtrip`).
"""

from __future__ import annotations

import math
from pathlib import Path

import psycopg
import pytest
from fidelity_cases import ALL_BYTES, BAD_TEXT_BYTES, EXPECTED_ROWS, write_fidelity_db

from sdconsole.engine import pipeline
from sdconsole.engine.rules.values import TYPES
from sdconsole.engine.stages.clean import passes as clean_passes
from sdconsole.engine.stages.roundtrip import round_trip
from sdconsole.settings import Settings, load_settings

DATA = Path(__file__).parent / "data"


@pytest.fixture
def fidelity_db(tmp_path: Path) -> Path:
    path = tmp_path / "fidelity.db"
    write_fidelity_db(path)
    return path


def load_and_validate(settings: Settings, source: Path) -> pipeline.Migration:
    """Preflight to validation (simple mode) of ``source``; the migration, closed."""
    with pipeline.Migration(settings, source, mode="simple") as m:
        m.preflight()
        m.profile()
        m.gate(override_reason="the fidelity cases hold orphans and gaps by design")
        m.clean()
        m.load()
        m.validate()
    return m


def proven(settings: Settings, source: Path) -> pipeline.Migration:
    """Load and validate, then assert every cell round-trips: nothing different."""
    m = load_and_validate(settings, source)
    assert m.validation.ok, m.validation.summary
    with psycopg.connect(settings.target_dsn) as conn:
        trip = round_trip(conn, source, m.plan, m.version_schema, frozenset(settings.null_tokens))
    assert trip.total["different"] == 0, trip.differences
    assert trip.cells == sum(t.rows * len(t.columns) for t in m.plan.tables)
    return m


def fetch(dsn: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def column_types(dsn: str, schema: str, table: str) -> dict[str, str]:
    return dict(
        fetch(
            dsn,
            "SELECT column_name, format_type(atttypid, atttypmod)"
            " FROM information_schema.columns JOIN pg_attribute"
            " ON attrelid = format('%%I.%%I', table_schema, table_name)::regclass"
            " AND attname = column_name WHERE table_schema = %s"
            " AND table_name = %s",
            schema,
            table,
        )
    )


def constraints(dsn: str, schema: str, table: str) -> set[tuple[str, str, bool]]:
    """(type, definition, validated) of the table's constraints."""
    return set(
        fetch(
            dsn,
            "SELECT contype::text, pg_get_constraintdef(oid), convalidated"
            " FROM pg_constraint WHERE conrelid = format('%%I.%%I', %s::text,"
            " %s::text)::regclass",
            schema,
            table,
        )
    )


def test_every_case_arrives_as_it_was(settings: Settings, fidelity_db: Path) -> None:
    m = proven(settings, fidelity_db)
    dsn, v = settings.target_dsn, m.version_schema
    assert {t.ident: m.load_report.tables[t.ident]["rows"] for t in m.plan.tables} == {
        t.ident: EXPECTED_ROWS[t.name] for t in m.plan.tables
    }

    # Leading zeros and '+' keep their column text; text keeps every byte.
    assert column_types(dsn, v, "codes")["postal_code"] == "text"
    assert column_types(dsn, v, "codes")["plus"] == "text"
    codes = fetch(dsn, f"SELECT postal_code, plus, city FROM {v}.codes ORDER BY id")
    assert "06897" in {c for c, _, _ in codes} and "+44" in {p for _, p, _ in codes}
    assert {"Edinburgh ", " Oslo", "line\nbreak", "tab\there", "e\u0301"} <= {
        c for _, _, c in codes
    }
    flagged = m.plan.table("codes").column("Postal Code").flagged
    assert "leading zero" in flagged and "kept as text" in flagged

    # 'Val2 ' and 'Val2' are two keys, and the declared key is the key.
    assert sorted(k for (k,) in fetch(dsn, f"SELECT key FROM {v}.keys")) == [
        "Val1",
        "Val2",
        "Val2 ",
    ]
    assert ("p", "PRIMARY KEY (key)", True) in constraints(dsn, v, "keys")

    # BLOBs arrive byte for byte, the empty one empty, not NULL.
    assert column_types(dsn, v, "images")["data"] == "bytea"
    images = dict(fetch(dsn, f"SELECT image_id, data FROM {v}.images"))
    assert images[1] == ALL_BYTES and b"hello" in images.values() and b"" in images.values()
    assert None in images.values()

    # Declared composite key, UNIQUE and foreign keys; the orphan's key NOT VALID.
    territory = constraints(dsn, v, "employee_territory")
    assert ("p", "PRIMARY KEY (employee_id, territory_id)", True) in territory
    assert sum(1 for kind, _, valid in territory if kind == "f" and valid) == 2
    orders = constraints(dsn, v, "orders")
    assert ("u", "UNIQUE (ref)", True) in orders
    assert [valid for kind, _, valid in orders if kind == "f"] == [False]
    assert not m.plan.table("EmployeeTerritory").key_inferred

    # NUMERIC(10,2) keeps its scale; REAL keeps its exact double, infinities included.
    types = column_types(dsn, v, "prices")
    assert types == {"id": "bigint", "amount": "numeric(10,2)", "ratio": "double precision"}
    ratios = [r for (r,) in fetch(dsn, f"SELECT ratio FROM {v}.prices") if r is not None]
    assert {1e308, -1e308, 5e-324, 2.2250738585072014e-308, 0.1, 1 / 3} <= set(ratios)
    assert math.inf in ratios and -math.inf in ratios
    assert ("1.50",) in fetch(dsn, f"SELECT amount::text FROM {v}.prices")

    # int64 bounds stay bigint; beyond them numeric, exactly.
    assert column_types(dsn, v, "bigints") == {"id": "bigint", "big": "bigint", "huge": "numeric"}
    assert {h for (h,) in fetch(dsn, f"SELECT huge::text FROM {v}.bigints")} == {
        "99999999999999999999",
        "-99999999999999999999",
        "1",
    }
    assert {b for (b,) in fetch(dsn, f"SELECT big FROM {v}.bigints")} >= {2**63 - 1, -(2**63)}

    # WITHOUT ROWID migrates, keyed as declared.
    assert ("p", "PRIMARY KEY (code)", True) in constraints(dsn, v, "wr")

    # Text that is not UTF-8 is a reject with its raw bytes; the rest of the table loads.
    assert fetch(dsn, f"SELECT id, s IS NULL FROM {v}.badtext ORDER BY id") == [
        (1, False),
        (2, True),
        (3, False),
    ]
    assert fetch(dsn, f"SELECT raw_bytes FROM {v}._rejects WHERE table_name = 'badtext'") == [
        (BAD_TEXT_BYTES,)
    ]

    # Mixed storage classes: nothing silently changed; the BLOB is a reject, not text.
    assert fetch(dsn, f"SELECT raw_bytes, reason FROM {v}._rejects WHERE table_name = 'mixed'") == [
        (b"\x04\x05", "binary value (BLOB) in a text column")
    ]

    # Seconds and fractions are kept; a date-only column is a date.
    assert column_types(dsn, v, "times") == {
        "id": "bigint",
        "at": "timestamp without time zone",
        "day": "date",
    }
    assert {a for (a,) in fetch(dsn, f"SELECT at::text FROM {v}.times")} == {
        "2024-01-31 14:05:09.123456",
        "2024-02-29 00:00:00.5",
        "2024-03-01 23:59:59",
    }


def test_departures_from_the_declared_type_are_listed(
    settings: Settings, fidelity_db: Path
) -> None:
    with pipeline.Migration(settings, fidelity_db, mode="simple") as m:
        m.profile()
    huge = m.profile_result.table("bigints").column("Huge")
    assert huge.type == "numeric"
    assert huge.departure.startswith("declared TEXT, loaded as numeric")
    assert m.profile_result.table("codes").column("Postal Code").departure == ""
    assert m.profile_result.table("prices").column("Amount").departure == ""


@pytest.mark.parametrize("kind", TYPES)
def test_any_override_on_any_storage_class_converts_or_rejects(
    settings: Settings, fidelity_db: Path, kind: str
) -> None:
    """Every type over a column holding every storage class, and 0/1 INTEGERs as booleans."""
    local = load_settings(
        None,
        workdir=settings.workdir,
        target_dsn=settings.target_dsn,
        type_overrides={"mixed.Anything": kind, "flags.Active": "boolean", "prices.Ratio": kind},
    )
    proven(local, fidelity_db)


def test_booleans_from_integer_flags(settings: Settings, fidelity_db: Path) -> None:
    local = load_settings(
        None,
        workdir=settings.workdir,
        target_dsn=settings.target_dsn,
        type_overrides={"flags.Active": "boolean"},
    )
    m = proven(local, fidelity_db)
    assert {
        a for (a,) in fetch(local.target_dsn, f"SELECT active FROM {m.version_schema}.flags")
    } == {True, False}


def test_a_cleaning_bug_fails_validation_and_names_the_cell(
    settings: Settings, fidelity_db: Path, monkeypatch
) -> None:
    """A cleaner that trims a text column again: validation, reading the original, names
    the cell (its copy of the source's key column would refuse a trimmed key outright)."""
    right = clean_passes.clean_value

    def trimming(text, column, null_tokens):
        new, steps, reason = right(text, column, null_tokens)
        if column.name == "City" and isinstance(new, str) and new.strip() != new:
            return new.strip(), [*steps, ("trim", new, new.strip())], reason
        return new, steps, reason

    monkeypatch.setattr(clean_passes, "clean_value", trimming)
    m = load_and_validate(settings, fidelity_db)
    assert not m.validation.ok
    codes = m.validation.tables["codes"]
    assert not codes.checksum_ok
    assert any(
        "city: source 'Edinburgh ' should be 'Edinburgh ', target has 'Edinburgh'" in e
        for e in codes.examples
    ), codes.examples
    assert "codes:" in m.validation.summary


@pytest.mark.parametrize("name", ["chinook.sqlite", "northwind.sqlite"])
def test_public_databases_round_trip(settings: Settings, name: str) -> None:
    m = proven(settings, DATA / name)
    assert m.load_report.rejects_total == 0
    for table in m.plan.tables:
        assert not table.key_inferred or not m.profile_result.table(table.name).declared.primary_key


def test_the_sample_round_trips(settings: Settings, sample_db: Path) -> None:
    proven(settings, sample_db)
