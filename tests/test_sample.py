"""Tests for the dirty ServiceDesk sample database generator."""

import hashlib
import json
import re
import sqlite3
from datetime import datetime

import pytest

from sdconsole.cli import main
from sdconsole.engine.source import sample

TABLES = ("tickets", "comments", "timesheets")
TIMESTAMP_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d.%m.%Y %H:%M",
)
TIMESTAMP_SHAPES = {
    "padded": r"\d\d/\d\d/\d{4} \d\d:\d\d",
    "unpadded": r"\d{1,2}/\d{1,2}/\d{4} \d\d:\d\d",
    "seconds": r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d",
    "iso": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
    "dashes": r"\d\d-\d\d-\d{4} \d\d:\d\d",
    "dots": r"\d\d\.\d\d\.\d{4} \d\d:\d\d",
}
NUMBER = re.compile(r"\s*\d+(\.\d+)?\s*")
BOOLEANS = {"Yes", "No", "TRUE", "FALSE", "true", "false", "1", "0", "Y", "N"}
MISSING = set(sample.PLACEHOLDERS) | {None}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample") / "servicedesk.db"
    return path, sample.generate(path, tickets=500)


@pytest.fixture(scope="module")
def db(generated):
    conn = sqlite3.connect(generated[0])
    yield conn
    conn.close()


def column(conn, table, name):
    return [row[0] for row in conn.execute(f'SELECT "{name}" FROM "{table}" ORDER BY rowid')]


def all_rows(path):
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in TABLES}


def parse_timestamp(text):
    for fmt in TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError(text)


def shape_of(text):
    return next(name for name, pattern in TIMESTAMP_SHAPES.items() if re.fullmatch(pattern, text))


def test_same_seed_gives_identical_rows_and_other_seed_differs(tmp_path):
    first = sample.generate(tmp_path / "a.db", tickets=300, seed=3)
    second = sample.generate(tmp_path / "b.db", tickets=300, seed=3)
    sample.generate(tmp_path / "c.db", tickets=300, seed=4)
    assert first == second
    assert all_rows(tmp_path / "a.db") == all_rows(tmp_path / "b.db")
    assert all_rows(tmp_path / "a.db")["tickets"] != all_rows(tmp_path / "c.db")["tickets"]


def test_returned_counts_match_tables_and_ratios(db, generated):
    stored = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in TABLES}
    assert generated[1] == stored
    assert 500 < stored["tickets"] <= 505
    assert 3.5 <= stored["comments"] / 500 <= 4.5
    assert 4.5 <= stored["timesheets"] / 500 <= 5.5


def test_schema_keeps_raw_names_and_leaves_some_columns_untyped(db):
    declared = {
        (table, name): decl
        for table in TABLES
        for _, name, decl, *_ in db.execute(f'PRAGMA table_info("{table}")')
    }
    assert declared[("tickets", "TKT-Ticket ID")] == "TEXT"
    assert declared[("timesheets", "TS-Crm ID")] == "TEXT"
    assert "" in declared.values()
    types = db.execute(
        'SELECT DISTINCT typeof("TKT-Resolution Hours") FROM tickets '
        'UNION SELECT DISTINCT typeof("TS-Hours") FROM timesheets'
    )
    assert {row[0] for row in types} <= {"text", "null"}


def test_exactly_one_description_has_a_nul_with_text_after_it(db):
    rows = db.execute(
        'SELECT "TKT-Description", typeof("TKT-Description"), '
        'length(CAST("TKT-Description" AS BLOB)) FROM tickets '
        'WHERE instr("TKT-Description", char(0)) > 0'
    ).fetchall()
    assert len(rows) == 1
    value, kind, size = rows[0]
    assert value == sample.NUL_DESCRIPTION
    assert value.split("\x00")[1] == " after tray 2 replaced"
    assert kind == "text"
    assert size == len(value.encode())


def test_timestamps_are_day_first_in_every_shape(db):
    created = column(db, "tickets", "TKT-Created Time")
    shapes = {shape_of(value) for value in created}
    assert shapes == set(TIMESTAMP_SHAPES)
    day_first = [v for v in created if shape_of(v) != "iso"]
    assert sum(int(re.split(r"[/.-]", v)[0]) > 12 for v in day_first) > len(day_first) / 3
    assert any(re.fullmatch(r"\d/\d/\d{4} .*", v) for v in created)


