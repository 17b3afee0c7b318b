"""How the engine starts worker processes (the profile's scanners, validation's checksums)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import threading
import time

BACKGROUND_NICE = 10  # the priority of work done beside the critical path
PARENT_POLL_SECONDS = 0.5
FORK_SAFE_THREADS = "sdconsole-control"
"""The name prefix of the threads a worker may be forked beside: a detached run's control
socket (:mod:`sdconsole.engine.detached.control`). They hold no lock a worker takes: a
worker scans a file and returns its figures, and never touches the run, its journal, its
connections or its clients' sockets."""


def context() -> multiprocessing.context.BaseContext:
    """Fork when no other thread runs, or only a detached run's control threads: quick, and
    nothing is imported again (a spawned worker imports the engine anew, about half a
    second of CPU each, three or more times a run). Spawn beside any other thread (a
    console's, a backup's), as forking copies the locks other threads hold into the child."""
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    forkable = all(t.name.startswith(FORK_SAFE_THREADS) for t in others)
    return multiprocessing.get_context("fork" if forkable else "spawn")


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
