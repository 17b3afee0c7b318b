"""The relations a profile checks, and their orphans: ServiceDesk's known ones and the
source's declared foreign keys."""

from __future__ import annotations

import sqlite3
from collections import Counter

from psycopg import sql

from sdconsole.engine.records.profile import RelationProfile, TableProfile
from sdconsole.engine.rules.values import WHITESPACE
from sdconsole.engine.source.sqlite import sqlite_sql
from sdconsole.engine.stages.profile.scan import EXAMPLES
from sdconsole.settings import Settings

# ServiceDesk relations checked for orphans: (child table, column, parent table, column).
# Names match case-insensitively; a relation whose tables or columns are absent is skipped.
RELATIONS = (
    ("comments", "CT-TKT-ID", "tickets", "TKT-Ticket ID"),
    ("timesheets", "TS-Crm ID", "tickets", "TKT-Ticket ID"),
)


def find_relations(settings: Settings, shapes) -> list[RelationProfile]:
    """The RELATIONS the source has (orphans are counted later).

    Names match case-insensitively, as SQLite matches them.
    """
    names = {t.lower(): (t, {c.lower(): c for c, _ in columns}) for t, columns, _ in shapes}
    expected = {key.lower() for key in settings.expected_orphans}
    found = []
    for child_t, child_c, parent_t, parent_c in RELATIONS:
        child, child_cols = names.get(child_t, (None, {}))
        parent, parent_cols = names.get(parent_t, (None, {}))
        child_col, parent_col = child_cols.get(child_c.lower()), parent_cols.get(parent_c.lower())
        if child_col is None or parent_col is None:
            continue
        relation = RelationProfile(child, child_col, parent, parent_col)
        relation.expected = relation.key.lower() in expected
        found.append(relation)
    return found


def related_columns(relations: list[RelationProfile]) -> dict[str, frozenset[str]]:
    """Per table, its columns in a relation (whose scans keep their trimmed values)."""
    related: dict[str, set[str]] = {}
    for r in relations:
        related.setdefault(r.child_table, set()).add(r.child_column)
        related.setdefault(r.parent_table, set()).add(r.parent_column)
    return {table: frozenset(columns) for table, columns in related.items()}


def count_orphans(conn, relation: RelationProfile, scans: dict, tokens: list[str]) -> None:
    """Count the child's present trimmed values that are no trimmed parent value.

    From the two columns' scans when both kept their trimmed values, else in SQLite.
    """
    child = scans[(relation.child_table, relation.child_column)].trimmed
    parent = scans[(relation.parent_table, relation.parent_column)].trimmed
    if child is not None and parent is not None:
        missing = set(tokens)
        orphans = sorted(
            (value, count)
            for value, count in child.items()
            if value not in parent and value not in missing
        )
    else:
        marks = sql.SQL(", ").join(sql.SQL("?") for _ in tokens) if tokens else sql.SQL("NULL")
        orphans = conn.execute(
            sqlite_sql(
                sql.SQL(
                    "SELECT v, count(*) FROM (SELECT trim({child_col}, ?) AS v FROM {child})"
                    " WHERE v NOT IN ({marks}) AND v NOT IN (SELECT trim({parent_col}, ?)"
                    " FROM {parent} WHERE {parent_col} IS NOT NULL) GROUP BY v"
                ).format(
                    child_col=sql.Identifier(relation.child_column),
                    child=sql.Identifier(relation.child_table),
                    marks=marks,
                    parent_col=sql.Identifier(relation.parent_column),
                    parent=sql.Identifier(relation.parent_table),
                )
            ),
            (WHITESPACE, *sorted(tokens), WHITESPACE),
        ).fetchall()
    relation.orphans = sum(count for _, count in orphans)
    relation.orphan_values = len(orphans)
    relation.examples = [str(value) for value, _ in orphans[:EXAMPLES]]


def declared_relations(
    conn, tables: list[TableProfile], known: list[RelationProfile], settings: Settings
) -> list[RelationProfile]:
    """The declared foreign keys not already a ServiceDesk relation, their orphans as
    SQLite itself finds them (``PRAGMA foreign_key_check``: exact values, the declared
    collation). A key SQLite cannot check (its parent is not unique) is left out."""
    seen = {(r.child_table.lower(), r.child_column.lower()) for r in known}
    expected = {key.lower() for key in settings.expected_orphans}
    found = []
    for table in tables:
        orphans: Counter = Counter()
        try:
            for _, _, _, key_id in conn.execute(
                "SELECT * FROM pragma_foreign_key_check(?)", (table.name,)
            ):
                orphans[key_id] += 1
            keys = conn.execute(
                'SELECT DISTINCT id, "table" FROM pragma_foreign_key_list(?) ORDER BY id',
                (table.name,),
            ).fetchall()
        except sqlite3.DatabaseError:
            continue  # a foreign key mismatch: the loader reports the key it cannot create
        for key, (key_id, parent) in zip(table.declared.foreign_keys, keys, strict=False):
            child_column = ", ".join(key.columns)
            if (table.name.lower(), child_column.lower()) in seen:
                continue
            present = sql.SQL(" AND ").join(
                sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in key.columns
            )
            references = conn.execute(
                sqlite_sql(
                    sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
                        sql.Identifier(table.name), present
                    )
                )
            ).fetchone()[0]
            relation = RelationProfile(
                table.name,
                child_column,
                parent,
                ", ".join(key.parent_columns) or "primary key",
                references,
                orphans[key_id],
                declared=True,
            )
            relation.expected = relation.key.lower() in expected
            found.append(relation)
    return found


def with_references(
    relations: list[RelationProfile], tables: list[TableProfile]
) -> list[RelationProfile]:
    """Fill in each relation's references: the child column's present cells."""
    by_name = {t.name: t for t in tables}
    for relation in relations:
        relation.references = by_name[relation.child_table].column(relation.child_column).present
    return relations
