"""The cleaner: rules with counts and samples, one transaction, idempotency, kill safety."""

import hashlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from loading import plan_for, write_source
from psycopg import sql

from sdconsole.cli import main
from sdconsole.engine.rules.values import CONVERTERS, Unconvertible
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput, Interrupted, StageError
from sdconsole.engine.runtime.run import Run, read_journal
from sdconsole.engine.source.sqlite import sqlite_sql
from sdconsole.engine.stages.clean.cleaner import CleanReport, clean
from sdconsole.engine.stages.clean.passes import TYPE_RULES, short
from sdconsole.engine.stages.profile.profiler import profile
from sdconsole.settings import load_settings


@pytest.fixture
def local(workdir):
    return load_settings(None, workdir=workdir)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(
            sqlite_sql(
                sql.SQL("SELECT rowid, * FROM {} ORDER BY rowid").format(sql.Identifier(table))
            )
        ).fetchall()
    finally:
        conn.close()


def run_clean(settings, source, plan, *, dry_run=False, listeners=(), run_id=None):
    with Run(settings.workdir, run_id=run_id, listeners=list(listeners)) as run:
        return clean(run, settings, source, plan, dry_run=dry_run), run.dir


@pytest.fixture(scope="module")
def sample_clean(sample_db, tmp_path_factory):
    settings = load_settings(None, workdir=tmp_path_factory.mktemp("work"))
    before = sha256(sample_db)
    with Run(settings.workdir) as run:
        plan = profile(run, settings, sample_db).plan
    report, run_dir = run_clean(settings, sample_db, plan)
    return settings, plan, report, run_dir, before


def test_sample_rules_and_working_copy(sample_db, sample_clean):
    _, _, report, run_dir, before = sample_clean
    assert report.sha256_before == report.sha256_after == before == sha256(sample_db)
    working = Path(report.working_copy)
    assert working == run_dir / "working.db"
    counts = {
        rule: report.changed(rule)
        for rule in ("nul_bytes", "trim", "null_tokens", "dates", "booleans")
    }
    assert counts["nul_bytes"] == 1 and all(counts.values())
    assert report.changed("numbers") == 0  # the sample's numbers only need trimming
    for table in ("tickets", "comments", "timesheets"):
        source_rows, cleaned_rows = rows(sample_db, table), rows(working, table)
        assert [r[0] for r in cleaned_rows] == [r[0] for r in source_rows]  # rowids kept
    source = sqlite3.connect(f"file:{sample_db}?mode=ro", uri=True)
    copy = sqlite3.connect(f"file:{working}?mode=ro", uri=True)
    for table in ("tickets", "comments", "timesheets"):
        pragma = "SELECT * FROM pragma_table_info(?)"
        assert (
            copy.execute(pragma, (table,)).fetchall() == source.execute(pragma, (table,)).fetchall()
        )
    descriptions = [r[0] for r in copy.execute('SELECT "TKT-Description" FROM tickets')]
    assert "Printer jam after tray 2 replaced" in descriptions
    assert not any("\x00" in d for d in descriptions if d)
    created = {r[0] for r in copy.execute('SELECT "TKT-Created Time" FROM tickets')}
    assert all(len(c) == 19 and c[4] == "-" and c[10] == " " for c in created)
    assert {r[0] for r in copy.execute('SELECT "TKT-SLA Met" FROM tickets')} <= {
        "true",
        "false",
        None,
    }
    assert all(len(t) == 8 for (t,) in copy.execute('SELECT "TS-Time From" FROM timesheets'))
    source.close()
    copy.close()


def test_unconvertible_cells_stay_and_are_listed(sample_db, sample_clean):
    _, _, report, _, _ = sample_clean
    assert report.unconvertible_counts["tickets.TKT-Closure Date"] == 3
    listed = {(c.column, c.value) for c in report.unconvertible}
    assert ("TKT-Closure Date", "29/02/2023 10:00") in listed
    assert ("TKT-Closure Date", "00/00/0000 00:00") in listed
    by_rowid = {r[0]: r for r in rows(sample_db, "tickets")}
    cleaned = {r[0]: r for r in rows(Path(report.working_copy), "tickets")}
    column = 11  # rowid, then TKT-Closure Date is the 11th column
    for cell in report.unconvertible:
        if cell.column == "TKT-Closure Date":
            assert by_rowid[cell.rowid][column] == cell.value == cleaned[cell.rowid][column]
            assert cell.reason == f"impossible date {cell.value!r}"


