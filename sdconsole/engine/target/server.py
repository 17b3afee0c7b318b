"""Which PostgreSQL the console migrates into: the configured DSN, or the embedded server."""

from __future__ import annotations

from sdconsole.engine.runtime.errors import BadInput
from sdconsole.engine.target import embedded
from sdconsole.settings import Settings


def resolve_dsn(settings: Settings) -> str:
    """``settings.target_dsn``, or the DSN of the embedded server under the work dir (started).

    A server that will not start is a BadInput naming the data directory.
    """
    if settings.target_dsn:
        return settings.target_dsn
    try:
        return embedded.start(settings.workdir)
    except embedded.EmbeddedServerError as exc:
        raise BadInput(str(exc)) from None
