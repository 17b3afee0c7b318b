"""Start a detached run: ``python -m sdconsole migrate SOURCE ... --serve`` as a process of its
own, returning once it listens on its control socket.

The process has its own session, no terminal, stdin from /dev/null, and its
output in ``output.log`` (0600) in its run dir, so a lost terminal loses
nothing. It gets the parent's settings whole (defaults, config file,
environment and flags already merged) through its environment, one
``SDCONSOLE_<NAME>`` variable a setting: the target DSN, password included,
never shows in a process list and is never written to a file. The console and
``sdconsole migrate --detach`` both start runs here, and the console resumes
interrupted ones here (:func:`resume`); clients follow them with
:mod:`sdconsole.engine.detached.client`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sdconsole.engine.detached.control import socket_path
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.runtime.run import new_run_id, read_journal, read_record, runs_dir
from sdconsole.engine.steps import DEFAULT_MODE
from sdconsole.settings import Settings

START_SECONDS = 60  # how long start waits for the run process to listen
OUTPUT = "output.log"  # the run process's stdout and stderr, in its run dir
PREFIX = "SDCONSOLE_"


@dataclass(frozen=True)
class StartedRun:
    """A detached run that listens on its control socket (or has already ended)."""

    run_id: str
    pid: int
    run_dir: Path
    mode: str  # known before the run writes its record, which a client may read too soon


def start(
    settings: Settings,
    source: Path,
    *,
    mode: str,
    yes: bool = False,
    allow_shape_change: bool = False,
    override_reason: str | None = None,
) -> StartedRun:
    """Start ``source``'s migration in ``mode`` as a detached run; return once it listens.

    Raises StageError with the process's last output line when it ends before
    it listens, or a line naming its output log when it does not listen within
    ``START_SECONDS``.
    """
    run_id = new_run_id()
    run_dir = runs_dir(settings.workdir) / run_id
    runs_dir(settings.workdir).mkdir(mode=0o700, parents=True, exist_ok=True)
    run_dir.mkdir(mode=0o700)
    argv = [
        sys.executable,
        "-m",
        "sdconsole",
        "migrate",
        str(Path(source).resolve()),
        "--mode",
        mode,
        "--serve",
        "--run-id",
        run_id,
    ]
    if yes:
        argv.append("--yes")
    if allow_shape_change:
        argv.append("--allow-shape-change")
    if override_reason is not None:
        argv += ["--override-reason", override_reason]
    return _spawn(settings, argv, run_id, run_dir, mode)


def resume(settings: Settings, run_id: str) -> StartedRun:
    """Go on with the interrupted run ``run_id`` as a detached run (``sdconsole resume RUN_ID
    --serve``): what it did stays done, and it waits at the gates it has not passed yet.
    Return once it listens; raise StageError as :func:`start` does (a run that cannot be
    resumed ends at once with the reason)."""
    run_dir = runs_dir(settings.workdir) / run_id
    socket_path(run_dir).unlink(missing_ok=True)  # its last process's, if it was killed
    argv = [sys.executable, "-m", "sdconsole", "resume", run_id, "--serve"]
    mode = read_record(run_dir).get("mode", DEFAULT_MODE)
    return _spawn(settings, argv, run_id, run_dir, mode, since=_journal_length(run_dir))


def _spawn(
    settings: Settings, argv: list[str], run_id: str, run_dir: Path, mode: str, since: int = 0
) -> StartedRun:
    """Start ``argv`` as the run process of ``run_dir`` and wait until it listens."""
    log = os.open(run_dir / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=child_environment(settings),
        )
    finally:
        os.close(log)
    # Reaped when it ends, however long this process (a console) lives: no defunct child.
    threading.Thread(target=process.wait, name=f"sdconsole-reap-{run_id}", daemon=True).start()
    _until_listening(process, run_id, run_dir, since)
    return StartedRun(run_id, process.pid, run_dir, mode)


def _journal_length(run_dir: Path) -> int:
    events = read_journal(run_dir)
    return events[-1].seq if events else 0


def child_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting as ``SDCONSOLE_<NAME>`` (JSON for lists
    and tables), in place of any the environment had and of the config file: the child's
    settings are the parent's, whatever layer each came from."""
    names = {PREFIX + name.upper() for name in Settings.model_fields} | {PREFIX + "CONFIG"}
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[PREFIX + name.upper()] = value if isinstance(value, str) else json.dumps(value)
    return env


def _until_listening(
    process: subprocess.Popen[bytes], run_id: str, run_dir: Path, since: int = 0
) -> None:
    """Wait for the control socket; a process that ended first must have ended its run (with
    a RunEnded after ``since``: a resumed run's journal holds its earlier process's end)."""
    deadline = time.monotonic() + START_SECONDS
    while not socket_path(run_dir).exists():
        if process.poll() is not None:
            if any(isinstance(e, ev.RunEnded) and e.seq > since for e in read_journal(run_dir)):
                return  # it listened, ran and ended between two looks
            lines = (run_dir / OUTPUT).read_text(errors="replace").strip().splitlines()
            raise StageError(
                f"run {run_id} ended at once (exit {process.returncode}):"
                f" {lines[-1] if lines else 'no output'}"
            )
        if time.monotonic() > deadline:
            raise StageError(
                f"run {run_id} did not start listening within {START_SECONDS} s;"
                f" see {run_dir / OUTPUT}"
            )
        time.sleep(0.05)
