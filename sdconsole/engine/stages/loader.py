"""The load stage: the cleaned working copy into a version schema, as one stage.

The COPY itself (typed, streaming, with rejects; one transaction per table,
keys and indexes built beside the next table) is
:func:`sdconsole.engine.target.copy.load_tables`, which the canary uses for
its sample too. A killed or disconnected load leaves the version's
deployment row in 'loading', which the pipeline marks failed, and a reload
starts each table afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg

from sdconsole.engine.records.plan import Plan
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.target.copy import LoadReport, load_tables

__all__ = ["LoadReport", "load"]


def load(
    run: Run,
    conn: psycopg.Connection,
    working_db: Path,
    plan: Plan,
    schema: str,
    *,
    stage: str = "load",
    rowids: Mapping[str, Sequence[int]] | None = None,
) -> LoadReport:
    """Load every planned table into ``schema`` (created beforehand) as one stage."""
    with run.stage(stage, f"{working_db} -> {schema}") as summary:
        report = load_tables(run, conn, working_db, plan, schema, stage=stage, rowids=rowids)
        summary.update(
            schema=schema,
            rows=report.rows_total,
            rejects=report.rejects_total,
            nul_removed=report.nul_removed,
            tables={ident: t["rows"] for ident, t in report.tables.items()},
        )
    return report