def test_report_and_preview_events(sample_clean):
    _, _, report, run_dir, _ = sample_clean
    assert CleanReport.load(run_dir / "clean.json") == report
    samples = [e for e in read_journal(run_dir) if isinstance(e, ev.DiffSample)]
    assert {(e.rule, e.table, e.column, e.changed) for e in samples} == {
        (r.rule, r.table, r.column, r.changed) for r in report.rules
    }
    nul = next(e for e in samples if e.rule == "nul_bytes")
    assert nul.samples == (
        ("Printer jam\x00 after tray 2 replaced", "Printer jam after tray 2 replaced"),
    )
    tokens = next(e for e in samples if e.rule == "null_tokens" and e.column == "TKT-Category")
    assert all(after is None for _, after in tokens.samples)


def test_dry_run_previews_the_same_and_writes_nothing_else(sample_db, sample_clean, workdir):
    settings, plan, applied, _, _ = sample_clean
    preview, run_dir = run_clean(
        load_settings(None, workdir=workdir), sample_db, plan, dry_run=True
    )
    assert preview.dry_run and preview.working_copy is None
    assert [(r.rule, r.table, r.column, r.changed) for r in preview.rules] == [
        (r.rule, r.table, r.column, r.changed) for r in applied.rules
    ]
    assert preview.unconvertible_counts == applied.unconvertible_counts
    assert sorted(p.name for p in run_dir.iterdir()) == ["clean.json", "events.jsonl"]


def test_cleaning_again_changes_nothing(sample_clean, workdir):
    settings, plan, first, _, _ = sample_clean
    working = Path(first.working_copy)
    again, _ = run_clean(load_settings(None, workdir=workdir), working, plan)
    assert again.rules == [] and again.cells_changed == 0
    assert again.unconvertible_counts == first.unconvertible_counts
    for table in ("tickets", "comments", "timesheets"):
        assert rows(Path(again.working_copy), table) == rows(working, table)


def test_edge_values_and_awkward_names(tmp_path, local):
    name, when, day, flag, amount, note = (
        '"weird" name',
        "order",
        "a-b c",
        "select",
        "Amount €",
        "note",
    )
    source = write_source(
        tmp_path / "edge.db",
        {
            "select": (
                [name, when, day, flag, amount, note],
                [
                    (
                        " 5/3/2016 12:00 ",
                        "2024-01-31 10:00:00",
                        "31/01/2025",
                        "Yes",
                        " 1.50 ",
                        "ab\x00cd",
                    ),
                    ("13/01/2024 10:00", "29/02/2024 23:59", "1/2/2025", "n", "+3", "  x\t"),
                    ("29/02/2023 10:00", "2024-02-30 10:00:00", "31/04/2024", "1", "abc", "N/A"),
                    ("N/A", "", "00/00/0000", "?", "2", ""),
                    (None, 7, "2025-01-31", "FALSE", "1e3", "keep  inner  spaces"),
                ],
            )
        },
    )
    plan = plan_for(
        source,
        {
            "select": {
                name: "timestamp",
                when: "timestamp",
                day: "date",
                flag: "boolean",
                amount: "numeric",
            }
        },
    )
    before = sha256(source)
    report, _ = run_clean(local, source, plan)
    assert sha256(source) == before
    cleaned = [r[1:] for r in rows(Path(report.working_copy), "select")]
    assert cleaned == [
        ("2016-03-05 12:00:00", "2024-01-31 10:00:00", "2025-01-31", "true", "1.50", "abcd"),
        # text keeps its whitespace
        ("2024-01-13 10:00:00", "2024-02-29 23:59:00", "2025-02-01", "false", "3", "  x\t"),
        ("29/02/2023 10:00", "2024-02-30 10:00:00", "31/04/2024", "true", "abc", None),
        (None, None, "00/00/0000", None, "2", None),
        (None, 7, "2025-01-31", "false", "1000", "keep  inner  spaces"),
    ]
    assert {(c.column, c.rowid, c.value) for c in report.unconvertible} == {
        (name, 3, "29/02/2023 10:00"),
        (when, 3, "2024-02-30 10:00:00"),
        (day, 3, "31/04/2024"),
        (day, 4, "00/00/0000"),
        (amount, 3, "abc"),
    }
    again, _ = run_clean(local, Path(report.working_copy), plan)
    assert again.cells_changed == 0


