"""One mutating run per target: a PostgreSQL advisory lock plus a lock file in the work dir.

A mutating run (migrate from preflight on, resume, discard, rollback) takes
it at its start and holds it to its end. The advisory lock (session level,
on a connection held for the run) guards the target, even against an
operator working from another machine or work dir; its holder is written to
``sdconsole.locks`` so a second operator is told who holds it, in which
stage or at which gate it waits, and since when. The lock file
``workdir/sdconsole.lock`` guards the work dir (runs, backups, the embedded
server). It is held with ``flock``, which the kernel releases when its
process dies however it dies, so a file left behind by a killed run is stale
by definition and taken over with a warning. The JSON inside only names the
holder and its stage.

Switches (cutover, rollback, discard) also take a short transaction-level
advisory lock of their own (:func:`xact_lock`), so two of them never
interleave even if a caller forgot the run lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime import housekeeping
from sdconsole.engine.runtime.errors import BadInput, LockHeld, StageError
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.target import deployments, metadata
from sdconsole.engine.target.dsn import connect
from sdconsole.settings import Settings

LOCK_FILE = "sdconsole.lock"
WAITING = "waiting at the "  # the stage of a holder waiting at a gate: "waiting at the clean gate"
# The holder's stage came after the table: added here, where it is written.
STAGE_COLUMNS = sql.SQL(
    "ALTER TABLE sdconsole.locks ADD COLUMN IF NOT EXISTS stage text,"
    " ADD COLUMN IF NOT EXISTS stage_since timestamptz"
)

log = logging.getLogger("sdconsole.lock")


def lock_key(stable: str, purpose: str = "run") -> int:
    """A stable signed 64-bit advisory lock key for a stable schema and a purpose."""
    digest = hashlib.blake2b(f"sdconsole:{purpose}:{stable}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def xact_lock(conn: psycopg.Connection, stable: str) -> None:
    """Inside a transaction: wait for, then hold until commit, the switch lock of ``stable``."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(stable, "switch"),))


@dataclass(eq=False)
class RunLock:
    """The held lock; release with ``release()`` or by leaving the ``with`` block."""

    stable: str
    run_id: str
    path: Path
    conn: psycopg.Connection
    fd: int
    holder: dict[str, Any]  # what the lock file says: run, operator, pid, host, stage
    taken_over: dict[str, Any] | None = None  # holder named in a stale lock file
    abandoned_versions: list[int] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)  # half-written files of dead runs

    def follow(self, run: Run) -> None:
        """Name each stage of ``run`` as the holder's stage when it starts, and each gate it
        waits at (before any other listener hears of it)."""
        run.listeners.insert(0, self._stage_changed)

    def _stage_changed(self, event: ev.Event) -> None:
        if isinstance(event, ev.StageStarted):
            self.set_stage(event.stage)
        elif isinstance(event, ev.GateAwaiting):
            self.set_stage(f"{WAITING}{event.gate} gate")

    def set_stage(self, stage: str) -> None:
        """Record the stage the holder is in now, in the lock file and ``sdconsole.locks``.

        Only a description for a second operator: a failure to write it never
        stops the run.
        """
        if self.fd < 0:
            return
        self.holder = {**self.holder, "stage": stage, "stage_since": _now()}
        with contextlib.suppress(BadInput):
            _write_holder(self.path, self.fd, self.holder)
        with contextlib.suppress(psycopg.Error):
            self.conn.execute(
                "UPDATE sdconsole.locks SET stage = %s, stage_since = %s"
                " WHERE stable = %s AND backend_pid = pg_backend_pid()",
                (stage, self.holder["stage_since"], self.stable),
            )

    def check(self) -> None:
        """Raise StageError when the lock went with its connection (a dropped session ends
        its advisory lock): a run must not go on without it."""
        try:
            self.conn.execute("SELECT 1")
        except psycopg.Error:
            raise StageError(
                f"lost the run lock on {self.stable}: its connection dropped"
            ) from None

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(ValueError):
            _HELD.remove(self)
        with contextlib.suppress(psycopg.Error):
            self.conn.execute(
                "DELETE FROM sdconsole.locks WHERE stable = %s AND backend_pid = pg_backend_pid()",
                (self.stable,),
            )
        self.conn.close()  # ends the session, and with it the advisory lock
        with contextlib.suppress(OSError):
            if _same_file(self.path, self.fd):
                self.path.unlink()
        os.close(self.fd)
        self.fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# Locks this process holds: its own run is not "another run" to holder().
_HELD: list[RunLock] = []


def acquire(dsn: str, settings: Settings, run_id: str, *, run: Run | None = None) -> RunLock:
    """Take the run lock of ``settings.stable_schema`` at once, or raise LockHeld naming the holder.

    The advisory lock lives on a connection of its own, opened here and held
    until release. Once the lock is held, versions that dead runs left
    'loading' are marked failed (see :func:`deployments.settle_abandoned`) and
    the files they were writing are deleted (:func:`housekeeping.remove_half_written`).
    With ``run``, the lock names each of its stages as it starts.
    """
    stable = settings.stable_schema
    path = settings.workdir / LOCK_FILE
    fd, previous = _lock_file(path)
    conn = None
    try:
        conn = connect(dsn, autocommit=True)
        metadata.ensure(conn)
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(stable),)).fetchone()
        assert got is not None  # a SELECT without FROM returns one row
        if not got[0]:
            raise LockHeld(
                f"another run holds the lock on {stable}: {describe(_db_holder(conn, stable))}"
            )
        me = _identity(run_id, settings)
        _add_stage_columns(conn)
        conn.execute(
            "INSERT INTO sdconsole.locks (stable, run_id, operator, pid, host, workdir,"
            " backend_pid, since) VALUES (%s, %s, %s, %s, %s, %s, pg_backend_pid(), %s)"
            " ON CONFLICT (stable) DO UPDATE SET run_id = excluded.run_id, operator ="
            " excluded.operator, pid = excluded.pid, host = excluded.host, workdir ="
            " excluded.workdir, backend_pid = excluded.backend_pid, since = excluded.since",
            (stable, run_id, me["operator"], me["pid"], me["host"], me["workdir"], me["since"]),
        )
        conn.execute(
            "SELECT set_config('application_name', %s, false)", (f"sdconsole run {run_id}"[:63],)
        )
        abandoned = deployments.settle_abandoned(conn, stable, run_id)
        removed = housekeeping.remove_half_written(settings.workdir)
        _write_holder(path, fd, me)
    except BaseException:
        if conn is not None:
            conn.close()
        os.close(fd)
        raise
    if previous:
        log.warning("took over a stale lock file %s left by %s", path, describe(previous))
    held = RunLock(stable, run_id, path, conn, fd, me, previous, abandoned, removed)
    _HELD.append(held)
    if run is not None:
        held.follow(run)
    return held


