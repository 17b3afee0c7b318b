"""Clients of a detached run: attach, follow its events, send commands (asyncio, no UI).

::

    async with attach(workdir, run_id) as run:
        async for event in run.events(since=seq):
            ...
        await run.approve("clean")

``events`` replays the journal from ``since`` and goes on with the live
events, with no gap or duplicate at the seam, until the run's ``RunEnded``.
Commands are answered: a refused one raises :class:`CommandRefused` with the
run's reason. Losing a client (a closed terminal, a killed console) loses
nothing: the run goes on, and a client attaching again resumes from the last
``seq`` it saw; attaching to a run that has ended replays its journal, and
one whose process is gone without its end raises :class:`RunLost`. The
run side is :mod:`sdconsole.engine.detached.control`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sdconsole.engine.detached.control import reachable, socket_path
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import BadInput, EngineError, Interrupted
from sdconsole.engine.runtime.run import read_journal, runs_dir

LINE_LIMIT = 16 * 2**20  # an event line (a finding with examples) may be long


def client_name(what: str, operator: str) -> str:
    """How a client names itself to a run: the journal says who approved each gate and who
    detached (``console of alice (pid 123 on db-ops-1)``)."""
    return f"{what} of {operator} (pid {os.getpid()} on {socket.gethostname()})"


class CommandRefused(EngineError):
    """The run refused a command; the message is its reason."""

    exit_code = 2


class RunLost(Interrupted):
    """The run's events ended without its ``RunEnded``: its process is gone (killed, or the
    machine ended it) before it could say how it ended. The run is interrupted, as
    ``sdconsole wait`` and ``runs`` count it; ``resume`` goes on with it."""


class AttachedRun:
    """One client of a running detached run."""

    def __init__(self, path: Path, run_id: str, client: str = "") -> None:
        self.path, self.run_id, self.client = path, run_id, client
        self._commands: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def events(self, since: int = 0) -> AsyncIterator[ev.Event]:
        """Every event after ``since``, then the live ones, up to ``RunEnded``; of a run
        that has ended, its journal. RunLost when the events end without a ``RunEnded``."""
        try:
            stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = await self._open()
        except BadInput:
            stream = None
        seen = since
        if stream is not None:
            reader, writer = stream
            try:
                writer.write((json.dumps({"op": "events", "since": since}) + "\n").encode())
                await writer.drain()
                while line := await reader.readline():
                    event = ev.from_dict(json.loads(line))
                    seen = event.seq
                    yield event
                    if isinstance(event, ev.RunEnded):
                        return
            except ConnectionError:
                pass  # the run ended as we spoke: the rest is in its journal
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
        journal = read_journal(self.path.parent)
        for event in journal:
            if event.seq > seen:
                yield event
        if not journal or not isinstance(journal[-1], ev.RunEnded):
            raise RunLost(
                f"run {self.run_id} stopped without saying how it ended: its process is gone"
                f" (killed?); `sdconsole resume {self.run_id}` goes on with it"
            )

    async def approve(self, gate: str) -> None:
        await self._send({"op": "approve", "gate": gate})

    async def override(self, reason: str, gate: str = "quality") -> None:
        await self._send({"op": "override", "gate": gate, "reason": reason})

    async def set_column(
        self, table: str, column: str, *, type: str | None = None, date_order: str | None = None
    ) -> None:
        await self._send(
            {
                "op": "set_column",
                "table": table,
                "column": column,
                "type": type,
                "date_order": date_order,
            }
        )

    async def cancel(self) -> None:
        await self._send({"op": "cancel"})

    async def _send(self, request: dict[str, Any]) -> None:
        if self._commands is None:
            self._commands = await self._open()
        reader, writer = self._commands
        try:
            named = {**request, "client": self.client} if self.client else request
            writer.write((json.dumps(named) + "\n").encode())
            await writer.drain()
            line = await reader.readline()
        except ConnectionError:
            line = b""
        if not line:
            raise CommandRefused(f"run {self.run_id} closed the connection (it has ended)")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise CommandRefused(f"run {self.run_id}: {answer.get('reason')}")

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            with reachable(self.path) as address:
                return await asyncio.open_unix_connection(address, limit=LINE_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError):
            raise BadInput(
                f"run {self.run_id} is not running (no process listens on {self.path})"
            ) from None

    async def close(self) -> None:
        if self._commands is not None:
            writer = self._commands[1]
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._commands = None


@contextlib.asynccontextmanager
async def attach(workdir: Path, run_id: str, client: str = "") -> AsyncIterator[AttachedRun]:
    """A client of the detached run ``run_id`` of ``workdir`` (BadInput when there is no such
    run); ``client`` names it in the journal when it controlled the run and detaches."""
    run_dir = runs_dir(workdir) / run_id
    if not run_dir.is_dir():
        raise BadInput(f"no run {run_id} in {runs_dir(workdir)}")
    attached = AttachedRun(socket_path(run_dir), run_id, client)
    try:
        yield attached
    finally:
        await attached.close()