def test_integer_cells(tmp_path, workdir):
    values = [
        "42",
        "007",
        "12\x00",
        "+5",
        "\uff11\uff12",
        "99999999999999999999",
        " 8 ",
        "0",
        "-9223372036854775808",
        "-9223372036854775809",
        "9223372036854775807",
    ]
    source = write_source(tmp_path / "n.db", {"t": (["n"], [(v,) for v in values])})
    plan = plan_for(source, {"t": {"n": "integer"}})
    report, _ = run_clean(load_settings(None, workdir=workdir), source, plan)
    assert [r[1] for r in rows(Path(report.working_copy), "t")] == [
        "42",
        "7",
        "12",
        "5",
        "12",
        "99999999999999999999",
        "8",
        "0",
        *values[8:],
    ]
    # bigint's whole range converts, one past either end does not
    assert [(c.rowid, c.reason) for c in report.unconvertible] == [
        (6, "integer out of range"),
        (10, "integer out of range"),
    ]
    assert {r.rule: r.changed for r in report.rules} == {"nul_bytes": 1, "trim": 1, "numbers": 3}
    tokens = load_settings(None, workdir=workdir, null_tokens=["", "42"])
    report, _ = run_clean(tokens, source, plan)  # a token that looks like a canonical integer
    assert rows(Path(report.working_copy), "t")[0][1] is None


def test_a_column_named_rowid_and_source_constraints(tmp_path, local):
    source = tmp_path / "r.db"
    with sqlite3.connect(source) as db:
        db.execute('CREATE TABLE t ("rowid" TEXT, d TEXT)')
        db.executemany(
            "INSERT INTO t (rowid, d) VALUES (?, ?)", [("a", "13/01/2024"), ("b", "31/04/2024")]
        )
        db.execute("CREATE TABLE strict (v TEXT NOT NULL)")
        db.execute("INSERT INTO strict VALUES ('N/A')")
    db.close()
    plan = plan_for(source, {"t": {"d": "date"}})
    plan.tables = [t for t in plan.tables if t.name == "t"]
    report, _ = run_clean(local, source, plan)
    assert [(c.rowid, c.value) for c in report.unconvertible] == [(2, "31/04/2024")]
    with sqlite3.connect(report.working_copy) as db:
        cleaned = db.execute("SELECT _rowid_, * FROM t ORDER BY _rowid_").fetchall()
    db.close()
    assert cleaned == [(1, "a", "2024-01-13"), (2, "b", "31/04/2024")]
    with pytest.raises(StageError, match="breaks a constraint the source declares: NOT NULL"):
        run_clean(local, source, plan_for(source, {}))


def test_source_changed_while_cleaning_is_an_error(tmp_path, local):
    source = write_source(
        tmp_path / "s.db",
        {"a": (["d"], [("13/01/2024",)] * 10), "b": (["d"], [("14/01/2024",)] * 10)},
    )
    plan = plan_for(source, {"a": {"d": "date"}, "b": {"d": "date"}})

    def change_source(event):
        if isinstance(event, ev.DiffSample) and event.table == "a":
            with sqlite3.connect(source) as db:
                db.execute("UPDATE b SET d = '15/01/2024' WHERE rowid = 1")
            db.close()

    with pytest.raises(StageError, match="changed while cleaning"):
        run_clean(local, source, plan, listeners=[change_source])
    assert not list(local.workdir.glob("runs/*/working.db*"))
    assert not list(local.workdir.glob("runs/*/clean.json"))


def test_cancel_rolls_back(tmp_path, local):
    source = write_source(
        tmp_path / "s.db", {"a": (["d"], [(f"{n % 28 + 1}/01/2024",) for n in range(60_000)])}
    )
    plan = plan_for(source, {"a": {"d": "date"}})

    def cancel(event):  # the operator cancels as the table starts
        if isinstance(event, ev.Progress) and event.stage == "clean":
            runs[0].cancel_requested.set()

    runs = []
    with pytest.raises(Interrupted), Run(local.workdir, listeners=[cancel]) as run:
        runs.append(run)
        clean(run, local, source, plan, dry_run=False)
    assert not list(local.workdir.glob("runs/*/working.db*"))


def test_bad_inputs(tmp_path, local, capsys):
    source = write_source(tmp_path / "s.db", {"a": (["d"], [("x",)])})
    with pytest.raises(BadInput, match="plan table 'missing' is not in the source"):
        run_clean(
            local, source, plan_for(write_source(tmp_path / "o.db", {"missing": (["d"], [])}), {})
        )
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE k (id TEXT PRIMARY KEY, v) WITHOUT ROWID")
    db.close()
    with pytest.raises(BadInput, match="has no rowid \\(WITHOUT ROWID"):
        run_clean(local, source, plan_for(source, {}))
    text = tmp_path / "notes.db"
    text.write_text("hello\n")
    for path, reason in (
        (tmp_path / "none.db", "does not exist"),
        (text, "is not a SQLite database"),
    ):
        capsys.readouterr()
        assert main(["--workdir", str(local.workdir), "clean", str(path), "--dry-run"]) == 2
        assert capsys.readouterr().err == f"sdconsole: error: source {path} {reason}\n"


