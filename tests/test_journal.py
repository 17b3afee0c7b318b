"""The run journal a resumed run goes on writing: one numbering, no line lost to a torn one."""

from __future__ import annotations

from pathlib import Path

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import Run, read_journal


def _stage(run: Run, name: str) -> None:
    run.emit(ev.StageStarted(stage=name))
    run.emit(ev.StageFinished(stage=name, seconds=0.0))


def test_a_reopened_run_goes_on_numbering_its_journal(workdir: Path) -> None:
    with Run(workdir) as first:
        _stage(first, "profile")
    with Run(workdir, run_id=first.run_id) as resumed:
        _stage(resumed, "load")
    seqs = [e.seq for e in read_journal(first.dir)]
    assert seqs == [1, 2, 3, 4]  # what a client replays has no duplicate and no gap


def test_an_event_after_a_killed_writers_torn_line_is_kept(workdir: Path) -> None:
    with Run(workdir) as first:
        _stage(first, "profile")
    journal = first.dir / "events.jsonl"
    with journal.open("a", encoding="utf-8") as f:
        f.write('{"kind": "Progress", "seq": 3, "sta')  # killed in the middle of a line
    with Run(workdir, run_id=first.run_id) as resumed:
        _stage(resumed, "load")
    events = read_journal(first.dir)
    assert [(e.seq, e.stage) for e in events] == [
        (1, "profile"),
        (2, "profile"),
        (3, "load"),
        (4, "load"),
    ]


def test_numbering_goes_on_after_a_journal_longer_than_the_tail_read(workdir: Path) -> None:
    with Run(workdir) as first:
        for done in range(3000):  # well over the 64 KiB the numbering reads back
            first.emit(ev.Progress(stage="load", table="tickets", done=done, total=3000))
    with Run(workdir, run_id=first.run_id) as resumed:
        resumed.emit(ev.StageStarted(stage="validate"))
    assert read_journal(first.dir)[-1].seq == 3001
