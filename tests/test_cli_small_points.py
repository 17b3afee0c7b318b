"""The command line's small points operators tripped over: the demo's sample size, where a
relative work dir goes, and how a run's output ends (in JSON and in text)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sdconsole.commands.demo import demo_sample
from sdconsole.commands.output import WIDTH
from sdconsole.commands.runs import waited


def sdconsole(
    *args: str, cwd: Path | None = None, dsn: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"SDCONSOLE_TARGET_DSN": dsn} if dsn else {})}
    return subprocess.run(
        [sys.executable, "-m", "sdconsole", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def tickets_in(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM tickets").fetchone()[0]


def test_demo_generates_its_sample_again_for_another_size(workdir: Path) -> None:
    small = demo_sample(workdir, 30)
    rows = tickets_in(small)
    assert demo_sample(workdir, None) == small and tickets_in(small) == rows, "reused"
    assert demo_sample(workdir, 30) == small and tickets_in(small) == rows, "same size: reused"
    larger = demo_sample(workdir, 90)
    assert larger == small and tickets_in(larger) > rows, "another size: generated again"
    assert sorted(p.name for p in larger.parent.iterdir()) == ["sample.json", "servicedesk.db"]


def test_demo_refuses_a_size_below_one(workdir: Path) -> None:
    done = sdconsole("--workdir", str(workdir), "demo", "--tickets", "0")
    assert done.returncode == 2
    assert done.stderr == "sdconsole: error: --tickets must be at least 1, not 0\n"


def test_a_relative_work_dir_is_of_the_current_directory_and_said_when_created(
    tmp_path: Path, pg_dsn: str
) -> None:
    first = sdconsole("--workdir", "work/here", "runs", cwd=tmp_path, dsn=pg_dsn)
    assert first.returncode == 0, first.stderr
    assert first.stderr == f"sdconsole: created the work dir {tmp_path / 'work/here'}\n"
    assert (tmp_path / "work/here").is_dir()
    again = sdconsole("--workdir", "work/here", "runs", cwd=tmp_path, dsn=pg_dsn)
    assert again.returncode == 0 and again.stderr == ""


def test_a_work_dir_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a work dir")
    done = sdconsole("--workdir", "notes.txt", "runs", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr == f"sdconsole: error: work dir {tmp_path / 'notes.txt'} is not a directory\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_work_dir_that_is_not_writable_is_refused_in_one_line(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    done = sdconsole("--workdir", str(locked), "runs")
    assert done.returncode == 2
    assert done.stderr == f"sdconsole: error: work dir {locked} is not writable\n"


def last_json(done: subprocess.CompletedProcess[str]) -> dict:
    lines = done.stdout.strip().splitlines()
    assert all(json.loads(line) for line in lines), "every line is one JSON object"
    return json.loads(lines[-1])


def test_json_output_ends_with_the_outcome_and_exit_status_on_failures_too(
    workdir: Path, pg_dsn: str, sample_db: Path, tmp_path: Path
) -> None:
    base = ("--workdir", str(workdir), "migrate")
    stopped = sdconsole(*base, str(sample_db), "--mode", "simple", "--json", dsn=pg_dsn)
    assert stopped.returncode == 7, stopped.stderr
    end = last_json(stopped)
    assert (end["kind"], end["outcome"], end["exit_code"]) == ("RunEnded", "stopped", 7)
    assert "re-run with --yes" in end["error"]

    missing = sdconsole(*base, str(tmp_path / "nowhere.db"), "--json", dsn=pg_dsn)
    assert missing.returncode not in (0, 1), missing.stderr
    end = last_json(missing)
    assert (end["kind"], end["outcome"], end["exit_code"]) == (
        "RunEnded",
        "failed",
        missing.returncode,
    )

    unusable = sdconsole(
        *base,
        str(sample_db),
        "--json",
        "--mode",
        "simple",
        dsn="postgresql://nobody@127.0.0.1:1/none",
    )
    end = last_json(unusable)
    assert unusable.returncode == end["exit_code"] != 0 and end["outcome"] == "failed"


def test_text_output_ends_with_a_summary_in_80_columns(
    workdir: Path, pg_dsn: str, sample_db: Path
) -> None:
    done = sdconsole(
        "--workdir",
        str(workdir),
        "migrate",
        str(sample_db),
        "--mode",
        "simple",
        "--yes",
        dsn=pg_dsn,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    [run_dir] = (workdir / "runs").iterdir()
    summary = lines[lines.index(next(x for x in lines if x.startswith("== summary"))) :]
    assert summary[0].startswith("== summary: succeeded (exit 0) in ")
    assert summary[1] == "   version v1 cut over"
    assert summary[2].endswith(" rejects (in _rejects)") and "rows loaded" in summary[2]
    assert " ".join(summary[3:]).split() == ["run", "dir", str(run_dir)]
    too_long = [x for x in lines if len(x) > WIDTH and len(x.split()) > 1]
    assert not too_long, "only a single word (a path) may pass 80 columns"


@pytest.mark.parametrize(
    ("ago", "said"),
    [
        (timedelta(seconds=40), "40 s"),
        (timedelta(minutes=12, seconds=30), "12 min"),
        (timedelta(hours=3, minutes=5), "3 h 05 min"),
        (timedelta(days=2, hours=4, minutes=1), "2 d 04 h"),
    ],
)
def test_runs_says_how_long_a_run_has_waited_in_the_unit_that_matters(ago, said):
    assert waited(datetime.now(UTC) - ago) == said
