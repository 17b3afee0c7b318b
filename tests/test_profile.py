"""The profiler on the sample and on hand-made edge cases: types, dates, dirt, keys, orphans."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from loading import write_source

from sdconsole.cli import main
from sdconsole.engine.records.plan import Plan
from sdconsole.engine.records.profile import Profile
from sdconsole.engine.rules.values import ENGLISH_FLAG_WORDS
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.runtime.run import Run, read_journal
from sdconsole.engine.stages.profile import scan
from sdconsole.engine.stages.profile.profiler import profile
from sdconsole.settings import load_settings


def run_profile(settings, source, **kwargs):
    with Run(settings.workdir) as run:
        return profile(run, settings, source, **kwargs), run.dir


@pytest.fixture
def local(workdir):
    """Settings without a target: the profiler never needs PostgreSQL."""
    return load_settings(None, workdir=workdir)


@pytest.fixture(scope="module")
def sample_profile(sample_db, tmp_path_factory):
    settings = load_settings(None, workdir=tmp_path_factory.mktemp("work"))
    return run_profile(settings, sample_db)


def test_sample_types_and_dirt(sample_profile):
    result, _ = sample_profile
    tickets = result.table("tickets")
    types = {c.name: c.type for t in result.tables for c in t.columns}
    assert types["TKT-Ticket ID"] == "integer"
    assert types["TKT-Created Time"] == "timestamp"
    assert types["TKT-SLA Met"] == "boolean"
    assert types["TKT-Resolution Hours"] == "numeric"
    assert types["TKT-Title"] == "text"
    assert types["TS-Date"] == "date"
    assert types["TS-Time From"] == "time"
    created = tickets.column("TKT-Created Time")
    assert created.date_evidence.decision == "day-first"
    assert created.date_evidence.day_first > 0 and created.date_evidence.month_first == 0
    assert created.min.startswith("2023-") and created.max < "2026-03"
    closure = tickets.column("TKT-Closure Date")
    assert closure.date_evidence.impossible == 3  # 29/02/2023, 31/04/2024, 00/00/0000
    assert closure.invalid == 3 and "29/02/2023 10:00" in closure.invalid_examples
    description = tickets.column("TKT-Description")
    assert description.nul_bytes == 1
    assert set(description.placeholders) <= {"?", "-", "N/A", "NULL", "n/a"}
    assert tickets.column("TKT-Title").whitespace > 0
    hours = tickets.column("TKT-Resolution Hours")
    assert hours.invalid >= 2 and hours.placeholders  # 'abc', 'approx 3'...; 'N/A', '?'


def test_sample_keys_and_relations(sample_profile):
    result, _ = sample_profile
    tickets, comments = result.table("tickets"), result.table("comments")
    assert tickets.key == "TKT-Ticket ID"
    assert tickets.duplicate_keys >= 1 and tickets.duplicate_examples
    assert result.plan.table("tickets").primary_key == []  # duplicates: no primary key
    assert comments.key == "CT-COMMENT-ID" and comments.duplicate_keys == 0
    assert result.plan.table("comments").primary_key == ["ct_comment_id"]
    assert result.plan.table("comments").key_inferred
    assert result.plan.table("tickets").date_column == "tkt_created_time"
    relations = {r.key: r for r in result.relations}
    assert relations["comments.CT-TKT-ID"].orphans > 0
    assert not relations["comments.CT-TKT-ID"].expected
    assert relations["timesheets.TS-Crm ID"].expected


def test_profile_and_plan_are_written_and_reload(sample_profile):
    result, run_dir = sample_profile
    loaded = Profile.load(run_dir / "profile.json")
    assert loaded.to_dict() == result.to_dict()
    assert Plan.load(run_dir / "plan.json").to_dict() == result.plan.to_dict()
    assert (
        json.loads((run_dir / "profile.json").read_text())["source_sha256"] == result.source_sha256
    )
    events = read_journal(run_dir)
    done = {e.table for e in events if isinstance(e, ev.Progress) and e.done == e.total}
    assert done == {"tickets", "comments", "timesheets"}
    findings = [e for e in events if isinstance(e, ev.Finding)]
    assert any(f.dimension == "uniqueness" and f.column == "TKT-Ticket ID" for f in findings)


def test_worker_processes_give_the_same_profile(sample_db, local):
    alone, _ = run_profile(local, sample_db, workers=1)
    pooled, _ = run_profile(local, sample_db, workers=2)
    assert {**pooled.to_dict(), "seconds": 0} == {**alone.to_dict(), "seconds": 0}


def without_examples(data):
    """A profile's figures with the example values left out (their order may differ)."""
    if isinstance(data, dict):
        return {
            k: without_examples(v) for k, v in data.items() if "example" not in k and k != "seconds"
        }
    if isinstance(data, list):
        return [without_examples(v) for v in data]
    return data


