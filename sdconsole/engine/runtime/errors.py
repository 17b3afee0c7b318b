"""Errors the engine raises, each with a one-line message and the exit status the CLI uses.

Exit statuses (documented in the README):
0 ok, 1 internal error, 2 bad input (source, settings, target, work dir),
3 preflight failed, 4 quality gate refused, 5 validation failed,
6 another run holds the lock, 7 stopped at a gate that needs approval,
8 canary failed, 9 a stage failed (database, disk, memory), 10 interrupted.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base: ``str(exc)`` is one line saying what and where; ``exit_code`` for the CLI."""

    exit_code = 9


class BadInput(EngineError):
    """The source file, work dir, target or a setting is unusable."""

    exit_code = 2


class PreflightFailed(EngineError):
    exit_code = 3


class GateRefused(EngineError):
    exit_code = 4


class ValidationFailed(EngineError):
    exit_code = 5


class LockHeld(EngineError):
    exit_code = 6


class ApprovalNeeded(EngineError):
    exit_code = 7


class CanaryFailed(EngineError):
    exit_code = 8


class StageError(EngineError):
    """A stage could not finish: database error, dropped connection, disk full."""

    exit_code = 9


class HealthError(StageError):
    """The health circuit breaker stopped a stage: free disk or memory below the floor."""


class Interrupted(EngineError):
    """The stage was cancelled (operator, SIGHUP, SIGTERM) and ended safely."""

    exit_code = 10
