"""Old runs' cleaned working copies: deleted after a successful run, beyond the newest few.

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

from sdconsole.engine.cleaner import WORKING_COPY
from sdconsole.engine.run import Run, list_runs

STAGE = "housekeeping"


def prune_working_copies(run: Run, keep: int,
                         resumable: Callable[[Path], bool]) -> list[Path]:
    """Delete the working copies beyond the newest ``keep``; returns the deleted paths.

    ``resumable(run_dir)`` tells an interrupted run, whose copy stays; so
    does the copy of ``run`` itself.
    """
    copies = [d / WORKING_COPY for d in list_runs(run.workdir) if (d / WORKING_COPY).is_file()]
    old = [p for p in copies[keep:]
           if p.parent.name != run.run_id and not resumable(p.parent)]
    if not old:
        return []
    with run.stage(STAGE, f"keep the newest {keep} working copies") as summary:
        freed = 0
        for path in old:
            freed += path.stat().st_size
            path.unlink()
        summary.update(removed=len(old), freed_mb=round(freed / 2**20))
    return old
