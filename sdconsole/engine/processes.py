"""How the engine starts worker processes (the profile's scanners, validation's checksums)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import threading


def context() -> multiprocessing.context.BaseContext:
    """Fork from a single-threaded process (the command line): quick, and nothing is
    re-imported. Spawn when threads run (the console's workers), as forking a threaded
    process can copy a held lock into the child."""
    return multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
