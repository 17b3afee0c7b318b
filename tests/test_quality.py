"""The quality score (dimensions, exemptions, weights) and the gate in front of mutating stages."""

import dataclasses
import sqlite3

import pytest

from sdconsole.cli import main
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import GateRefused
from sdconsole.engine.runtime.run import Run, list_runs, read_journal
from sdconsole.engine.source import sample
from sdconsole.engine.stages.profile.profiler import profile
from sdconsole.engine.stages.profile.quality import decide, gate, score
from sdconsole.settings import load_settings


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="module")
def sample_result(sample_db, work):
    settings = load_settings(None, workdir=work)
    with Run(work) as run:
        return profile(run, settings, sample_db)


@pytest.fixture(scope="module")
def dirty_db(tmp_path_factory):
    """The sample with much worse dirt: duplicate ids, orphans, gaps, impossible dates."""
    path = tmp_path_factory.mktemp("dirty") / "dirty.db"
    sample.generate(path, tickets=300, seed=11)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE tickets SET \"TKT-Ticket ID\" = '100001' WHERE rowid % 10 = 0")
        db.execute(
            "UPDATE tickets SET \"TKT-Created Time\" = '31/02/2024 10:00' WHERE rowid % 20 = 0"
        )
        db.execute("UPDATE comments SET \"CT-TKT-ID\" = '999999' WHERE rowid % 4 = 0")
        for table, columns in (
            ("tickets", ("TKT-Category", "TKT-Team", "TKT-Title")),
            ("comments", ("CT-USERIDNAME", "CT-TYPE", "CT-OWNERTYPE")),
            ("timesheets", ("TS-Title", "TS-Category", "TS-Hours")),
        ):
            for column in columns:
                db.execute(f"UPDATE {table} SET \"{column}\" = 'N/A' WHERE rowid % 3 = 0")
    db.close()
    return path


def test_a_normal_quarterly_file_passes(sample_result):
    result = sample_result
    assert 80 <= result.score.total < 100
    dims = result.score.dimensions
    assert set(dims) == {"completeness", "validity", "uniqueness", "consistency", "integrity"}
    assert all(0 <= d.score <= 100 for d in dims.values())
    assert dims["uniqueness"].findings[0].column == "TKT-Ticket ID"
    assert dims["integrity"].findings[0].column == "CT-TKT-ID"


def test_finding_costs_explain_each_dimension(sample_result):
    for part in sample_result.score.dimensions.values():
        assert sum(f.cost for f in part.findings) == pytest.approx(100 - part.score, abs=0.1)


def test_much_worse_dirt_scores_lower(sample_result, dirty_db, work):
    settings = load_settings(None, workdir=work)
    with Run(work) as run:
        dirty = profile(run, settings, dirty_db)
    assert dirty.score.total < 80 <= sample_result.score.total
    dims = dirty.score.dimensions
    clean_dims = sample_result.score.dimensions
    for name in ("completeness", "uniqueness", "integrity"):
        assert dims[name].score < clean_dims[name].score
    assert dirty.table("tickets").duplicate_rows >= 29


def test_expected_gaps_and_orphans_are_exempt(sample_result, work):
    strict = load_settings(None, workdir=work)
    strict.sparse_columns, strict.expected_orphans = [], []
    relations = [dataclasses.replace(r, expected=False) for r in sample_result.relations]
    strict_score = score(sample_result.tables, relations, strict)
    assert (
        strict_score.dimensions["completeness"].score
        < sample_result.score.dimensions["completeness"].score
    )
    assert (
        strict_score.dimensions["integrity"].score
        < sample_result.score.dimensions["integrity"].score
    )
    exempt = [f for f in sample_result.score.dimensions["integrity"].findings if f.cost == 0]
    assert exempt and "expected" in exempt[0].message


def test_weights_come_from_settings(sample_result, work):
    settings = load_settings(None, workdir=work)
    settings.quality_weights = {"integrity": 1.0}
    only = score(sample_result.tables, sample_result.relations, settings)
    assert only.total == int(only.dimensions["integrity"].score)


