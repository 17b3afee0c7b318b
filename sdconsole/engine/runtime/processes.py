"""How the engine starts worker processes (the profile's scanners, validation's checksums)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import threading
import time

BACKGROUND_NICE = 10  # the priority of work done beside the critical path
PARENT_POLL_SECONDS = 0.5


def context() -> multiprocessing.context.BaseContext:
    """Fork from a single-threaded process (the command line): quick, and nothing is
    re-imported. Spawn when threads run (the console's workers), as forking a threaded
    process can copy a held lock into the child."""
    return multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")


def worker_start(parent: int, nice: int = 0) -> None:
    """Initializer of every worker process: its priority, and an exit if the parent dies.

    A worker waits for its next task on a queue whose writing end a forked
    worker holds too, so a parent killed outright (SIGKILL, OOM) would leave
    it waiting for ever, holding its parent's output open. A watcher thread
    ends it once its parent is no longer ``parent`` (the pid the parent
    passed: read here, it would already be the new parent's when the parent
    died before this worker started).
    """
    if nice:
        os.nice(nice)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="sdconsole-parent-watch", daemon=True).start()
