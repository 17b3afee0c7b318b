"""What the target looks like now: active version, views, history, runs, lock, leftovers.

Read-only: it creates nothing, so it can run against a target that was never
migrated, while another run holds the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from sdconsole.engine import deployments, lock, switch
from sdconsole.engine.deployments import Deployment, RunRow
from sdconsole.settings import Settings


@dataclass
class StatusReport:
    stable: str
    target: str  # shown without a password
    active: Deployment | None
    views: dict[str, str]  # view in <stable> -> versioned schema it reads
    deployments: list[Deployment]  # newest first
    runs: list[RunRow]  # newest first
    interrupted: list[Deployment]
    audit: list[dict[str, Any]]
    rollback_target: int | None
    lock_holder: str | None

    @property
    def views_consistent(self) -> bool:
        """Every view reads the active version (and there are views iff one is active)."""
        if self.active is None:
            return not self.views
        return bool(self.views) and set(self.views.values()) == {self.active.schema_name}

    def to_dict(self) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "target": self.target,
            "active": self.active.to_dict() if self.active else None,
            "views": self.views,
            "views_consistent": self.views_consistent,
            "rollback_target": self.rollback_target,
            "lock_holder": self.lock_holder,
            "interrupted": [d.to_dict() for d in self.interrupted],
            "deployments": [d.to_dict() for d in self.deployments],
            "runs": [r.to_dict() for r in self.runs],
            "audit": self.audit,
        }


def status(conn: psycopg.Connection, settings: Settings, *, runs: int = 10,
           audit: int = 20) -> StatusReport:
    stable = settings.stable_schema
    history = deployments.history(conn, stable)
    active = next((d for d in history if d.status == "active"), None)
    previous = deployments.previous_version(history, active.version) if active else None
    return StatusReport(
        stable=stable,
        target=settings.dsn_for_display,
        active=active,
        views=switch.current_views(conn, stable),
        deployments=history,
        runs=deployments.last_runs(conn, stable, runs),
        interrupted=deployments.interrupted(conn, stable),
        audit=deployments.audit_log(conn, stable, audit),
        rollback_target=previous.version if previous else None,
        lock_holder=lock.holder(settings, conn),
    )
