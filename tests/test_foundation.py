"""The ground rules: the engine stays UI-free, the CLI answers, DSNs never leak passwords."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sdconsole import __version__
from sdconsole.engine.runtime.errors import StageError
from sdconsole.engine.target import embedded
from sdconsole.engine.target.dsn import TargetUnreachable, connect, redact_dsn, sibling


def sdconsole(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdconsole", *args], capture_output=True, text=True, cwd=cwd
    )


def test_engine_import_loads_neither_textual_nor_rich() -> None:
    code = (
        "import sys, pkgutil, importlib, sdconsole.engine as e\n"
        "for m in pkgutil.walk_packages(e.__path__, 'sdconsole.engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_version_and_help() -> None:
    assert sdconsole("--version").stdout.strip() == f"sdconsole {__version__}"
    help_text = sdconsole("--help").stdout
    for command in ("sample",):
        assert command in help_text
    assert "exit status" in help_text


@pytest.mark.parametrize(
    ("dsn", "secret"),
    [
        ("postgresql://ops:hunter2@db.example:5432/sd", "hunter2"),
        ("postgresql://ops@db/sd?password=hunter2&sslmode=require", "hunter2"),
        ("host=db user=ops password=hunter2 dbname=sd", "hunter2"),
        ("host=db user=ops password='hun ter2' dbname=sd", "hun ter2"),
    ],
)
def test_redact_dsn(dsn: str, secret: str) -> None:
    shown = redact_dsn(dsn)
    assert secret not in shown
    assert "***" in shown
    assert "db" in shown


def test_unreachable_target_is_one_line_without_password(tmp_path: Path) -> None:
    dsn = f"postgresql://ops:hunter2@/sd?host={tmp_path}&port=1"
    with pytest.raises(TargetUnreachable) as info:
        connect(dsn)
    message = str(info.value)
    assert "hunter2" not in message and "\n" not in message
    assert "cannot connect" in message


def test_a_sibling_connection_reaches_the_same_database_with_the_password(pg_dsn: str) -> None:
    """The canary's second connection: same database and user; the password, which
    ``conn.info.dsn`` leaves out, travels too (a trusting server ignores it)."""
    dsn = (
        pg_dsn
        if conninfo_to_dict(pg_dsn).get("password")
        else make_conninfo(pg_dsn, password="trusted-anyway")
    )
    with connect(dsn) as conn, sibling(conn) as other:
        assert other.pgconn.backend_pid != conn.pgconn.backend_pid
        assert (other.info.dbname, other.info.user) == (conn.info.dbname, conn.info.user)
        assert other.info.password == conninfo_to_dict(dsn)["password"]


def test_a_sibling_over_the_connection_limit_is_a_stage_error(pg_dsn: str) -> None:
    role, password = "sdc_limited_" + secrets.token_hex(3), secrets.token_hex(8)
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        try:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT 1").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip("the test role may not create roles")
        try:
            with (
                connect(make_conninfo(pg_dsn, user=role, password=password)) as conn,
                pytest.raises(StageError) as info,
            ):
                sibling(conn)
        finally:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    message = str(info.value)
    assert message.startswith("a second connection to the target failed: cannot connect to")
    assert "too many connections" in message and "\n" not in message
    assert password not in message


def test_embedded_server_reuses_a_running_server(
    pg_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp("embedded-reuse")
    first = embedded.start(workdir, cleanup="delete")
    second = embedded.start(workdir, cleanup="delete")
    assert first == second
    with psycopg.connect(first) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
    assert int(version) >= 150000
    assert embedded.pg_bin("pg_dump").exists()


def test_two_first_starts_at_once_share_one_new_server(tmp_path_factory) -> None:
    """The console's first reads start the server of a new work dir from two threads."""
    from concurrent.futures import ThreadPoolExecutor

    workdir = tmp_path_factory.mktemp("embedded-race")
    with ThreadPoolExecutor(2) as pool:
        dsns = list(pool.map(lambda _: embedded.start(workdir, cleanup="delete"), range(2)))
    assert dsns[0] == dsns[1]


def test_sample_command_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "sd.db"
    out.write_bytes(b"keep me")
    proc = sdconsole("sample", str(out), "--tickets", "5")
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == b"keep me"


def test_sample_command_writes_a_database(tmp_path: Path) -> None:
    out = tmp_path / "sd.db"
    proc = sdconsole("sample", str(out), "--tickets", "20", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and "rows" in proc.stdout