def scored(total: int, **dimension_scores: float):
    """A QualityScore with the given total and dimension scores (others 100)."""
    from sdconsole.engine.records.quality import Dimension, QualityScore
    from sdconsole.engine.stages.profile.quality import DIMENSIONS

    return QualityScore(
        total,
        {name: Dimension(dimension_scores.get(name, 100.0), 0.2, 100, 0) for name in DIMENSIONS},
    )


def test_gate(work):
    settings = load_settings(None, workdir=work)
    for total in (80, 95):
        decision = gate(scored(total), settings, "ignored when the score passes")
        assert decision.passed and not decision.overridden
    refused = gate(scored(72), settings, "   ")
    assert not refused.passed
    floored = gate(scored(88, integrity=35.0), settings, None)
    assert not floored.passed and floored.reason.startswith("integrity 35 is below the floor 50")


def test_the_gate_decided_is_journalled_as_the_gate_step_and_refuses_in_one_line(work):
    settings = load_settings(None, workdir=work)
    with Run.for_settings(settings) as run:
        with pytest.raises(GateRefused) as caught:
            decide(run, scored(72), settings, None)
        decision = decide(
            run, scored(72), settings, "Q3 import: duplicates are known, fixed upstream"
        )
    assert (
        str(caught.value)
        == "quality score 72 is below the threshold 80; override with a typed reason"
    )
    assert caught.value.exit_code == 4
    assert decision.passed and decision.overridden
    assert decision.reason == "Q3 import: duplicates are known, fixed upstream"
    gates = [e for e in read_journal(run.dir) if isinstance(e, ev.GateReached)]
    assert [(e.stage, e.gate, e.passed) for e in gates] == [
        ("gate", "quality", False),
        ("gate", "quality", True),
    ]


def test_clean_command_refuses_below_the_threshold(dirty_db, tmp_path, capsys):
    workdir = tmp_path / "work"
    workdir.mkdir()  # a new one is said first, on a line of its own
    argv = ["--workdir", str(workdir), "clean", str(dirty_db)]
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert err.startswith("sdconsole: error: ") and err.endswith("override with a typed reason\n")
    assert not list(workdir.glob("runs/*/working.db"))
    assert main([*argv, "--override-reason", "known dirt, approved by ops"]) == 0
    cleaned = [d for d in list_runs(workdir) if (d / "working.db").exists()]
    assert len(cleaned) == 1
    run_dir = cleaned[0]
    gates = [e for e in read_journal(run_dir) if isinstance(e, ev.GateReached)]
    assert [(e.stage, e.summary) for e in gates] == [("gate", "known dirt, approved by ops")], (
        "the clean command journals the gate as a migration does"
    )


# -- a fair score: real exports pass, the faults that matter fail ----------------------------


def profiled_copy(sample_db, tmp_path, work, *statements: str, settings=None):
    """The sample with ``statements`` applied to a copy, profiled."""
    path = tmp_path / "export.db"
    path.write_bytes(sample_db.read_bytes())
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)
    db.close()
    with Run(work) as run:
        return profile(run, settings or load_settings(None, workdir=work), path)


def verdict(result, work):
    return gate(result.score, load_settings(None, workdir=work), None)


def test_optional_columns_nearly_always_empty_pass_as_sparse_by_design(sample_db, tmp_path, work):
    """Five link columns and a satisfaction survey, 99-100% empty: listed, no cost."""
    links = [
        "Parent Link",
        "Problem Link",
        "Change Link",
        "Release Link",
        "Asset Link",
        "Satisfaction",
    ]
    statements = [f'ALTER TABLE tickets ADD COLUMN "{name}" TEXT' for name in links]
    statements += [
        f"UPDATE tickets SET \"{name}\" = 'x' WHERE rowid % 100 = 0" for name in links[1:]
    ]
    result = profiled_copy(
        sample_db,
        tmp_path,
        work,
        *statements,
        settings=load_settings(None, workdir=work, sparse_columns=[]),
    )
    completeness = result.score.dimensions["completeness"]
    sparse = [f for f in completeness.findings if "sparse by design" in f.message]
    assert {f.column for f in sparse} >= set(links) and all(f.cost == 0 for f in sparse)
    assert result.score.total >= 80 and verdict(result, work).passed