def test_columns_too_big_for_the_counting_pass_are_counted_alone_alike(
    sample_db, local, monkeypatch
):
    """A column whose distinct values pass PASS_MEMORY leaves the one-pass count and is
    counted alone, in a read of its own or with a GROUP BY, and the figures stay the
    same."""
    columns = ["CT-COMMENT-ID", "CT-COMMENT", "CT-TYPE"]
    reading = (frozenset(local.null_tokens), ENGLISH_FLAG_WORDS)
    rows = 1_200
    grouped, _ = scan.scan_columns(sample_db, "comments", columns, *reading, rows, parts=2)
    alone, _ = scan.scan_columns(sample_db, "comments", columns, *reading, rows, parts=1)
    counted, left = scan.scan_columns(sample_db, "comments", columns, *reading, rows)
    assert left == []
    monkeypatch.setattr(scan, "PASS_MEMORY", 60_000)
    squeezed, left = scan.scan_columns(sample_db, "comments", columns, *reading, rows)
    assert [column for column, _ in left] == ["CT-COMMENT"]  # long, all distinct: the biggest
    assert left[0][1] >= 2  # not even alone: it would pass PASS_MEMORY
    assert set(squeezed) == {"CT-COMMENT-ID", "CT-TYPE"}
    for column in columns:  # what the profile then asks SQLite for instead: see below
        expected = without_examples(asdict(grouped[column]))
        assert without_examples({**asdict(counted[column]), "duplicates": None}) == expected
        assert without_examples(asdict(alone[column])) == expected
    assert counted["CT-COMMENT-ID"].duplicates == (0, 0, [])
    whole, _ = run_profile(local, sample_db, workers=2)
    monkeypatch.setattr(scan, "PASS_MEMORY", 0)  # every column alone: keys and
    apart, _ = run_profile(local, sample_db, workers=2)  # orphans are counted in SQLite
    assert without_examples(apart.to_dict()) == without_examples(whole.to_dict())
    assert whole.tables[0].duplicate_keys and whole.relations[0].orphans
    assert [r.examples for r in apart.relations] == [r.examples for r in whole.relations]
    assert [t.duplicate_examples for t in apart.tables] == [
        t.duplicate_examples for t in whole.tables
    ]


