"""Prometheus metrics of the last run, as a textfile-collector file and over HTTP.

At the end of each run the pipeline calls :func:`write_run_metrics`, which
replaces ``<workdir>/metrics/sdconsole.prom`` atomically (prometheus_client
writes a temp file and renames it). Because the file only describes the last
run, the figures that must outlive a run (active version, last cutover,
last rollback, last success) come from the ``sdconsole`` metadata schema
through :func:`sdconsole.engine.target.metadata.history_metrics`: the pipeline merges
them into its report, and ``sdconsole metrics`` refreshes them on every scrape.

Names follow the Prometheus conventions: base units (``_seconds``), gauges
for per-run figures (no ``_total``), state sets with one series per possible
value (1 for the current one, 0 for the others).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, start_http_server, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

METRICS_FILE = Path("metrics") / "sdconsole.prom"

OUTCOMES = ("succeeded", "failed", "stopped", "interrupted", "discarded")
GATES = ("passed", "overridden", "refused")

# report key -> (metric name, help) for single-value gauges
SCALARS = {
    "finished_ts": (
        "sdconsole_last_run_timestamp_seconds",
        "Unix time the run described by this file ended.",
    ),
    "quality_score": ("sdconsole_quality_score", "Quality score of the source, 0-100."),
    "validation_mismatches": (
        "sdconsole_validation_mismatches",
        "Validation checks that did not match (0 when validated).",
    ),
    "active_version": ("sdconsole_active_version", "Version the stable schema's views point at."),
    "last_cutover_ts": (
        "sdconsole_last_cutover_timestamp_seconds",
        "Unix time of the last cutover.",
    ),
    "last_rollback_ts": (
        "sdconsole_last_rollback_timestamp_seconds",
        "Unix time of the last rollback.",
    ),
    "last_success_ts": (
        "sdconsole_last_success_timestamp_seconds",
        "Unix time the last successful migration run ended.",
    ),
}
# report key -> (metric name, label, help) for gauges with one label
LABELLED = {
    "stage_seconds": (
        "sdconsole_stage_duration_seconds",
        "stage",
        "Wall time of each stage of the run.",
    ),
    "rows_loaded": ("sdconsole_run_rows_loaded", "table", "Rows loaded per table by the run."),
    "rejects": (
        "sdconsole_run_rejects",
        "table",
        "Values the run could not type, per table (recorded in _rejects).",
    ),
    "quality_dimensions": (
        "sdconsole_quality_dimension_score",
        "dimension",
        "Score of each quality dimension, 0-100.",
    ),
}
# report key -> (metric name, label, possible values, help) for state sets
STATES = {
    "outcome": (
        "sdconsole_run_outcome",
        "outcome",
        OUTCOMES,
        "How the run ended: 1 for its outcome, 0 for the others.",
    ),
    "gate": (
        "sdconsole_quality_gate",
        "outcome",
        GATES,
        "Quality gate decision of the run: 1 for its outcome, 0 for the others.",
    ),
}
# Metrics that metadata refreshes; the file's copies are replaced when it answers.
PERSISTENT = ("active_version", "last_cutover_ts", "last_rollback_ts", "last_success_ts")


def metrics_path(workdir: Path) -> Path:
    return Path(workdir) / METRICS_FILE


def build_registry(report: dict[str, Any]) -> CollectorRegistry:
    """A fresh registry holding the report's metrics; keys absent or None are left out."""
    registry = CollectorRegistry()
    if report.get("run_id") or report.get("stable"):
        info = Gauge(
            "sdconsole_run_info",
            "The run this file describes (value always 1).",
            ["run_id", "stable", "mode"],
            registry=registry,
        )
        info.labels(report.get("run_id", ""), report.get("stable", ""), report.get("mode", "")).set(
            1
        )
    for key, (name, doc) in SCALARS.items():
        if report.get(key) is not None:
            Gauge(name, doc, registry=registry).set(float(report[key]))
    for key, (name, label, doc) in LABELLED.items():
        if report.get(key):
            gauge = Gauge(name, doc, [label], registry=registry)
            for value, figure in report[key].items():
                gauge.labels(str(value)).set(float(figure))
    for key, (name, label, values, doc) in STATES.items():
        current = report.get(key)
        if current is not None:
            gauge = Gauge(name, doc, [label], registry=registry)
            for value in dict.fromkeys((*values, current)):
                gauge.labels(value).set(1 if value == current else 0)
    return registry


def write_run_metrics(workdir: Path, report: dict[str, Any]) -> Path:
    """Replace ``<workdir>/metrics/sdconsole.prom`` with the metrics of one run.

    ``report`` is a plain dict; every key is optional (absent or None: the
    metric is not written):

    - ``stable`` str, ``run_id`` str, ``mode`` str -> ``sdconsole_run_info``
    - ``outcome`` "succeeded" | "failed" | "stopped" | "interrupted" | "discarded"
    - ``finished_ts`` float, Unix time the run ended (default: now)
    - ``stage_seconds`` {stage: seconds}
    - ``rows_loaded`` {table: rows}, ``rejects`` {table: values}
    - ``quality_score`` float, ``quality_dimensions`` {dimension: score}
    - ``gate`` "passed" | "overridden" | "refused"
    - ``validation_mismatches`` int
    - ``active_version`` int, ``last_cutover_ts``, ``last_rollback_ts``,
      ``last_success_ts`` float Unix times (from the metadata schema:
      :func:`sdconsole.engine.target.metadata.history_metrics`)

    Returns the path written.
    """
    report = {"finished_ts": time.time(), **report}
    path = metrics_path(workdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), build_registry(report))
    return path


Refresh = Callable[[], dict[str, Any] | None]


class RunMetricsCollector:
    """Collector serving the textfile, with the persistent metrics refreshed from metadata.

    ``refresh`` returns the dict of
    :func:`sdconsole.engine.target.metadata.history_metrics`, or None when the target cannot be
    asked; ``sdconsole_metadata_up`` says which (1 or 0).
    Without ``refresh`` the file is served as it is.
    """

    def __init__(self, path: Path, refresh: Refresh | None = None) -> None:
        self.path = path
        self.refresh = refresh

    def collect(self) -> Iterator[Metric]:
        fresh = self.refresh() if self.refresh else None
        replaced = set()
        if fresh is not None:
            persistent = {key: fresh.get(key) for key in PERSISTENT}
            replaced = {SCALARS[key][0] for key in PERSISTENT}
            yield from build_registry(persistent).collect()
        yield from (m for m in self._from_file() if m.name not in replaced)
        if self.refresh:
            up = GaugeMetricFamily(
                "sdconsole_metadata_up", "1 when the target's metadata answered this scrape."
            )
            up.add_metric([], 1 if fresh is not None else 0)
            yield up

    def _from_file(self) -> Iterable[Metric]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return text_string_to_metric_families(text)


def serve(collector: RunMetricsCollector, port: int) -> tuple[Any, Any]:
    """Serve the collector on 127.0.0.1:port in a thread; returns (server, thread).

    Stop with ``server.shutdown()``. Only the loopback address: the metrics
    name the work dir's runs, and a reverse proxy or node exporter is the
    way to expose them further.
    """
    return start_http_server(port, addr="127.0.0.1", registry=collector)
