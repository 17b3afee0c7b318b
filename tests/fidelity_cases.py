"""A SQLite source that holds the cases a faithful migration must get right.

:func:`write_fidelity_db` writes the file with Python's ``sqlite3``. Every
table has a declared schema. :data:`EXPECTED_ROWS` gives the row count of each
table. Tests import this module like the other helpers
(``from fidelity_cases import write_fidelity_db, EXPECTED_ROWS``). It holds no
test functions.

PostgreSQL names below are the ones ``sdconsole.engine.rules.naming`` makes
(``"Postal Code"`` -> ``postal_code``, ``EmployeeId`` -> ``employee_id``).
Each case lists what a faithful migration must do.

1. ``codes`` (id, "Postal Code", "Plus", "City"; all TEXT). Digit-only codes
   such as ``'06897'``, ``'007'`` and ``'00000'`` arrive as exactly that text,
   never as the numbers 6897, 7 or 0. ``'+44'``, ``'1e3'`` and ``' 7'`` arrive
   as that text, not as 44, 1000 or 7. City values keep their leading and
   trailing spaces (``'Edinburgh '``, ``' Oslo'``), their newline, their tab
   and their quotes, unchanged. ``'Ünïcödé'`` (precomposed) and ``'e\\u0301'``
   (``e`` plus a combining acute, two code points) arrive code point for code
   point, with no Unicode normalisation.
2. ``keys`` ("Key" TEXT PRIMARY KEY, "Name"). ``'Val2 '`` and ``'Val2'`` are
   two different keys, next to ``'Val1'``. Nothing trims them and nothing
   reports them as a duplicate key. The primary key is (key).
3. ``images`` ("ImageId" INTEGER PRIMARY KEY, "Data" BLOB). The blobs arrive
   byte for byte as bytea: ``bytes(range(256))`` (not valid UTF-8) and
   ``b'hello'`` (valid UTF-8, but still a blob, so bytea and not text). The
   empty blob arrives as an empty bytea, not as NULL. The NULL stays NULL.
4. ``Employee``, ``Territory``, ``EmployeeTerritory``, ``Orders``. The
   declared composite primary key of ``employee_territory`` is
   (employee_id, territory_id). In the current rows territory_id alone is
   unique, so a tool that guesses keys from the data would pick it; the
   declared key must win. Territory ids such as ``'01581'`` stay text, and
   the foreign keys employee_territory -> employee, employee_territory ->
   territory and orders -> employee are created. ``Orders`` has one orphan
   (EmployeeId 99, with no such employee; written with ``foreign_keys`` off).
   That foreign key is still created, but as ``NOT VALID``, and the orphan
   row still loads. One order has a NULL EmployeeId: that is not an orphan.
   ``"Ref"`` is declared UNIQUE, and the UNIQUE constraint or index is
   created.
5. ``prices`` (id, "Amount" NUMERIC(10,2), "Ratio" REAL). amount stays
   numeric(10,2) and holds 1.50, 0.99, 12.00 and 3.10. Note on storage:
   SQLite's NUMERIC affinity converts on insert. 12.0 is stored as INTEGER 12
   and the text ``'3.10'`` as REAL 3.1, so this column holds a mix of INTEGER
   and REAL. A TEXT ``'3.10'`` cannot legally sit in a NUMERIC column: forcing
   one in by editing the schema makes ``PRAGMA integrity_check`` report
   "TEXT value in prices.Amount". ratio stays double precision, and every
   REAL keeps its exact double value (1e308, -1e308, the smallest subnormal
   5e-324, the smallest normal 2.2250738585072014e-308, 0.1, 1/3), with
   inf and -inf as PostgreSQL's ``Infinity`` and ``-Infinity``. Two values
   that SQLite itself cannot keep: NaN (SQLite stores it as NULL, so the row
   with NaN holds NULL and must arrive as NULL) and -0.0 (a REAL column
   stores it as the integer 0, so it reads back as 0.0 and must arrive as 0).
6. ``bigints`` (id, "Big" INTEGER, "Huge" TEXT). The int64 bounds
   9223372036854775807 and -9223372036854775808 stay exact in a bigint column.
   ``"Huge"`` holds integers beyond int64 (``'99999999999999999999'``). They
   must arrive exactly: as numeric if the column is typed from the data, or as
   the same text; never rounded through a double.
7. ``wr`` (code TEXT PRIMARY KEY, label) WITHOUT ROWID. It migrates like any
   table: all rows, with primary key (code). The rows were written out of
   key order. SQLite keeps them in key order, and nothing may depend on a
   rowid.
8. ``flags`` (id, "Active" INTEGER holding 0 and 1). The values arrive as the
   integers 0 and 1, or as booleans if a plan asks for that. No value is lost.
9. ``mixed`` (id, "Anything" with no declared type). The column holds one
   value of each storage class: 42, 2.5, 'text', x'0405' and NULL. No value
   may be silently changed or dropped. Either the column becomes a type that
   holds them all, or the cells that do not fit are reported and kept aside.
10. ``badtext`` (id, "s" TEXT). The cell with id 2 holds the bytes
    ``61 ff 62``, stored as TEXT, which is not valid UTF-8 (written with
    ``CAST(x'61ff62' AS TEXT)``). That cell is rejected and reported with its
    raw bytes (:data:`BAD_TEXT_BYTES`), and the rest of the table loads.
    Python's sqlite3 raises on reading this cell unless ``text_factory``
    is ``bytes``.
11. ``times`` (id, "At" TEXT, "Day" TEXT). ISO timestamps keep their seconds
    and fractions exactly: ``'2024-01-31 14:05:09.123456'`` and
    ``'2024-02-29 00:00:00.5'`` (0.5 s, on a leap day). A timestamp type must
    not truncate them. The date-only values (``'2024-01-31'``,
    ``'2023-12-01'``) arrive as those dates, and the NULL in row 3 stays NULL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

#: The raw bytes of the invalid UTF-8 TEXT cell in ``badtext`` (id 2).
BAD_TEXT_BYTES = b"a\xffb"

#: The non-UTF-8 blob in ``images`` (ImageId 1).
ALL_BYTES = bytes(range(256))

EXPECTED_ROWS: dict[str, int] = {
    "codes": 8,
    "keys": 3,
    "images": 4,
    "Employee": 3,
    "Territory": 5,
    "EmployeeTerritory": 5,
    "Orders": 5,
    "prices": 13,
    "bigints": 3,
    "wr": 4,
    "flags": 4,
    "mixed": 5,
    "badtext": 3,
    "times": 3,
}

_SCHEMA = """
CREATE TABLE "codes" (
    "id" INTEGER PRIMARY KEY,
    "Postal Code" TEXT,
    "Plus" TEXT,
    "City" TEXT
);
CREATE TABLE "keys" (
    "Key" TEXT PRIMARY KEY,
    "Name" TEXT
);
CREATE TABLE "images" (
    "ImageId" INTEGER PRIMARY KEY,
    "Data" BLOB
);
CREATE TABLE "Employee" (
    "EmployeeId" INTEGER PRIMARY KEY,
    "Name" TEXT
);
CREATE TABLE "Territory" (
    "TerritoryId" TEXT PRIMARY KEY,
    "Name" TEXT
);
CREATE TABLE "EmployeeTerritory" (
    "EmployeeId" INTEGER NOT NULL REFERENCES "Employee" ("EmployeeId"),
    "TerritoryId" TEXT NOT NULL REFERENCES "Territory" ("TerritoryId"),
    PRIMARY KEY ("EmployeeId", "TerritoryId")
);
CREATE TABLE "Orders" (
    "OrderId" INTEGER PRIMARY KEY,
    "EmployeeId" INTEGER REFERENCES "Employee" ("EmployeeId"),
    "Ref" TEXT UNIQUE
);
CREATE TABLE "prices" (
    "id" INTEGER PRIMARY KEY,
    "Amount" NUMERIC(10,2),
    "Ratio" REAL
);
CREATE TABLE "bigints" (
    "id" INTEGER PRIMARY KEY,
    "Big" INTEGER,
    "Huge" TEXT
);
CREATE TABLE "wr" (
    "code" TEXT PRIMARY KEY,
    "label" TEXT
) WITHOUT ROWID;
CREATE TABLE "flags" (
    "id" INTEGER PRIMARY KEY,
    "Active" INTEGER
);
CREATE TABLE "mixed" (
    "id" INTEGER PRIMARY KEY,
    "Anything"
);
CREATE TABLE "badtext" (
    "id" INTEGER PRIMARY KEY,
    "s" TEXT
);
CREATE TABLE "times" (
    "id" INTEGER PRIMARY KEY,
    "At" TEXT,
    "Day" TEXT
);
"""

_ROWS: dict[str, list[tuple]] = {
    "codes": [
        (1, "06897", "+44", "Edinburgh "),
        (2, "01581", "+1", " Oslo"),
        (3, "007", "12", "Paris"),
        (4, "12345", "+358", "line\nbreak"),
        (5, "0", "0044", "tab\there"),
        (6, "00000", "1e3", 'quote "q" \'s'),
        (7, "02116", " 7", "Ünïcödé"),
        (8, "10", "-5", "e\u0301"),
    ],
    "keys": [
        ("Val1", "first"),
        ("Val2 ", "with trailing space"),
        ("Val2", "without trailing space"),
    ],
    "images": [
        (1, ALL_BYTES),
        (2, b"hello"),
        (3, b""),
        (4, None),
    ],
    "Employee": [
        (1, "Nancy"),
        (2, "Andrew"),
        (3, "Janet"),
    ],
    "Territory": [
        ("01581", "Westboro"),
        ("02116", "Boston"),
        ("06897", "Wilton"),
        ("19713", "Neward"),
        ("30346", "Atlanta"),
    ],
    # EmployeeId repeats, but TerritoryId alone is unique in these rows.
    "EmployeeTerritory": [
        (1, "06897"),
        (1, "19713"),
        (2, "01581"),
        (2, "02116"),
        (3, "30346"),
    ],
    "Orders": [
        (10248, 1, "R-001"),
        (10249, 2, "R-002"),
        (10250, 99, "R-003"),  # orphan: there is no Employee 99
        (10251, None, "R-004"),  # NULL foreign key: not an orphan
        (10252, 3, "R-005"),
    ],
    # Amount: NUMERIC affinity stores 12.0 as INTEGER 12 and '3.10' as REAL 3.1.
    # Ratio: NaN cannot be stored by SQLite (it becomes NULL); a REAL column
    # stores -0.0 as the integer 0 (it reads back as 0.0).
    "prices": [
        (1, 1.5, 1e308),
        (2, 0.99, -1e308),
        (3, 12.0, 5e-324),
        (4, "3.10", 2.2250738585072014e-308),
        (5, None, 0.1),
        (6, None, -0.0),
        (7, None, 1 / 3),
        (8, None, float("inf")),
        (9, None, float("-inf")),
        (10, None, float("nan")),  # stored as NULL
        (11, None, 0.0),
        (12, None, 1.0),
        (13, None, None),
    ],
    "bigints": [
        (1, 9223372036854775807, "99999999999999999999"),
        (2, -9223372036854775808, "-99999999999999999999"),
        (3, 0, "1"),
    ],
    # Written out of key order.
    "wr": [
        ("m", "middle"),
        ("z", "last"),
        ("a", "first"),
        ("k", "kilo"),
    ],
    "flags": [
        (1, 0),
        (2, 1),
        (3, 1),
        (4, 0),
    ],
    "mixed": [
        (1, 42),
        (2, 2.5),
        (3, "text"),
        (4, b"\x04\x05"),
        (5, None),
    ],
    "times": [
        (1, "2024-01-31 14:05:09.123456", "2024-01-31"),
        (2, "2024-02-29 00:00:00.5", "2023-12-01"),
        (3, "2024-03-01 23:59:59", None),
    ],
}


def write_fidelity_db(path: Path) -> None:
    """Write the fidelity-case SQLite database to ``path`` (which must not exist)."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(path)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # Off, so that the orphan in Orders can be written. (This PRAGMA has
        # no effect inside a transaction, so it runs first.)
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("BEGIN")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        for table, rows in _ROWS.items():
            marks = ", ".join("?" * len(rows[0]))
            db.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        # Text that is not valid UTF-8 can only be written from SQL.
        db.execute("INSERT INTO \"badtext\" VALUES (1, 'plain')")
        db.execute("INSERT INTO \"badtext\" VALUES (2, CAST(x'61ff62' AS TEXT))")
        db.execute("INSERT INTO \"badtext\" VALUES (3, 'ünïcode ok')")
        db.execute("COMMIT")
    finally:
        db.close()