@pytest.mark.parametrize(
    "child_ids", [[1, 2, "3", "5", None, "N/A"], [1, 2, 3.0, "5", None, "N/A"]]
)
def test_keys_and_orphans_compare_values_as_sqlite_trims_them(
    tmp_path, local, monkeypatch, child_ids
):
    """Integers meet text as trim() turns them into text; a real (3.0 is '3.0') sends the
    count to SQLite, as does a column left out of the counting pass: same answers."""
    source = write_source(
        tmp_path / "ids.db",
        {
            "tickets": (["TKT-Ticket ID"], [("1",), (" 2",), ("3",), ("4",), ("4 ",)]),
            "comments": (["CT-TKT-ID"], [(v,) for v in child_ids]),
        },
    )
    results = []
    for memory in (scan.PASS_MEMORY, 0):
        monkeypatch.setattr(scan, "PASS_MEMORY", memory)
        result, _ = run_profile(local, source)
        relation = result.relations[0]
        tickets = result.tables[0]
        results.append(
            (
                relation.orphans,
                relation.orphan_values,
                relation.examples,
                tickets.key,
                tickets.duplicate_keys,
                tickets.duplicate_rows,
                tickets.duplicate_examples,
            )
        )
    orphan = "3" if isinstance(child_ids[2], str) else "3.0"
    expected = (1, 1, ["5"]) if orphan == "3" else (2, 2, ["3.0", "5"])
    assert results[0] == results[1] == (*expected, "TKT-Ticket ID", 1, 1, ["4"])


def dates_db(path: Path, **columns: list) -> Path:
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    return write_source(path, {"t": (names, rows)})


def test_date_order_evidence(tmp_path, local):
    source = dates_db(
        tmp_path / "dates.db",
        day_first=["13/01/2024", "05/02/2024", "01/03/2024", "2024-03-04"],
        month_first=["01/13/2024", "02/05/2024", "03/01/2024", "2024-03-04"],
        ambiguous=["01/02/2024", "03/04/2024", "05/06/2024", "07/08/2024"],
        contradicting=["13/01/2024", "01/13/2024", "02/02/2024", "03/03/2024"],
        unpadded=["5/3/2016 12:00", "13/3/2016 12:00", "5/3/2016 12:00", "1/1/2016 0:00"],
    )
    result, _ = run_profile(local, source)
    column = result.table("t").column
    assert (column("day_first").type, column("day_first").date_order) == ("date", "day-first")
    assert column("day_first").min == "2024-01-13" and not column("day_first").flagged
    assert (column("month_first").type, column("month_first").date_order) == ("date", "month-first")
    assert column("month_first").min == "2024-01-13"
    ambiguous = column("ambiguous")
    assert (ambiguous.type, ambiguous.date_order) == ("date", "day-first")
    assert ambiguous.flagged.startswith("all 4 dates are ambiguous")
    contradicting = column("contradicting")
    assert contradicting.type == "text"
    assert contradicting.flagged.startswith("contradicting date order")
    assert contradicting.date_evidence.decision == "contradicting"
    unpadded = column("unpadded")
    assert (unpadded.type, unpadded.date_order) == ("timestamp", "day-first")
    assert (unpadded.min, unpadded.max) == ("2016-01-01 00:00:00", "2016-03-13 12:00:00")
    plan = result.plan.table("t")
    assert plan.column("contradicting").flagged and plan.column("contradicting").type == "text"


def test_ambiguous_column_uses_the_date_order_setting(tmp_path, workdir):
    source = dates_db(tmp_path / "dates.db", d=["01/02/2024", "03/04/2024"])
    settings = load_settings(None, workdir=workdir, date_order="month-first")
    result, _ = run_profile(settings, source)
    column = result.table("t").column("d")
    assert (column.date_order, column.min) == ("month-first", "2024-01-02")
    assert "read as month-first" in column.flagged


def test_impossible_dates_and_passthrough(tmp_path, local):
    source = dates_db(
        tmp_path / "dates.db",
        leap=["29/02/2024"] * 20 + ["13/01/2023"] * 19 + ["29/02/2023"],
        april=["31/04/2024 09:00", "30/04/2024 09:00", "13/04/2024 09:00", "00/00/0000 00:00"]
        + ["14/04/2024 09:00"] * 36,
        iso=["2024-02-29 10:00:00", "2024-01-31 23:59:59"] * 20,
    )
    result, _ = run_profile(local, source)
    leap = result.table("t").column("leap")
    assert leap.type == "date" and leap.date_evidence.impossible == 1
    assert leap.date_evidence.examples["impossible"] == ["29/02/2023"]
    assert (leap.invalid, leap.confidence, leap.max) == (1, 0.975, "2024-02-29")
    april = result.table("t").column("april")
    assert april.type == "timestamp" and april.date_evidence.impossible == 2
    assert set(april.invalid_examples) == {"31/04/2024 09:00", "00/00/0000 00:00"}
    iso = result.table("t").column("iso")
    assert (iso.type, iso.flagged, iso.date_evidence.iso) == ("timestamp", "", 40)
    assert iso.max == "2024-02-29 10:00:00"