def holder_record(
    settings: Settings, conn: psycopg.Connection | None = None
) -> dict[str, Any] | None:
    """What another live holder of the lock says of itself, or None when none holds it.

    The work dir's lock file, and the target's advisory lock when ``conn`` is
    given: run_id, operator, pid, host, since and stage ({} before it wrote
    them). A lock this process holds is its own run's (whose preflight asks),
    not another run's.
    """
    path = settings.workdir / LOCK_FILE
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(path, os.O_RDONLY)
        try:
            if not any(_same_file(path, held.fd) for held in _HELD if held.fd >= 0):
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd) or {}
        finally:
            os.close(fd)
    if conn is not None and metadata.has_metadata(conn):
        return _db_holder(conn, settings.stable_schema)
    return None


def holder(settings: Settings, conn: psycopg.Connection | None = None) -> str | None:
    """Who else holds the lock, as :func:`describe` says it (see :func:`holder_record`)."""
    info = holder_record(settings, conn)
    return None if info is None else describe(info)


def describe(info: dict[str, Any] | None) -> str:
    """'run <id> by <operator> (pid N on host) since <time>, in stage <stage> since <time>'."""
    if not info:
        return "a run that has not written its name yet"
    if "session" in info:  # a session holding the key that is not a run of ours
        return f"session {info['session']} ({info['application_name'] or 'no application name'})"
    text = (
        f"run {info.get('run_id', '?')} by {info.get('operator', '?')}"
        f" (pid {info.get('pid', '?')} on {info.get('host', '?')})"
        f" since {_when(info.get('since'))}"
    )
    stage = info.get("stage")
    if stage and stage.startswith(WAITING):  # no client: say how one goes on, or ends it
        run_id = info.get("run_id", "RUN_ID")
        text += (
            f", {stage} since {_when(info.get('stage_since'))}"
            f" (sdconsole attach {run_id}, or sdconsole cancel {run_id})"
        )
    elif stage:
        text += f", in stage {stage} since {_when(info.get('stage_since'))}"
    return text


def _when(at: Any) -> str:
    with contextlib.suppress(TypeError, ValueError):
        return datetime.fromisoformat(str(at)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(at)


def _lock_file(path: Path) -> tuple[int, dict[str, Any] | None]:
    """Open and flock the lock file; return its fd and the stale holder found in it, if any."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"work dir {path.parent} is not usable: {exc.strerror}") from None
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise BadInput(f"cannot open lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read_holder(fd)
            os.close(fd)
            raise LockHeld(
                f"another run holds the lock on work dir {path.parent}: {describe(info)}"
            ) from None
        if _same_file(path, fd):  # not unlinked by a releasing holder meanwhile
            return fd, _read_holder(fd)
        os.close(fd)


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 4096, 0)
        info = json.loads(data) if data.strip() else None
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _write_holder(path: Path, fd: int, info: dict[str, Any]) -> None:
    data = json.dumps(info, default=str).encode()
    try:  # written over, then cut: a reader never finds the file empty
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    except OSError as exc:
        raise BadInput(f"cannot write lock file {path}: {exc.strerror}") from None


def _identity(run_id: str, settings: Settings) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "operator": settings.operator,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "workdir": str(settings.workdir),
        "since": _now(),
    }


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _add_stage_columns(conn: psycopg.Connection) -> None:
    """Give ``sdconsole.locks`` its stage columns, once per target (a cheap read after)."""
    present = conn.execute(
        "SELECT count(*) FROM pg_attribute WHERE attrelid ="
        " 'sdconsole.locks'::regclass AND attname IN ('stage', 'stage_since')"
        " AND NOT attisdropped"
    ).fetchone()
    assert present is not None  # an aggregate without GROUP BY returns one row
    if present[0] < 2:
        conn.execute(STAGE_COLUMNS)


def _db_holder(conn: psycopg.Connection, stable: str) -> dict[str, Any] | None:
    """The holder of the target's run lock, from pg_locks and ``sdconsole.locks``.

    Locks this process holds are left out, as in :func:`holder_record`.
    """
    key = lock_key(stable) & 0xFFFF_FFFF_FFFF_FFFF
    ours = [held.conn.info.backend_pid for held in _HELD if not held.conn.closed]
    row = conn.execute(
        "SELECT l.pid, to_jsonb(k), a.application_name"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " LEFT JOIN sdconsole.locks k ON k.stable = %s AND k.backend_pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid"
        " AND l.pid <> ALL(%s)",
        (stable, key >> 32, key & 0xFFFF_FFFF, ours),
    ).fetchone()
    if row is None:
        return None
    backend, info, app = row
    return info if info is not None else {"session": backend, "application_name": app}
