"""Worker processes never outlive the process that started them, even one killed while they
were still starting (a worker left waiting holds its parent's output open for ever); they
are forked where that is safe."""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from sdconsole.engine.detached.control import Control, reachable
from sdconsole.engine.runtime import processes
from sdconsole.engine.runtime.run import Run


def test_a_worker_whose_parent_is_already_gone_ends_itself() -> None:
    # The parent the worker is told of is not its parent: as if it died before the worker
    # ran its initializer (the worker's own getppid() would then already be the new one).
    gone = os.getpid() + 10**6
    with ProcessPoolExecutor(
        1, mp_context=processes.context(), initializer=processes.worker_start, initargs=(gone,)
    ) as pool:
        with pytest.raises(BrokenProcessPool):
            pool.submit(pow, 2, 10).result(timeout=30)


def test_a_worker_of_a_living_parent_works() -> None:
    with ProcessPoolExecutor(
        1,
        mp_context=processes.context(),
        initializer=processes.worker_start,
        initargs=(os.getpid(),),
    ) as pool:
        assert pool.submit(pow, 2, 10).result(timeout=30) == 1024


def test_workers_are_forked_beside_a_detached_runs_control_threads_only(tmp_path) -> None:
    """A detached run serves its clients in threads; its workers are still forked (a
    spawned one imports the engine again), but not beside any other thread. Checked in a
    process of its own: this one may have threads left by other tests."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        methods = pool.submit(start_methods_beside_a_control, tmp_path).result(timeout=60)
    assert methods == {"alone": "fork", "serving a client": "fork", "beside a thread": "spawn"}


def start_methods_beside_a_control(run_dir: Path) -> dict[str, str]:
    """The start method chosen alone, then beside a Control serving a client, then beside
    one more thread."""
    methods = {"alone": processes.context().get_start_method()}
    with Run(run_dir) as run, socket.socket(socket.AF_UNIX) as client:
        control = Control(run, migration=None)
        try:
            with reachable(control.path) as address:
                client.connect(address)
            deadline = time.monotonic() + 30
            while not any(t.name.endswith("-client") for t in threading.enumerate()):
                assert time.monotonic() < deadline, "the client is never served"
                time.sleep(0.01)
            methods["serving a client"] = processes.context().get_start_method()
            release = threading.Event()
            other = threading.Thread(target=release.wait)
            other.start()
            methods["beside a thread"] = processes.context().get_start_method()
            release.set()
            other.join()
        finally:
            control.close()
    return methods
