"""Structured JSON logs of a run, for log shippers: one JSON object per line.

:class:`JsonRunLog` is a Run listener. Each event becomes a python-json-logger
record in ``runs/<run_id>/log.jsonl`` (and on stderr with ``--log-json``)
with the same keys on every line: timestamp, level, run_id, seq, stage,
event, table, counts, duration, error, message, detail.

Levels: StageFailed is ERROR, a warn/fail CheckResult or a gate not passed
is WARNING, Progress is DEBUG (only a table's last report, or one every
``PROGRESS_EVERY`` seconds), everything else INFO. Data samples (cleaning
before/after values, finding examples) are left out: logs leave the
machine, customer text should not. Every string is scrubbed of passwords
(DSNs in URL or key=value form, and the target's own password when given).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pythonjsonlogger.json import JsonFormatter

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import private_file

LOG_FILE = "log.jsonl"
PROGRESS_EVERY = 10.0  # seconds between logged Progress events of one table

FIELDS = (
    "timestamp",
    "levelname",
    "run_id",
    "seq",
    "stage",
    "event",
    "table",
    "counts",
    "duration",
    "error",
    "message",
    "detail",
)
# Event fields that have their own key, or that carry data values logs must not ship.
_NOT_DETAIL = {
    "run_id",
    "seq",
    "ts",
    "stage",
    "table",
    "done",
    "total",
    "unit",
    "rate",
    "summary",
    "seconds",
    "error",
    "changed",
    "count",
    "samples",
    "examples",
}

_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^\s:/@]*:)\S*@", re.IGNORECASE)
_KEY_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)


def scrub(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """Return value with every password in its strings replaced by '***' (dicts, lists too)."""
    if isinstance(value, str):
        value = _URL_PASSWORD.sub(r"\1***@", value)
        value = _KEY_PASSWORD.sub(r"\1***", value)
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, secrets) for v in value]
    return value


def level_of(event: ev.Event) -> int:
    """The log level an operator expects for an event (see the module docstring)."""
    match event:
        case ev.StageFailed():
            return logging.ERROR
        case ev.CheckResult(status="warn" | "fail") | ev.GateReached(passed=False):
            return logging.WARNING
        case ev.CanaryMetric(ok=False):
            return logging.WARNING
        case ev.Progress() | ev.SqlExecuted():
            return logging.DEBUG
    return logging.INFO


def message_of(event: ev.Event) -> str:
    """A short human sentence for the event, without data values."""
    match event:
        case ev.StageStarted(stage=stage, detail=detail):
            return f"{stage} started" + (f": {detail}" if detail else "")
        case ev.Progress(table=table, done=done, total=total, unit=unit):
            return f"{table}: {done}/{total} {unit}"
        case ev.CheckResult(name=name, status=status, reason=reason):
            return f"check {name} {status}: {reason}"
        case ev.Finding(table=table, column=column, message=message):
            return f"{table}.{column}: {message}"
        case ev.DiffSample(rule=rule, table=table, column=column, changed=changed):
            return f"rule {rule} changes {changed} cells of {table}.{column}"
        case ev.CanaryMetric(table=table, metric=metric, ok=ok):
            return f"canary {table} {metric}: {'ok' if ok else 'differs'}"
        case ev.GateReached(gate=gate, passed=passed, summary=summary):
            return f"gate {gate} {'passed' if passed else 'not passed'}: {summary}"
        case ev.GateApproved(gate=gate, by=by, reason=reason):
            return f"gate {gate} approved by {by}" + (f", overriding: {reason}" if reason else "")
        case ev.SqlExecuted(statement=statement):
            return statement
        case ev.StageFinished(stage=stage):
            return f"{stage} finished"
        case ev.StageFailed(stage=stage, error=error):
            return f"{stage} failed: {error}"
    return event.kind


def counts_of(event: ev.Event) -> dict[str, Any] | None:
    match event:
        case ev.Progress(done=done, total=total, unit=unit, rate=rate):
            return {"done": done, "total": total, "unit": unit, "rate": rate}
        case ev.StageFinished(summary=summary):
            return dict(summary) or None
        case ev.DiffSample(changed=changed):
            return {"changed": changed}
        case ev.Finding(count=count):
            return {"count": count}
    return None


def record_fields(event: ev.Event) -> dict[str, Any]:
    """The structured fields of one log line (everything but timestamp and level)."""
    detail = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(event)
        if f.name not in _NOT_DETAIL and getattr(event, f.name) not in ("", None)
    }
    return {
        "timestamp": datetime.fromtimestamp(event.ts, UTC).isoformat(timespec="milliseconds"),
        "run_id": event.run_id,
        "seq": event.seq,
        "stage": event.stage,
        "event": event.kind,
        "table": getattr(event, "table", None),
        "counts": counts_of(event),
        "duration": getattr(event, "seconds", None),
        "error": getattr(event, "error", None),
        "detail": detail or None,
    }


class JsonRunLog:
    """Run listener writing each event as a JSON line to ``run_dir/log.jsonl``.

    ``to_stderr`` also sends the lines to stderr (the CLI's ``--log-json``).
    ``dsn`` is the target's connection string: its password, wherever it
    appears verbatim, is scrubbed too. Call :meth:`close` when the run ends.
    """

    def __init__(self, run_dir: Path, to_stderr: bool = False, dsn: str | None = None) -> None:
        self.path = Path(run_dir) / LOG_FILE
        self._secrets = _password_of(dsn)
        self._logger = logging.Logger(f"sdconsole.run.{Path(run_dir).name}", logging.DEBUG)
        formatter = JsonFormatter(
            list(FIELDS), rename_fields={"levelname": "level"}, json_ensure_ascii=False
        )
        handlers: list[logging.Handler] = [
            logging.FileHandler(private_file(self.path), encoding="utf-8")
        ]
        if to_stderr:
            handlers.append(logging.StreamHandler(sys.stderr))
        for handler in handlers:
            handler.setFormatter(formatter)
            self._logger.addHandler(handler)
        self._progress_logged: dict[tuple[str, str], float] = {}

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.Progress) and not self._progress_due(event):
            return
        fields = scrub(record_fields(event), self._secrets)
        self._logger.log(level_of(event), scrub(message_of(event), self._secrets), extra=fields)

    def _progress_due(self, event: ev.Progress) -> bool:
        """A table's last Progress, or the first PROGRESS_EVERY seconds after the last logged."""
        key = (event.stage, event.table)
        last = self._progress_logged.get(key)
        if event.done < event.total and last is not None and event.ts - last < PROGRESS_EVERY:
            return False
        self._progress_logged[key] = event.ts
        return True

    def close(self) -> None:
        """Close the file (stderr stays open: closing a StreamHandler leaves its stream)."""
        for handler in list(self._logger.handlers):
            self._logger.removeHandler(handler)
            handler.close()

    def __enter__(self) -> JsonRunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _password_of(dsn: str | None) -> tuple[str, ...]:
    if not dsn:
        return ()
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:  # unparsable: the patterns in scrub() still apply
        return ()
    return (str(password),) if password else ()
