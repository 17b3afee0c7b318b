"""Source names to PostgreSQL identifiers: lower snake_case ASCII, at most 63 bytes.

``"TKT-Created Time"`` becomes ``tkt_created_time`` and ``Data Solução``
becomes ``data_solucao``. Collisions get ``_2``, ``_3``... in source order, so
the mapping is deterministic. The original name is kept as a comment by the
loader.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Set as AbstractSet

from psycopg import sql

MAX_IDENT = 63


def normalise(name: str) -> str:
    """One name, without regard to collisions."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", ascii_name)
    ident = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_") or "col"
    if ident[0].isdigit():
        ident = "c_" + ident
    return ident[:MAX_IDENT].rstrip("_")


def normalise_all(names: list[str], reserved: AbstractSet[str] = frozenset()) -> dict[str, str]:
    """Map every name to a unique identifier, avoiding ``reserved`` ones too."""
    taken = set(reserved)
    result: dict[str, str] = {}
    for name in names:
        base = normalise(name)
        ident, n = base, 1
        while ident in taken:
            n += 1
            suffix = f"_{n}"
            ident = base[: MAX_IDENT - len(suffix)] + suffix
        taken.add(ident)
        result[name] = ident
    return result


def table_ref(schema: str, ident: str) -> sql.Composed:
    """``schema.ident``, both quoted: how every stage names a table of a version schema."""
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(ident))