def test_timestamps_are_chronological(db):
    tickets = db.execute(
        'SELECT "TKT-Ticket ID", "TKT-Created Time", "TKT-Modified Time", "TKT-Closure Date" '
        "FROM tickets"
    ).fetchall()
    opened = {}
    for ticket_id, created, modified, closure in tickets:
        opened[ticket_id] = parse_timestamp(created)
        assert parse_timestamp(modified) >= opened[ticket_id]
        if closure not in MISSING and closure not in sample.IMPOSSIBLE_DATES:
            assert opened[ticket_id] <= parse_timestamp(closure) <= parse_timestamp(modified)
    for ticket_id, when in db.execute('SELECT "CT-TKT-ID", "CT-CREATED-TIME" FROM comments'):
        if ticket_id in opened:
            assert parse_timestamp(when) >= opened[ticket_id]


def test_impossible_closure_dates_are_present(db):
    closures = set(column(db, "tickets", "TKT-Closure Date"))
    assert set(sample.IMPOSSIBLE_DATES) <= closures
    for value in sample.IMPOSSIBLE_DATES:
        with pytest.raises(ValueError):
            parse_timestamp(value)


def test_placeholders_and_sql_nulls_appear_in_optional_columns(db):
    values = set(column(db, "tickets", "TKT-Description"))
    values |= set(column(db, "tickets", "TKT-Closure Date"))
    values |= set(column(db, "comments", "CT-USERIDNAME"))
    values |= set(column(db, "timesheets", "TS-Description"))
    assert MISSING <= values
    assignees = column(db, "tickets", "TKT-Assigned To")
    assert "" in assignees and "N/A" in assignees


def test_duplicate_ticket_ids_have_a_different_title(db):
    duplicates = db.execute(
        'SELECT "TKT-Ticket ID", count(DISTINCT "TKT-Title") FROM tickets '
        'GROUP BY "TKT-Ticket ID" HAVING count(*) > 1'
    ).fetchall()
    assert len(duplicates) >= 1
    assert all(titles == 2 for _, titles in duplicates)


def test_comments_include_a_few_orphans(db):
    ids = set(column(db, "tickets", "TKT-Ticket ID"))
    refs = column(db, "comments", "CT-TKT-ID")
    orphans = [ref for ref in refs if ref not in ids]
    assert 0 < len(orphans) < 0.03 * len(refs)
    assert all(ref.isdigit() for ref in refs)
    assert column(db, "comments", "CT-COMMENT-ID") == [str(i) for i in range(1, len(refs) + 1)]


def test_timesheet_crm_id_is_empty_for_non_ticket_work_only(db):
    ids = set(column(db, "tickets", "TKT-Ticket ID"))
    rows = db.execute('SELECT "TS-Category", "TS-Crm ID" FROM timesheets').fetchall()
    empty = [cat for cat, crm in rows if crm in ("", None)]
    assert empty and set(empty) == {"Meeting", "Training", "Admin"}
    assert 0.3 < len(empty) / len(rows) < 0.5
    work = [crm for cat, crm in rows if cat == "Ticket Work"]
    assert all(crm and crm.isdigit() for crm in work)
    assert 0 < sum(crm not in ids for crm in work) < 0.02 * len(rows)


def test_typed_columns_stay_within_small_dirt_rates(db):
    def share(table, name, ok):
        values = [v for v in column(db, table, name) if v not in MISSING]
        return sum(bool(ok(v)) for v in values) / len(values)

    assert share("tickets", "TKT-Ticket ID", str.isdigit) == 1
    assert share("tickets", "TKT-SLA Met", BOOLEANS.__contains__) == 1
    assert share("comments", "CT-VISIBLE-CUSTOMER", BOOLEANS.__contains__) == 1
    assert share("timesheets", "TS-Hours", NUMBER.fullmatch) == 1
    assert 0.99 < share("tickets", "TKT-Resolution Hours", NUMBER.fullmatch) < 1
    assert share("timesheets", "TS-Date", re.compile(r"\d{1,2}/\d{1,2}/\d{4}").fullmatch) == 1
    times = column(db, "timesheets", "TS-Time From") + column(db, "timesheets", "TS-Time To")
    assert all(re.fullmatch(r"\d\d:\d\d(:00)?", t) for t in times)
    assert any(len(t) == 8 for t in times)