@pytest.mark.parametrize(
    "fault, statement, dimension",
    [
        (
            "missing created dates",
            "UPDATE tickets SET \"TKT-Created Time\" = 'N/A' WHERE rowid % 8 = 0",
            "completeness",
        ),
        (
            "missing keys",
            'UPDATE comments SET "CT-COMMENT-ID" = NULL WHERE rowid % 8 = 0',
            "completeness",
        ),
        (
            "duplicate keys",
            "UPDATE comments SET \"CT-COMMENT-ID\" = '1' WHERE rowid % 8 = 0",
            "uniqueness",
        ),
        (
            "orphans",
            "UPDATE comments SET \"CT-TKT-ID\" = '999999' WHERE rowid % 8 = 0",
            "integrity",
        ),
        (
            "impossible dates",
            "UPDATE tickets SET \"TKT-Modified Time\" = '31/02/2024 10:00' WHERE rowid % 8 = 0",
            "validity",
        ),
        (
            "values that will not convert",
            "UPDATE timesheets SET \"TS-Hours\" = 'approx 3' WHERE rowid % 8 = 0",
            "validity",
        ),
    ],
)
def test_the_faults_that_matter_fail_the_gate(
    sample_db, tmp_path, work, fault, statement, dimension
):
    result = profiled_copy(sample_db, tmp_path, work, statement)
    decision = verdict(result, work)
    assert not decision.passed, (fault, result.score.total, decision.reason)
    assert result.score.dimensions[dimension].score < 50, fault


def test_a_text_column_costs_nothing_for_not_being_a_number(sample_db, tmp_path, work):
    """Postal codes with letters: kept as text, listed, no validity cost."""
    result = profiled_copy(
        sample_db,
        tmp_path,
        work,
        'ALTER TABLE tickets ADD COLUMN "Postal Code" TEXT',
        "UPDATE tickets SET \"Postal Code\" = CASE WHEN rowid % 3 = 0 THEN 'EH1 1AA'"
        " ELSE CAST(10000 + rowid AS TEXT) END",
    )
    validity = result.score.dimensions["validity"]
    codes = [f for f in validity.findings if f.column == "Postal Code"]
    assert codes and all(f.cost == 0 for f in codes) and "kept as text" in codes[0].message


def test_declared_foreign_keys_count_for_integrity(tmp_path, work):
    from fidelity_cases import write_fidelity_db

    path = tmp_path / "fidelity.db"
    write_fidelity_db(path)
    with Run(work) as run:
        result = profile(run, load_settings(None, workdir=work), path)
    declared = {r.key: r for r in result.relations if r.declared}
    assert declared["Orders.EmployeeId"].orphans == 1
    assert declared["EmployeeTerritory.TerritoryId"].orphans == 0
    integrity = result.score.dimensions["integrity"]
    assert integrity.findings[0].column == "EmployeeId" and integrity.findings[0].cost > 0


def test_an_override_can_turn_a_refused_gate_into_a_pass(settings, tmp_path):
    """85% numbers and 15% words: kept as text, but junk as the numbers' column would be;
    the operator declaring it text (codes, not numbers) lets the gate pass."""
    from loading import write_source

    from sdconsole.engine.pipeline import Migration

    codes = [(str(1000 + n),) for n in range(17)] + [("abc",), ("def",), ("ghi",)]
    source = write_source(tmp_path / "codes.db", {"t": (["code"], codes)})
    with Migration(settings, source, mode="simple") as m:
        m.profile()
        with pytest.raises(GateRefused, match="validity"):
            m.gate()
        m.set_column("t", "code", type="text")
        assert m.gate().passed
        assert m.plan.table("t").column("code").type == "text"
        assert m.profile_result.table("t").column("code").overridden.was_type == "text"
        m.set_column("t", "code", type="integer")  # now the words are invalid integers
        with pytest.raises(GateRefused, match="validity"):
            m.gate()