def test_confidence_threshold_keeps_text_and_flags(tmp_path, local):
    rows = [str(n) for n in range(90)] + ["abc"] * 10
    source = dates_db(
        tmp_path / "mixed.db",
        mostly=rows,
        flags=["1", "0"] * 50,
        words=["Yes", "No", "1", "0"] * 25,
    )
    result, _ = run_profile(local, source)
    mostly = result.table("t").column("mostly")
    assert (mostly.type, mostly.candidate) == ("text", "integer")
    assert mostly.flagged == "only 90.0% of values are integer (threshold 95%): kept as text"
    assert mostly.invalid == 10 and mostly.invalid_examples == ["abc"]
    flags = result.table("t").column("flags")
    assert flags.type == "integer" and flags.flag_evidence.startswith(
        "not a flag: only 0 and 1 (0 50, 1 50), but no known flag"
    )
    words = result.table("t").column("words")
    assert words.type == "boolean"
    assert (
        words.flag_evidence == "a flag: its values are flag words and 0/1 (0 25, 1 25, no 25,"
        " yes 25)"
    )


def test_overrides_decide(tmp_path, workdir):
    source = dates_db(tmp_path / "o.db", c=["13/01/2024", "01/13/2024"], n=["1", "2"])
    settings = load_settings(None, workdir=workdir)
    settings.type_overrides = {"t.c": "date", "t.n": "text", "t.missing": "text"}
    settings.date_order_overrides = {"t.c": "month-first"}
    result, run_dir = run_profile(settings, source)
    column = result.plan.table("t").column
    assert (column("c").type, column("c").date_order, column("c").flagged) == (
        "date",
        "month-first",
        "",
    )
    assert column("n").type == "text"
    assert result.table("t").column("c").invalid == 1  # 13/01/2024 is no month-first date
    review = [
        e for e in read_journal(run_dir) if isinstance(e, ev.Finding) and e.dimension == "review"
    ]
    assert any("'t.missing' matches no column" in e.message for e in review)


def test_awkward_names(tmp_path, local):
    source = write_source(
        tmp_path / "names.db",
        {
            "select": (
                ['"weird" name', "order", "a-b c", "Data Solução"],
                [("13/01/2024", "1", " x ", "y"), ("14/01/2024", "2", "z", None)],
            ),
        },
    )
    result, _ = run_profile(local, source)
    table = result.table("select")
    assert [c.ident for c in table.columns] == ["weird_name", "order", "a_b_c", "data_solucao"]
    assert table.column('"weird" name').type == "date"
    assert table.column("order").type == "integer"
    assert table.column("a-b c").whitespace == 1