def test_junk_resolution_hours_are_rare_but_present(db):
    hours = column(db, "tickets", "TKT-Resolution Hours")
    junk = [h for h in hours if h not in MISSING and not NUMBER.fullmatch(h)]
    assert 2 <= len(junk) < 0.005 * len(hours)
    assert any(h != h.strip() for h in hours if h)


def test_free_text_is_messy(db):
    titles = column(db, "tickets", "TKT-Title")
    descriptions = [d for d in column(db, "tickets", "TKT-Description") if d]
    comments = column(db, "comments", "CT-COMMENT")
    text = titles + descriptions + comments
    assert max(map(len, descriptions)) >= 20_000
    assert any(t != t.strip() for t in titles)
    assert any(t.endswith("\n") for t in titles + comments)
    assert any("\n" in c.strip() for c in comments)
    assert any("\t" in t for t in text)
    assert any('"' in t for t in text) and any("'" in t for t in text)
    for needle in ("é", "ç", "ã", "ü", "日本"):
        assert any(needle in t for t in text), needle
    assert "João Gonçalves" in column(db, "tickets", "TKT-Assigned To")
    accounts = set(column(db, "tickets", "TKT-Account Name"))
    assert {'Smith "and" Sons', "O'Hara Ltd"} <= accounts


def test_refuses_to_overwrite(tmp_path):
    target = tmp_path / "out.db"
    target.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        sample.generate(target, tickets=20)
    assert target.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.db"]


