"""Shared fixtures: PostgreSQL for the tests that use it, work dirs, settings, sample files.

PostgreSQL comes from ``SDCONSOLE_TEST_DSN`` when set (any server, version 15
or newer, with permission to create databases); otherwise each test process
(each pytest-xdist worker) starts an embedded server of its own, in its own
temp dir. A test that uses the target gets a database of its own (``pg_dsn``,
``settings``); one that never reaches PostgreSQL takes ``offline_settings``,
and no database is made for it.

Tests are marked here by what they use (``pg``, ``tui``), so a subset runs
by marker: ``pytest -m "not pg"`` needs no server at all.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from sdconsole.engine.runtime.run import Run
from sdconsole.engine.source import sample
from sdconsole.engine.target.dsn import redact_dsn
from sdconsole.settings import Settings, load_settings

# Tests that start a PostgreSQL of their own instead of using pg_server: a module, or
# module::test.
OWN_SERVER = {
    "test_faults.py",
    "test_foundation.py::test_two_first_starts_at_once_share_one_new_server",
}


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``pg`` a test that uses PostgreSQL (every database fixture stands on pg_server) and
    ``tui`` one that drives the console (a test_tui_ module, or a test that makes a ConsoleApp).
    """
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        module = item.path.name
        if (
            "pg_server" in item.fixturenames
            or module in OWN_SERVER
            or f"{module}::{item.originalname}" in OWN_SERVER
        ):
            item.add_marker(pytest.mark.pg)
        if module.startswith("test_tui_") or "ConsoleApp" in item.function.__code__.co_names:
            item.add_marker(pytest.mark.tui)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """DSN of a server where this test process may create databases.

    Under pytest-xdist each worker starts its own embedded server (its temp dir
    is its own), so workers never share one; on ``SDCONSOLE_TEST_DSN`` they
    share the server, each in databases of its own. A server that cannot be
    reached fails every test that needs it: it is never skipped.
    """
    dsn = os.environ.get("SDCONSOLE_TEST_DSN")
    if not dsn:
        from sdconsole.engine.target import embedded

        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        dsn = embedded.start(tmp_path_factory.mktemp(f"embedded-{worker}"), cleanup="delete")
    try:
        psycopg.connect(dsn, connect_timeout=10).close()
    except psycopg.Error as exc:
        pytest.fail(
            f"the test PostgreSQL {redact_dsn(dsn)} cannot be reached: {exc}", pytrace=False
        )
    return dsn


def _create_database(pg_server: str) -> tuple[str, str]:
    name = "sdc_test_" + secrets.token_hex(4)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, make_conninfo(pg_server, dbname=name)


def _drop_database(pg_server: str, name: str) -> None:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def pg_dsn(pg_server: str) -> str:
    """DSN of a fresh, empty database dropped after the test."""
    name, dsn = _create_database(pg_server)
    yield dsn
    _drop_database(pg_server, name)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def settings(workdir: Path, pg_dsn: str) -> Settings:
    """Settings for a test: its own work dir and database, no config file."""
    return load_settings(None, workdir=workdir, target_dsn=pg_dsn)


@pytest.fixture
def offline_settings(workdir: Path) -> Settings:
    """Settings for a test that never reaches PostgreSQL: its own work dir, no config file, and
    a target no server listens on (a socket directory that does not exist).

    No database is made for it, and nothing falls back to the embedded server;
    a connection to the target fails at once, so a test that needs one fails.
    """
    nowhere = make_conninfo("", host=str(workdir.parent / "no-server"), dbname="offline")
    return load_settings(None, workdir=workdir, target_dsn=nowhere)


@pytest.fixture
def conn(pg_dsn: str):
    """An autocommit connection to the test's database."""
    with psycopg.connect(pg_dsn, autocommit=True) as c:
        yield c


@pytest.fixture
def run(workdir: Path):
    """A run in the test's work dir; ``run.events`` collects what it emitted."""
    events: list = []
    with Run(workdir, listeners=[events.append]) as r:
        r.events = events
        yield r


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dirty ServiceDesk database shared by the session; tests must not modify it."""
    path = tmp_path_factory.mktemp("sample") / "servicedesk.db"
    sample.generate(path, tickets=300, seed=11)
    return path


@pytest.fixture
def sample_copy(sample_db: Path, tmp_path: Path) -> Path:
    """A private copy of the sample database, for tests that may touch the file."""
    path = tmp_path / "servicedesk.db"
    path.write_bytes(sample_db.read_bytes())
    return path


@dataclass(frozen=True)
class Migrated:
    """A database where the session sample went through the whole pipeline."""

    dsn: str
    schema: str
    source: Path
    settings: Settings


@pytest.fixture(scope="session")
def migrated_sample(
    pg_server: str, sample_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Migrated:
    """The sample migrated (simple mode) into its own database; tests must only read it."""
    from sdconsole.engine.pipeline import Migration, drive

    name, dsn = _create_database(pg_server)
    settings = load_settings(None, workdir=tmp_path_factory.mktemp("migrated"), target_dsn=dsn)
    with Migration(settings, sample_db, mode="simple") as migration:
        drive(migration, yes=True)
    yield Migrated(dsn, settings.stable_schema, sample_db, settings)
    _drop_database(pg_server, name)


HOLDER = """
import sys
from pathlib import Path
from sdconsole.engine.target import lock
from sdconsole.settings import load_settings
settings = load_settings(None, workdir=Path(sys.argv[1]), target_dsn=sys.argv[2],
                         operator="alice")
with lock.acquire(sys.argv[2], settings, "run-of-alice"):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder_process(workdir: Path, pg_dsn: str):
    """Another process, run run-of-alice by alice, holding the lock on the test's work dir
    and database until the test ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(workdir), pg_dsn],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.stdin.close()
        proc.wait(timeout=30)
