"""What runs leave in the work dir: half-written files, and old runs' cleaned working copies.

Files a run was writing when it died (a ``working.db.partial``, a
``.dump.partial`` in ``backups/``, a temporary JSON) are never read; the next
run that takes the work dir's lock, and resume and discard, delete them.

A working copy is about as big as the source, and every run that cleans
writes one into its run dir. It is needed to resume an interrupted run and
to name the rows a failed validation found; once a later run has succeeded,
older copies only fill the disk. So after each successful run the copies of
all but the newest ``settings.working_copies`` runs are deleted -- never the
copy of an interrupted run that is not resolved, which may still be
resumed. The rest of each run dir (events, logs, profile, plan, clean
report) stays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sdconsole.engine.runtime.layout import BACKUP_DIR, NUMBERED, PARTIAL, WORKING_COPY
from sdconsole.engine.runtime.run import Run, list_runs

STAGE = "housekeeping"
# Files only a running run reads: what a dead run was writing.
HALF_WRITTEN = (f"*{PARTIAL}", f"*{PARTIAL}-journal", "*.tmp", NUMBERED)


def half_written(workdir: Path) -> list[Path]:
    """Files runs were writing when they died (or are writing now: see remove_half_written)."""
    places = [*list_runs(workdir), Path(workdir) / BACKUP_DIR]
    return sorted(
        path
        for place in places
        for pattern in HALF_WRITTEN
        for path in place.glob(pattern)
        if path.is_file()
    )


def remove_half_written(workdir: Path) -> list[Path]:
    """Delete :func:`half_written` files; only with the work dir's lock held, so that no run
    is writing them. Returns the paths deleted."""
    removed = half_written(workdir)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def prune_working_copies(run: Run, keep: int, resumable: Callable[[Path], bool]) -> list[Path]:
    """Delete the working copies beyond the newest ``keep``; returns the deleted paths.

    ``resumable(run_dir)`` tells an interrupted run, whose copy stays; so
    does the copy of ``run`` itself.
    """
    copies = [d / WORKING_COPY for d in list_runs(run.workdir) if (d / WORKING_COPY).is_file()]
    old = [p for p in copies[keep:] if p.parent.name != run.run_id and not resumable(p.parent)]
    if not old:
        return []
    with run.stage(STAGE, f"keep the newest {keep} working copies") as summary:
        freed = 0
        for path in old:
            freed += path.stat().st_size
            path.unlink()
        summary.update(removed=len(old), freed_mb=round(freed / 2**20))
    return old
