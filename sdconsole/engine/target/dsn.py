"""Connection strings: shown without passwords, opened with clean errors."""

from __future__ import annotations

import re

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sdconsole.engine.runtime.errors import BadInput, StageError


class TargetUnreachable(BadInput):
    """The target PostgreSQL cannot be reached; the message names it without a password."""


def redact_dsn(dsn: str) -> str:
    """Return the DSN with any password replaced by '***', in URL or key=value form."""
    if dsn.startswith(("postgres://", "postgresql://")):
        dsn = re.sub(r"(//[^:/@]*:)[^/]*@", r"\1***@", dsn)
        return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", dsn)
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return re.sub(r"(?i)(password\s*=\s*)('[^']*'|\S+)", r"\1***", dsn)
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**{k: str(v) for k, v in params.items()})


def connect(dsn: str, **kwargs) -> psycopg.Connection:
    """Open a connection, raising TargetUnreachable with a password-free one-line reason."""
    try:
        return psycopg.connect(dsn, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise TargetUnreachable(
            f"cannot connect to {redact_dsn(dsn)}: {_scrub(_reason(exc), dsn)}"
        ) from None
    except psycopg.ProgrammingError as exc:
        raise TargetUnreachable(f"invalid DSN {redact_dsn(dsn)}: {exc}") from None


def sibling(conn: psycopg.Connection, **kwargs) -> psycopg.Connection:
    """A second connection to the same server, database and user as ``conn``.

    ``conn.info.dsn`` leaves the password out; it travels as a parameter.
    Failing mid-run (say, a connection limit), it is a StageError.
    """
    password = conn.info.password
    try:
        return connect(conn.info.dsn, **({"password": password} if password else {}), **kwargs)
    except TargetUnreachable as exc:
        raise StageError(f"a second connection to the target failed: {exc}") from None


def _reason(exc: psycopg.OperationalError) -> str:
    """libpq's cause on one line: 'Connection refused (Is the server running ...?)'.

    libpq writes 'connection to server at ... failed: CAUSE', a tab-indented
    hint on the next line, and the same again for every address it tried.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    cause = lines[0].rsplit(" failed: ", 1)[-1]
    hint = next((line for line in lines[1:] if " failed: " not in line), None)
    return f"{cause} ({hint})" if hint else cause


def _scrub(text: str, dsn: str) -> str:
    """Remove the DSN's password from a server or libpq message, should it echo it."""
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:
        return text
    return text.replace(str(password), "***") if password else text