def test_clean_command(sample_db, workdir, capsys):
    assert main(["--workdir", str(workdir), "clean", str(sample_db), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "nul_bytes" in out and "SHA-256 before" in out and "dry run" in out
    assert main(["--workdir", str(workdir), "clean", str(sample_db), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert Path(document["working_copy"]).exists()
    assert document["sha256_before"] == document["sha256_after"]


KILL_SCRIPT = """
import sys
from pathlib import Path
from sdconsole.engine.stages.clean.cleaner import clean
from sdconsole.engine.records.plan import Plan
from sdconsole.engine.runtime.run import Run
from sdconsole.settings import load_settings

workdir, run_id, source, plan = sys.argv[1:]
settings = load_settings(None, workdir=Path(workdir))
with Run(Path(workdir), run_id=run_id) as run:
    clean(run, settings, Path(source), Plan.load(Path(plan)), dry_run=False)
"""


def big_source(path: Path, rows: int) -> Path:
    with sqlite3.connect(path) as db:
        db.execute('CREATE TABLE big ("when", "day", "n")')
        db.execute(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)"
            " INSERT INTO big SELECT printf('%d/%d/%d %02d:%02d', n % 28 + 1, n % 12 + 1,"
            " 2000 + n % 25, n % 24, n % 60), printf('%d/%d/%d', n % 28 + 1, n % 12 + 1,"
            " 2000 + n % 25), printf(' %d ', n) FROM seq",
            (rows,),
        )
    db.close()
    return path


def test_sigkill_during_apply_leaves_the_previous_working_copy(tmp_path, local):
    source = big_source(tmp_path / "big.db", 120_000)
    plan = plan_for(source, {"big": {"when": "timestamp", "day": "date", "n": "integer"}})
    plan_path = tmp_path / "plan.json"
    plan.save(plan_path)
    source_sha = sha256(source)
    with Run(local.workdir) as run:  # an earlier, finished clean of this run
        first = clean(run, local, source, plan_for(source, {}), dry_run=False)
        run_id, run_dir = run.run_id, run.dir
    previous = sha256(Path(first.working_copy))
    journal = run_dir / "events.jsonl"
    seen = journal.read_text().count("\n")
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(local.workdir), run_id, str(source), str(plan_path)]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        events = [
            json.loads(line)
            for line in journal.read_text().splitlines()[seen:]
            if line.endswith("}")
        ]
        if any(
            e["kind"] == "Progress"
            and e["stage"] == "clean"
            and e["table"] == "big"
            and 0 < e["done"] < e["total"]
            for e in events
        ):
            os.kill(child.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    assert child.wait(30) == -signal.SIGKILL, "the clean finished before it could be killed"
    events = [json.loads(line) for line in journal.read_text().splitlines()[seen:]]
    assert not any(e["kind"] in ("StageFinished", "StageFailed") for e in events)
    assert sha256(run_dir / "working.db") == previous  # untouched: the previous state
    partial = run_dir / "working.db.partial"
    assert CleanReport.load(run_dir / "clean.json") == first
    if partial.exists():  # opened, the killed snapshot rolls back: uncleaned, not half-cleaned
        with sqlite3.connect(partial) as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            snapshot = (
                db.execute("SELECT rowid, * FROM big ORDER BY rowid").fetchall()
                if "big" in tables
                else None
            )
        db.close()
        # Killed before its snapshot committed, it rolls back to an empty file.
        assert snapshot == rows(source, "big") if snapshot is not None else tables == set()
    assert sha256(source) == source_sha
    with Run(local.workdir, run_id=run_id) as run:  # and the same run can clean again
        again = clean(run, local, source, plan, dry_run=False)
    cleaned = rows(Path(again.working_copy), "big")
    assert cleaned[0][1:] == ("2001-02-02 01:01:00", "2001-02-02", "1")
    assert not partial.exists()


def python_rules(value, column, tokens):
    """The rules in plain Python: NUL bytes, tokens (once trimmed), then for a typed column
    trim and its converter; a text column keeps its value.

    Returns the cleaned value, the (rule, before, after) steps and the reason
    the value is unconvertible (or None).
    """
    if not isinstance(value, str):
        return value, [], None
    steps = []
    if "\x00" in value:
        steps.append(("nul_bytes", value, value.replace("\x00", "")))
        value = value.replace("\x00", "")
    if value.strip() in tokens:
        return None, [*steps, ("null_tokens", value, None)], None
    if column.type == "text":
        return value, steps, None
    if value.strip() != value:
        steps.append(("trim", value, value.strip()))
        value = value.strip()
    try:
        canonical = CONVERTERS[column.type](value, column.date_order)
    except Unconvertible as exc:
        return value, steps, str(exc)
    if canonical != value:
        steps.append((TYPE_RULES[column.type], value, canonical))
    return canonical, steps, None


def assert_as_python(source: Path, plan, tokens, report: CleanReport) -> None:
    """Every cell, count, sample and unconvertible cell is what the plain Python rules give."""
    rules, samples, unconvertible, per_column, changed = {}, {}, [], Counter(), 0
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    copy = (
        sqlite3.connect(f"file:{report.working_copy}?mode=ro", uri=True)
        if report.working_copy
        else None
    )
    for table in plan.tables:
        select = sqlite_sql(
            sql.SQL("SELECT rowid, {} FROM {} ORDER BY rowid").format(
                sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns),
                sql.Identifier(table.name),
            )
        )
        cleaned = copy.execute(select).fetchall() if copy else None
        found: dict[int, Counter] = {}
        for n, row in enumerate(src.execute(select)):
            for index, (column, value) in enumerate(zip(table.columns, row[1:], strict=True)):
                new, steps, reason = python_rules(value, column, tokens)
                if cleaned is not None:
                    got = cleaned[n][1 + index]
                    assert cleaned[n][0] == row[0]
                    assert (type(got), got) == (type(new), new), (table.name, column.name, value)
                changed += bool(steps)
                for rule, before, after in steps:
                    found.setdefault(index, Counter())[rule] += 1
                    pairs = samples.setdefault((rule, table.name, column.name), [])
                    pair = (short(before), None if after is None else short(after))
                    if pair not in pairs and len(pairs) < 5:
                        pairs.append(pair)
                if reason is not None:
                    per_column[f"{table.name}.{column.name}"] += 1
                    unconvertible.append((table.name, column.name, row[0], value, reason))
        for index, column in enumerate(table.columns):
            for rule in ("nul_bytes", "trim", "null_tokens", "dates", "booleans", "numbers"):
                if found.get(index, Counter())[rule]:
                    rules[(rule, table.name, column.name)] = found[index][rule]
    src.close()
    if copy:
        copy.close()
    assert [((r.rule, r.table, r.column), r.changed) for r in report.rules] == list(rules.items())
    assert {(r.rule, r.table, r.column): r.samples for r in report.rules} == samples
    assert [
        (c.table, c.column, c.rowid, c.value, c.reason) for c in report.unconvertible
    ] == unconvertible[:1000]
    assert report.unconvertible_counts == dict(per_column)
    assert report.cells_changed == changed


def test_sample_is_cleaned_exactly_as_the_python_rules_say(sample_db, sample_clean, workdir):
    settings, plan, report, _, _ = sample_clean
    tokens = frozenset(settings.null_tokens)
    assert_as_python(sample_db, plan, tokens, report)
    preview, _ = run_clean(load_settings(None, workdir=workdir), sample_db, plan, dry_run=True)
    assert_as_python(sample_db, plan, tokens, preview)


def edge_values() -> list:
    """Values at the edges of every shape SQL converts, and of what it must leave to Python."""
    days, months = (0, 1, 9, 10, 12, 13, 28, 29, 30, 31, 32), (0, 1, 2, 4, 9, 10, 12, 13)
    years = ("0000", "0004", "0300", "1900", "2000", "2023", "2024", "9999", "999", "20234")
    values: list = []
    for d, m, y in itertools.product(days, months, years):
        values += [
            f"{d:02d}/{m:02d}/{y}",
            f"{d}/{m}/{y}",
            f"{d:02d}-{m}-{y}",
            f"{d}.{m:02d}.{y}",
            f"{d}/{m}-{y}",
            f"{y}-{m:02d}-{d:02d}",
        ]
    clocks = (
        " 0:00",
        " 00:00",
        " 00:00:00",
        " 9:05",
        " 09:05",
        " 23:59",
        " 24:00",
        " 12:60",
        " 12:30:59",
        " 12:30:60",
        " 1:02:03",
        " 12:30:45.123",
        "T12:30",
        "  12:30",
        " 7:3",
    )
    for day, clock in itertools.product(
        (
            "31/12/2023",
            "1/2/2024",
            "29/02/2024",
            "29/02/2023",
            "12-31-2023",
            "2024-02-29",
            "2024/02/09",
            "5.3.2016",
        ),
        clocks,
    ):
        values.append(day + clock)
    values += [c.strip() for c in clocks] + ["7:30:00", "07:30:00", "23:59:59", "１２:３０"]
    values += [
        "".join(s)
        for t in ("yes", "no", "true", "false", "y", "n", "t", "f")
        for s in itertools.product(*({c.lower(), c.upper()} for c in t))
    ]
    values += ["1", "0", "yes ", " no", "yes\x00", "yés", "2", "-1", "ja", "TRUE\t", "K"]
    values += [
        "-0",
        "00",
        "007",
        "+1",
        "1-",
        "9223372036854775807",
        "-9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "999999999999999999",
        "1234567890123456789",
        "12\x00",
        "１２",
        " 5",
        "5 ",
        "1e3",
        "1.0",
        "٣",
    ]
    values += [
        "0.50",
        "-0.50",
        "00.5",
        ".5",
        "5.",
        "1E-2",
        "-0.0",
        "12345678901.5",
        "123456789012",
        "1234567890123",
        "1.2.3",
        "1,5",
        "+1.5",
        "--1",
        "0.000",
        "10.01",
        "-10",
        "1.5\x00",
        "１.５",
        "-0.",
        "0.0.0",
    ]
    values += [
        "",
        " ",
        "N/A",
        " N/A",
        "N/A ",
        "n/a",
        "NULL",
        "null",
        "?",
        "-",
        "\u3000N/A",
        "N/A\x00",
        "\t",
        "x\x00y",
        "\x00",
        "  spaced  ",
        "a\u00a0",
        "\u2028b",
        "é",
        "éé ",
        "\x7f",
        "\x1fz",
        "plain text",
    ]
    return values + [None, 0, 1, 5, -3, 1.5, 2.0, b"12:30", b"\x00", b"yes"]


@pytest.mark.parametrize("null_tokens", [None, ["", "N/A", "0", "1", "yes", "-0", " x "]])
def test_edge_values_are_cleaned_exactly_as_the_python_rules_say(tmp_path, workdir, null_tokens):
    """Typed columns in both date orders, collations that must not matter, tokens that
    look like values (checked before the conversions), and values SQL must leave alone."""
    source = tmp_path / "edges.db"
    columns = {
        "ts": ("timestamp", "day-first", "TEXT COLLATE NOCASE"),
        "ts_us": ("timestamp", "month-first", ""),
        "day": ("date", "day-first", "TEXT COLLATE RTRIM"),
        "day_us": ("date", "month-first", ""),
        "clock": ("time", "day-first", ""),
        "flag": ("boolean", "day-first", "TEXT COLLATE NOCASE"),
        "n": ("integer", "day-first", ""),
        "amount": ("numeric", "day-first", "BLOB"),
        "note": ("text", "day-first", "TEXT COLLATE RTRIM"),
    }
    values = edge_values()
    declared = ", ".join(f"{name} {declared}" for name, (_, _, declared) in columns.items())
    with sqlite3.connect(source) as db:
        db.execute(f"CREATE TABLE edges ({declared})")
        db.executemany(
            f"INSERT INTO edges VALUES ({', '.join('?' * len(columns))})",
            [(v,) * len(columns) for v in values],
        )
    db.close()
    plan = plan_for(source, {"edges": {c: t for c, (t, _, _) in columns.items()}})
    for column in plan.tables[0].columns:
        column.date_order = columns[column.name][1]
    settings = load_settings(
        None, workdir=workdir, **({"null_tokens": null_tokens} if null_tokens else {})
    )
    tokens = frozenset(settings.null_tokens)
    report, _ = run_clean(settings, source, plan)
    assert report.changed() > 0 and len(report.unconvertible) == 1000
    assert_as_python(source, plan, tokens, report)
    preview, _ = run_clean(settings, source, plan, dry_run=True)
    assert_as_python(source, plan, tokens, preview)
    if null_tokens is None:  # with '0' a token, '00' becomes '0', then NULL on a second run
        again, _ = run_clean(settings, Path(report.working_copy), plan)
        assert again.cells_changed == 0
