"""The profile stage: scan the source, infer each column, check the relations, score.

It reads the source only. The scan is :mod:`.scan`, the inference
:mod:`.infer`, the relations :mod:`.relations` and the score :mod:`.quality`;
the profile and the plan go to the run dir (``profile.json``, ``plan.json``).

An operator's change of a column before the clean (:func:`override`) goes
through the same inference as a profile that had the change in its settings,
so its counts, findings, score and plan are the ones that profile would give.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sdconsole.engine.records.profile import ColumnProfile, Profile, TableProfile
from sdconsole.engine.rules.values import TYPES, DateOrder, FlagWords
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
from sdconsole.engine.stages.profile.infer import (
    DATE_TYPES,
    Overrides,
    choose_key,
    column_profile,
    explain_flags,
    main_date_column,
    plan_of,
    profile_tables,
    table_plan,
)
from sdconsole.engine.stages.profile.relations import (
    count_orphans,
    declared_relations,
    find_relations,
    related_columns,
    with_references,
)
from sdconsole.engine.stages.profile.scan import ORDERS, scan_all, scan_columns
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
                run,
                conn,
                source,
                shapes,
                (frozenset(settings.null_tokens), flag_words.every),
                workers,
                lambda: sha256_file(source),
                related_columns(relations),
            )
            overrides = Overrides(settings)
            tables = profile_tables(conn, settings, shapes, scans, overrides, flag_words)
            for relation in relations:
                count_orphans(conn, relation, scans, settings.null_tokens)
            for scanned in scans.values():
                scanned.trimmed = None  # the orphans are counted: no need to hold the values
            relations = with_references(relations, tables)
            relations += declared_relations(conn, tables, relations, settings)
        except sqlite3.DatabaseError as exc:  # a damaged file, found while reading it
            raise BadInput(f"source {source} cannot be read: {exc}") from None
        finally:
            conn.close()
        plan = plan_of(tables)
        for key in overrides.unmatched():
            table_name, _, column_name = key.partition(".")
            run.emit(
                ev.Finding(
                    stage=STAGE,
                    table=table_name,
                    column=column_name,
                    dimension="review",
                    message=f"override {key!r} matches no column in the source",
                )
            )
        score = quality.score(tables, relations, settings)
        for dimension, part in score.dimensions.items():
            for finding in part.findings:
                run.emit(
                    ev.Finding(
                        stage=STAGE,
                        table=finding.table,
                        column=finding.column,
                        dimension=dimension,
                        message=finding.message,
                        count=finding.count,
                        examples=tuple(finding.examples),
                    )
                )
        for table in tables:
            for column in table.columns:
                if column.flagged:
                    run.emit(
                        ev.Finding(
                            stage=STAGE,
                            table=table.name,
                            column=column.name,
                            dimension="review",
                            message=column.flagged,
                        )
                    )
        result = Profile(
            str(source),
            digest,
            tables,
            relations,
            score,
            plan,
            round(time.monotonic() - started, 3),
            scans,
        )
        write_json(run.dir / PROFILE, result.to_dict())
        plan.save(run.dir / PLAN)
        summary.update(
            tables=len(tables),
            rows=sum(t.rows for t in tables),
            score=score.total,
            flagged=sum(1 for t in tables for c in t.columns if c.flagged),
        )
    return result


def override(
    run: Run,
    settings: Settings,
    found: Profile,
    table: str,
    column: str,
    *,
    type: str | None = None,
    date_order: DateOrder | None = None,
) -> ColumnProfile:
    """Load ``table.column`` as ``type`` or read it in ``date_order``, and re-score.

    The column is decided again from its scan (when the profile was read back
    from the run dir, from that column read again alone), keeping its earlier
    overrides. A new date order keeps a date column's type, so that the dates it
    makes impossible count as invalid (rather than the column falling back to
    text). Re-decided are its counts, validity and findings, the table's key, date column
    and plan, and the score. ``profile.json`` and ``plan.json`` are rewritten and
    ColumnOverridden is journalled. Returns the column as it is now.
    """
    where, index = _column_at(found, table, column)
    if type is not None and type not in TYPES:
        raise BadInput(f"type {type!r} for {table}.{column} is none of {', '.join(TYPES)}")
    if date_order is not None and date_order not in ORDERS:
        raise BadInput(
            f"date order {date_order!r} for {table}.{column} is none of {', '.join(ORDERS)}"
        )
    before = where.columns[index]
    earlier = before.overridden
    flag_words = FlagWords.parse(settings.flag_words)
    source = Path(found.source)
    key = (where.name, before.name)
    if earlier is not None and earlier.type is not None:
        type = type or earlier.type
    elif date_order is not None and type is None and before.type in DATE_TYPES:
        type = before.type
    try:
        if key not in found.scans:
            scanned, _ = scan_columns(
                source,
                where.name,
                [before.name],
                frozenset(settings.null_tokens),
                flag_words.every,
                where.rows,
                parts=1,
            )
            found.scans[key] = scanned[before.name]
        scan = found.scans[key]
        now = column_profile(
            before.name,
            before.declared_type,
            before.ident,
            scan,
            settings,
            type,
            date_order or (earlier.date_order if earlier else None),
        )
        explain_flags(now, scan, flag_words)
        where.columns[index] = now
        conn = open_source(source)
        read_text_leniently(conn)
        try:
            choose_key(conn, where, found.scans)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"source {source} cannot be read: {exc}") from None
    where.date_column = main_date_column(where.columns)
    by_name = {t.name.lower(): t for t in found.tables}
    found.plan.tables[found.tables.index(where)] = table_plan(where, by_name)
    found.score = quality.score(found.tables, found.relations, settings)
    passed = quality.gate(found.score, settings, None).passed
    write_json(run.dir / PROFILE, found.to_dict())
    found.plan.save(run.dir / PLAN)
    run.emit(
        ev.ColumnOverridden(
            stage=STAGE,
            table=where.name,
            column=now.name,
            type=now.type,
            date_order=now.date_order,
            invalid=now.invalid,
            score=found.score.total,
            passed=passed,
        )
    )
    return now


def _column_at(found: Profile, table: str, column: str) -> tuple[TableProfile, int]:
    """The table and the index of its column, by source name or identifier."""
    for where in found.tables:
        if table in (where.name, where.ident):
            for index, candidate in enumerate(where.columns):
                if column in (candidate.name, candidate.ident):
                    return where, index
    raise BadInput(f"no column {table}.{column} in the source")