def test_bad_sources(tmp_path, local, capsys):
    missing = tmp_path / "missing.db"
    with pytest.raises(BadInput, match="does not exist"):
        run_profile(local, missing)
    text = tmp_path / "notes.db"
    text.write_text("not a database\n")
    for path, reason in ((missing, "does not exist"), (text, "is not a SQLite database")):
        capsys.readouterr()
        assert main(["--workdir", str(local.workdir), "profile", str(path)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err == f"sdconsole: error: source {path} {reason}\n"


def test_profile_command(sample_db, workdir, capsys):
    assert main(["--workdir", str(workdir), "profile", str(sample_db)]) == 0
    out = capsys.readouterr().out
    assert "TKT-Created Time" in out and "quality score" in out and "completeness" in out
    assert main(["--workdir", str(workdir), "profile", str(sample_db), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["score"]["total"] >= 80
    assert {t["name"] for t in document["tables"]} == {"tickets", "comments", "timesheets"}


def test_empty_values_are_values_when_empty_is_not_a_null_token(tmp_path, workdir):
    source = dates_db(
        tmp_path / "empty.db",
        n=["1", "2", "", "  ", "\x00", "N/A"],
        note=["a", "", "b", " ", "c", "d"],
    )
    settings = load_settings(None, workdir=workdir, null_tokens=["N/A"])
    result, _ = run_profile(settings, source)
    numbers, notes = result.table("t").column("n"), result.table("t").column("note")
    assert (numbers.present, numbers.placeholders) == (5, {"N/A": 1})
    assert numbers.type == "text"  # two numbers in five values: no type wins
    assert (notes.present, notes.empties) == (6, 0)


def test_known_flags_of_0_and_1_are_flags_with_their_evidence(tmp_path, local, capsys):
    """ServiceDesk flags (any case, written as text or as INTEGER cells) holding only 0
    and 1 are boolean; other 0/1 columns, and a flag that counts, stay integer."""
    source = write_source(
        tmp_path / "flags.db",
        {
            "tickets": (
                ["TKT-Ticket ID", "tkt-sla met", "TKT_REOPENED", "Visits", "Active"],
                [(str(n), ("1", "0", "")[n % 3], n % 2, str(n % 3), n % 2) for n in range(1, 61)],
            ),
            "comments": (
                ["CT-COMMENT-ID", "CT-VISIBLE-CUSTOMER"],
                [(str(n), (" 1", "0")[n % 2]) for n in range(9)],
            ),
        },
    )
    result, _ = run_profile(local, source)
    tickets, comments = result.table("tickets"), result.table("comments")
    sla, reopened = tickets.column("tkt-sla met"), tickets.column("TKT_REOPENED")
    assert (sla.type, sla.confidence, sla.present) == ("boolean", 1.0, 40)
    assert sla.flag_evidence == (
        "a flag: tkt_sla_met is a ServiceDesk flag the dashboards"
        " read, and its values are 0 and 1 (0 20, 1 20)"
    )
    assert reopened.type == "boolean" and reopened.flag_evidence.endswith("(0 30, 1 30)")
    visible = comments.column("CT-VISIBLE-CUSTOMER")
    assert visible.type == "boolean" and "ct_visible_customer" in visible.flag_evidence
    assert tickets.column("Visits").type == "integer"  # 0, 1 and 2: neither a flag nor named so
    assert tickets.column("Visits").flag_evidence == ""
    active = tickets.column("Active")
    assert active.type == "integer" and active.flag_evidence.startswith("not a flag: only 0 and 1")
    assert result.plan.table("tickets").column("tkt-sla met").type == "boolean"
    profile_command(local, source, capsys)
    out = capsys.readouterr().out
    assert sla.flag_evidence in out and active.flag_evidence in out


def profile_command(settings, source, capsys):
    capsys.readouterr()
    assert main(["--workdir", str(settings.workdir), "profile", str(source)]) == 0


def test_a_known_flag_that_counts_or_is_empty_is_not_a_flag(tmp_path, local):
    source = write_source(
        tmp_path / "counts.db",
        {
            "tickets": (
                ["TKT-Reopened", "TKT-SLA Met", "CT-VISIBLE-CUSTOMER"],
                [(str(n % 3), "", str(n % 2)) for n in range(40)] + [(None, None, "0.5")],
            )
        },
    )
    result, _ = run_profile(local, source)
    column = result.table("tickets").column
    assert column("TKT-Reopened").type == "integer"  # counts reopenings: 2 is no flag
    assert column("TKT-Reopened").flag_evidence == (
        "not a flag: tkt_reopened is a ServiceDesk flag, but 13 of its 40 values are neither"
        " flag words nor 0/1: kept as integer"
    )
    assert column("TKT-SLA Met").flag_evidence == (
        "not a flag: tkt_sla_met is a ServiceDesk flag, but it holds no values: kept as text"
    )
    assert column("CT-VISIBLE-CUSTOMER").type == "integer"  # with a 0.5: a number, no flag
    assert "1 of its 41 values are neither" in column("CT-VISIBLE-CUSTOMER").flag_evidence


def test_flag_words_of_another_language_are_flags(tmp_path, workdir):
    values = ["Sim", "não", " NÃO ", "sim", "Yes", "0"] * 10
    source = dates_db(tmp_path / "pt.db", **{"Pago": values, "Nota": ["não sei"] * 60})
    english, _ = run_profile(load_settings(None, workdir=workdir), source)
    assert english.table("t").column("Pago").type == "text"  # unknown words: not flags
    settings = load_settings(None, workdir=workdir, flag_words=["sim/não", "ja/nein"])
    result, _ = run_profile(settings, source)
    paid = result.table("t").column("Pago")
    assert (paid.type, paid.confidence, paid.invalid) == ("boolean", 1.0, 0)
    assert paid.flag_evidence == (
        "a flag: its values are flag words and 0/1 (não 20, sim 20, 0 10, yes 10)"
    )
    assert result.table("t").column("Nota").type == "text"
    planned = result.plan.table("t").column("Pago")
    assert (planned.true_words, planned.false_words) == (["sim"], ["não"])
    assert [planned.convert(v) for v in ("Sim", " NÃO ", "Yes", "0")] == [
        "true",
        "false",
        "true",
        "false",
    ]
    assert Plan.from_dict(result.plan.to_dict()).table("t").column("Pago") == planned
    assert result.plan.table("t").column("Nota").true_words == []
    pooled, _ = run_profile(settings, source, workers=2)  # the words reach worker processes
    assert {**pooled.to_dict(), "seconds": 0} == {**result.to_dict(), "seconds": 0}


def _dated_source(path: Path) -> Path:
    """opened: text dates, 16 proving day-first, 4 ambiguous and 2 words (so it stays text);
    flag: Yes/No (a boolean)."""
    days = [f"{day}/03/2024" for day in range(13, 29)] + [f"0{m}/04/2024" for m in range(1, 5)]
    opened = days + ["soon", "tbd"]
    flag = ["Yes", "No"] * 11
    return write_source(path, {"t": (["opened", "flag"], list(zip(opened, flag, strict=True)))})


def _figures(found: Profile) -> dict:
    """What an override must leave as a fresh profile would: tables, relations, score, plan."""
    data = found.to_dict()
    return {key: data[key] for key in ("tables", "relations", "score", "plan")}


def test_an_override_re_scores_the_column_as_a_profile_with_it_declared(tmp_path, local):
    from sdconsole.engine.stages.profile import quality
    from sdconsole.engine.stages.profile.profiler import override

    source = _dated_source(tmp_path / "dated.db")
    found, run_dir = run_profile(local, source)
    opened = found.table("t").column("opened")
    assert (opened.type, opened.candidate, opened.invalid) == ("text", "date", 2)
    before = found.score.total

    with Run(local.workdir, run_id=run_dir.name) as run:
        as_date = override(run, local, found, "t", "opened", type="date")
        assert (as_date.type, as_date.date_order, as_date.invalid) == ("date", "day-first", 2)
        assert found.plan.table("t").column("opened").type == "date"
        wrong = override(run, local, found, "t", "opened", date_order="month-first")
    # Read month-first, the 16 dates with a day over 12 are impossible: invalid, as the words.
    assert (wrong.type, wrong.date_order, wrong.invalid) == ("date", "month-first", 18)
    assert (wrong.overridden.was_type, wrong.overridden.was_date_order) == ("text", "day-first")
    assert wrong.date_evidence.day_first == 16 and wrong.date_evidence.ambiguous == 4
    assert wrong.date_evidence.impossible_in == {"day-first": 0, "month-first": 16}
    assert wrong.date_evidence.examples["day-first"]
    validity = found.score.dimensions["validity"]
    assert any(f.column == "opened" and f.count == 18 for f in validity.findings)
    assert found.score.total < before
    assert not quality.gate(found.score, local, None).passed

    overridden = [e for e in read_journal(run_dir) if isinstance(e, ev.ColumnOverridden)]
    assert [(e.type, e.date_order, e.invalid) for e in overridden] == [
        ("date", "day-first", 2),
        ("date", "month-first", 18),
    ]
    assert (overridden[-1].score, overridden[-1].passed) == (found.score.total, False)
    assert _figures(Profile.load(run_dir / "profile.json")) == _figures(found)
    assert Plan.load(run_dir / "plan.json") == found.plan

    declared = local.model_copy(
        update={
            "type_overrides": {"t.opened": "date"},
            "date_order_overrides": {"t.opened": "month-first"},
        }
    )
    fresh, _ = run_profile(declared, source)
    assert _figures(fresh) == _figures(found)


def test_an_override_of_a_flag_to_text_from_a_profile_read_back(tmp_path, local):
    """A profile read from the run dir has no scans: the column is read again, alone."""
    from sdconsole.engine.stages.profile.profiler import override

    source = _dated_source(tmp_path / "dated.db")
    found, run_dir = run_profile(local, source)
    assert found.table("t").column("flag").type == "boolean"
    again = Profile.load(run_dir / "profile.json")
    with Run(local.workdir, run_id=run_dir.name) as run:
        text = override(run, local, again, "t", "flag", type="text")
        with pytest.raises(BadInput, match="no column t.nothing"):
            override(run, local, again, "t", "nothing", type="text")
        with pytest.raises(BadInput, match="type 'words' for t.flag"):
            override(run, local, again, "t", "flag", type="words")
    assert (text.type, text.inferred_type, text.invalid) == ("text", "boolean", 0)
    assert again.plan.table("t").column("flag").type == "text"
    declared = local.model_copy(update={"type_overrides": {"t.flag": "text"}})
    fresh, _ = run_profile(declared, source)
    assert _figures(fresh) == _figures(again)


def test_sdconsole_profile_prints_an_override_with_what_it_was(tmp_path, local, capsys):
    source = _dated_source(tmp_path / "dated.db")
    config = tmp_path / "sdconsole.toml"
    config.write_text(
        '[type_overrides]\n"t.opened" = "date"\n\n[date_order_overrides]\n'
        '"t.opened" = "month-first"\n'
    )
    assert (
        main(["--workdir", str(local.workdir), "--config", str(config), "profile", str(source)])
        == 0
    )
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("opened"))
    assert "date (override of text, read day-first)" in line
    assert "invalid 18" in line


def test_a_new_date_order_keeps_a_date_column_a_date(tmp_path, local):
    """Read in the other order, the dates it makes impossible are invalid dates: the column
    does not fall back to text, so the score shows what the order costs."""
    from sdconsole.engine.stages.profile.profiler import override

    days = [(f"{day}/03/2024",) for day in range(13, 29)] + [("01/04/2024",)] * 4
    source = write_source(tmp_path / "days.db", {"t": (["opened"], days)})
    found, run_dir = run_profile(local, source)
    assert found.table("t").column("opened").type == "date"
    with Run(local.workdir, run_id=run_dir.name) as run:
        now = override(run, local, found, "t", "opened", date_order="month-first")
    assert (now.type, now.date_order, now.invalid) == ("date", "month-first", 16)
    assert (now.overridden.was_type, now.overridden.was_date_order) == ("date", "day-first")
