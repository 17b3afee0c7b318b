"""Worker processes never outlive the process that started them, even one killed while they
were still starting (a worker left waiting holds its parent's output open for ever)."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest

from sdconsole.engine.runtime import processes


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
