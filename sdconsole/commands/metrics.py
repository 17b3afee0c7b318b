"""``sdconsole metrics [--once | --port N]``: the Prometheus metrics of the last run.

``--once`` (the default) prints them; ``--port N`` serves them on
127.0.0.1:N until interrupted. Either way the active version and the times
of the last cutover, rollback and successful run are read fresh from the
target's metadata when a target is configured (or the embedded server of the
work dir exists); ``sdconsole_metadata_up`` says whether that worked.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from typing import Any

import psycopg
from prometheus_client.exposition import generate_latest

from sdconsole.commands.flags import target_flag
from sdconsole.engine.runtime import metrics
from sdconsole.engine.runtime.errors import BadInput, EngineError
from sdconsole.engine.target import embedded, metadata
from sdconsole.engine.target import server as target
from sdconsole.engine.target.dsn import connect
from sdconsole.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="print or serve the Prometheus metrics of the last run")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--once", action="store_true", help="print the metrics and exit (default)")
    how.add_argument("--port", type=int, metavar="N", help="serve them on 127.0.0.1:N")
    target_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    path = metrics.metrics_path(settings.workdir)
    collector = metrics.RunMetricsCollector(path, metadata_refresh(settings))
    if args.port is None:
        if not path.exists() and collector.refresh is None:
            raise BadInput(f"no metrics yet: {path} does not exist (run a migration first)")
        sys.stdout.write(generate_latest(collector).decode())
        return 0
    if not 0 < args.port < 65536:
        raise BadInput(f"--port must be between 1 and 65535, not {args.port}")
    try:
        server, _ = metrics.serve(collector, args.port)
    except OSError as exc:
        raise BadInput(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
    print(f"serving {path} on http://127.0.0.1:{args.port}/metrics (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


def metadata_refresh(settings: Settings) -> metrics.Refresh | None:
    """A function reading the persistent metrics from the target, or None without a target.

    The embedded server counts as a target only when its data directory
    already exists: printing metrics must not create a database cluster.
    """
    if not settings.target_dsn and not (settings.workdir / embedded.PGDATA_DIR).exists():
        return None

    def refresh() -> dict[str, Any] | None:
        with contextlib.suppress(EngineError, psycopg.Error):
            with connect(target.resolve_dsn(settings), autocommit=True) as conn:
                return metadata.history_metrics(conn, settings.stable_schema)
        return None

    return refresh