def test_success_leaves_no_partial_file_and_replaces_a_stale_one(tmp_path):
    target = tmp_path / "out.db"
    (tmp_path / "out.db.partial").write_bytes(b"left by a killed run")
    counts = sample.generate(target, tickets=20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.db"]
    assert counts["tickets"] == 20


def test_failure_leaves_neither_output_nor_partial(tmp_path, monkeypatch):
    def broken(rng, plan):
        yield from ()
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sample, "_comment_rows", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        sample.generate(tmp_path / "out.db", tickets=20)
    assert list(tmp_path.iterdir()) == []


def test_missing_directory_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        sample.generate(tmp_path / "nowhere" / "out.db", tickets=20)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tickets", [0, 1, 10, 49])
def test_small_databases(tmp_path, tickets):
    counts = sample.generate(tmp_path / "small.db", tickets=tickets)
    assert counts["tickets"] == tickets
    with sqlite3.connect(tmp_path / "small.db") as conn:
        nul = conn.execute(
            'SELECT count(*) FROM tickets WHERE instr("TKT-Description", char(0)) > 0'
        ).fetchone()[0]
    assert nul == (1 if tickets >= 10 else 0)


def test_the_default_is_the_sample_it_always_was(tmp_path):
    """Row for row (and declared types), so tests and benchmarks keep their figures."""
    sample.generate(tmp_path / "default.db", tickets=200, seed=5)
    sample.generate(tmp_path / "mixed.db", tickets=200, seed=5, flags="mixed", sparse_columns=0)
    with sqlite3.connect(tmp_path / "default.db") as conn:
        schema = conn.execute("SELECT sql FROM sqlite_master ORDER BY rowid").fetchall()
    conn.close()
    digest = hashlib.sha256(json.dumps([schema, all_rows(tmp_path / "default.db")]).encode())
    assert digest.hexdigest() == "98b2164b4cd7228037c65d19a16aecbbaa367a75b944ca27dc27577db8b2c658"
    assert (tmp_path / "mixed.db").read_bytes() == (tmp_path / "default.db").read_bytes()


FLAG_COLUMNS = (
    ("tickets", "TKT-SLA Met"),
    ("tickets", "TKT-Reopened"),
    ("comments", "CT-VISIBLE-CUSTOMER"),
)


@pytest.mark.parametrize("flags", [f for f in sample.FLAGS if f != "mixed"])
def test_flag_variants_spell_the_same_flags_and_change_nothing_else(tmp_path, flags):
    mixed, variant = tmp_path / "mixed.db", tmp_path / f"{flags}.db"
    assert sample.generate(mixed, tickets=300, seed=3) == sample.generate(
        variant, tickets=300, seed=3, flags=flags
    )
    true, false = sample.FLAG_SPELLINGS[flags]
    meaning = {
        **dict.fromkeys(("Yes", "TRUE", "true", "1", "Y"), true),
        **dict.fromkeys(("No", "FALSE", "false", "0", "N"), false),
        "": "",
    }
    before, after = all_rows(mixed), all_rows(variant)
    for table in TABLES:
        with sqlite3.connect(mixed) as conn:
            names = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
        conn.close()
        flagged = [names.index(name) for t, name in FLAG_COLUMNS if t == table]
        for old, new in zip(before[table], after[table], strict=True):
            assert [old[i] for i in range(len(old)) if i not in flagged] == [
                new[i] for i in range(len(new)) if i not in flagged
            ]
            assert [meaning[old[i]] for i in flagged] == [new[i] for i in flagged]
    with sqlite3.connect(variant) as conn:
        spelt = {value for table, name in FLAG_COLUMNS for value in column(conn, table, name)}
    conn.close()
    assert spelt == {true, false, ""}  # '' only where SLA Met was missing


def test_sparse_columns_are_optional_columns_nearly_always_empty(tmp_path):
    plain, sparse = tmp_path / "plain.db", tmp_path / "sparse.db"
    sample.generate(plain, tickets=1000, seed=4)
    sample.generate(sparse, tickets=1000, seed=4, sparse_columns=9)
    with sqlite3.connect(sparse) as conn:
        declared = [(row[1], row[2]) for row in conn.execute('PRAGMA table_info("tickets")')]
        names = [name for name, _ in declared[15:]]
        assert names == [name for name, _ in sample.SPARSE_COLUMNS] + [
            "TKT-Custom Field 8",
            "TKT-Custom Field 9",
        ]
        assert {kind for _, kind in declared[15:]} == {"TEXT"}
        for name in names:
            values = column(conn, "tickets", name)
            filled = [v for v in values if v not in ("", None)]
            assert 0 < len(filled) <= 0.03 * len(values), name
            assert "" in values and None in values
        ratings = {v for v in column(conn, "tickets", "TKT-Satisfaction Rating") if v}
        assert ratings <= set("12345")
        parents = {v for v in column(conn, "tickets", "TKT-Parent Ticket") if v}
        assert parents <= set(column(conn, "tickets", "TKT-Ticket ID"))
    conn.close()
    rows = all_rows(sparse)
    assert [row[:15] for row in rows["tickets"]] == all_rows(plain)["tickets"]
    assert {t: rows[t] for t in ("comments", "timesheets")} == {
        t: all_rows(plain)[t] for t in ("comments", "timesheets")
    }


@pytest.mark.parametrize(
    "kwargs",
    [{"flags": "emoji"}, {"sparse_columns": -1}, {"sparse_columns": sample.MAX_SPARSE_COLUMNS + 1}],
)
def test_unknown_variants_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        sample.generate(tmp_path / "out.db", tickets=20, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_sample_command_writes_the_variants(tmp_path, capsys):
    out = tmp_path / "yn.db"
    assert (
        main(["sample", str(out), "--tickets", "60", "--flags", "yn", "--sparse-columns", "2"]) == 0
    )
    assert capsys.readouterr().out.startswith(f"wrote {out}: ")
    with sqlite3.connect(out) as conn:
        assert set(column(conn, "tickets", "TKT-Reopened")) == {"Y", "N"}
        assert len(list(conn.execute('PRAGMA table_info("tickets")'))) == 17
    conn.close()
    assert main(["sample", str(tmp_path / "bad.db"), "--sparse-columns", "-2"]) == 2
    assert (
        capsys.readouterr().err == "sdconsole: error: --sparse-columns must be 0 to 100, not -2\n"
    )
    assert not (tmp_path / "bad.db").exists()
