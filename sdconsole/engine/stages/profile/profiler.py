"""The profile stage: scan the source, infer each column, check the relations, score.

It reads the source only. The scan is :mod:`.scan`, the inference
:mod:`.infer`, the relations :mod:`.relations` and the score :mod:`.quality`;
the profile and the plan go to the run dir (``profile.json``, ``plan.json``).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sdconsole.engine.records.profile import Profile
from sdconsole.engine.rules.values import FlagWords
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.runtime.layout import PLAN, PROFILE
from sdconsole.engine.runtime.run import Run, write_json
from sdconsole.engine.source.sqlite import (
    list_columns,
    list_tables,
    open_source,
    read_text_leniently,
    row_count,
    sha256_file,
)
from sdconsole.engine.stages.profile import STAGE, quality
from sdconsole.engine.stages.profile.infer import Overrides, plan_of, profile_tables
from sdconsole.engine.stages.profile.relations import (
    count_orphans,
    declared_relations,
    find_relations,
    related_columns,
    with_references,
)
from sdconsole.engine.stages.profile.scan import scan_all
from sdconsole.settings import Settings


def profile(run: Run, settings: Settings, source: Path, *, workers: int | None = None) -> Profile:
    """Profile ``source`` read-only; write ``profile.json`` and ``plan.json`` to the run dir.

    ``workers`` processes scan columns (default: one per core, up to 4, for
    sources of more than PARALLEL_MIN_CELLS cells; 1 runs in this process).
    """
    source = Path(source)
    with run.stage(STAGE, str(source)) as summary:
        started = time.monotonic()
        conn = open_source(source)
        read_text_leniently(conn)  # its own reads are few: keys, orphans, a small source
        try:
            shapes = [(t, list_columns(conn, t), row_count(conn, t)) for t in list_tables(conn)]
            relations = find_relations(settings, shapes)
            flag_words = FlagWords.parse(settings.flag_words)
            scans, digest = scan_all(
                run, conn, source, shapes, (frozenset(settings.null_tokens), flag_words.every),
                workers, lambda: sha256_file(source), related_columns(relations))
            overrides = Overrides(settings)
            tables = profile_tables(conn, settings, shapes, scans, overrides, flag_words)
            for relation in relations:
                count_orphans(conn, relation, scans, settings.null_tokens)
            relations = with_references(relations, tables)
            relations += declared_relations(conn, tables, relations, settings)
        except sqlite3.DatabaseError as exc:  # a damaged file, found while reading it
            raise BadInput(f"source {source} cannot be read: {exc}") from None
        finally:
            conn.close()
        plan = plan_of(tables)
        for key in overrides.unmatched():
            table_name, _, column_name = key.partition(".")
            run.emit(ev.Finding(stage=STAGE, table=table_name, column=column_name,
                                dimension="review",
                                message=f"override {key!r} matches no column in the source"))
        score = quality.score(tables, relations, settings)
        for dimension, part in score.dimensions.items():
            for finding in part.findings:
                run.emit(ev.Finding(stage=STAGE, table=finding.table, column=finding.column,
                                    dimension=dimension, message=finding.message,
                                    count=finding.count, examples=tuple(finding.examples)))
        for table in tables:
            for column in table.columns:
                if column.flagged:
                    run.emit(ev.Finding(stage=STAGE, table=table.name, column=column.name,
                                        dimension="review", message=column.flagged))
        result = Profile(str(source), digest, tables, relations, score, plan,
                         round(time.monotonic() - started, 3))
        write_json(run.dir / PROFILE, result.to_dict())
        plan.save(run.dir / PLAN)
        summary.update(tables=len(tables), rows=sum(t.rows for t in tables),
                       score=score.total,
                       flagged=sum(1 for t in tables for c in t.columns if c.flagged))
    return result
