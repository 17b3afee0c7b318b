"""The run process's control socket: it serves the run's events and takes clients' commands.

A detached run (``sdconsole migrate ... --detach``) is a process of its own:
its own session, no terminal, SIGHUP ignored. It owns the lock, the
connections and the stages, and journals every event as any run does. This
module is its side of the conversation with clients (the console, ``sdconsole
attach``, ``approve``, ``cancel``; the client side is :mod:`sdconsole.engine.detached.client`):

* ``control.sock`` in the run dir, mode 0600 (the owner only), JSON lines;
* ``{"op": "events", "since": N}`` streams every event with ``seq > N`` --
  the ones already emitted, then the live ones, from one list under one
  lock, so there is no gap or duplicate at the seam -- up to ``RunEnded``;
* commands ``approve`` (gate), ``override`` (reason, at a refused quality
  gate), ``set_column`` (before cleaning), ``cancel`` are each answered
  ``{"ok": true}`` or ``{"ok": false, "reason": ...}``, never dropped. The
  first connection that sends a command controls the run until it closes;
  the others may watch, and their commands are refused with the reason.
  When the controlling connection closes, the journal records a
  ``ClientDetached`` (a hang-up is not a cancel) and the next client may
  take control. A command may name its client (``"client": ...``) for that
  record.

At an approval gate the run waits (:meth:`Control.wait`) until a client
decides; a run that loses every client goes on to its next gate and waits
there. It never needs a terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import EngineError, Interrupted
from sdconsole.engine.runtime.processes import FORK_SAFE_THREADS
from sdconsole.engine.runtime.run import Run
from sdconsole.engine.steps import Gate

SOCKET = "control.sock"
ADDRESS_MAX = 100  # bytes of a Unix socket path, with room to spare (sun_path holds 108)


@dataclass
class Decision:
    """What a client decided at a gate: go on (with the override reason, if any)."""

    gate: str
    reason: str | None
    by: str  # the controlling client's name (GateApproved says who approved)


class Control:
    """Serve ``run``'s events and commands on its control socket until :meth:`close`.

    ``migration`` is the pipeline's Migration (for ``cancel`` and ``set_column``).
    """

    def __init__(self, run: Run, migration: Any) -> None:
        self.run, self.migration = run, migration
        self.path = run.dir / SOCKET
        self._events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._waiting: tuple[str, bool] | None = None  # gate, refused (wants a reason)
        self._decision: Decision | None = None
        self._controller: object | None = None
        self._controller_name = ""
        self._ended = False
        self._over = False  # RunEnded is emitted or about to be: nothing is journalled after it
        run.listeners.append(self._publish)
        self.path.unlink(missing_ok=True)
        self._server = _listening(self.path)
        self._server.control = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=FORK_SAFE_THREADS, daemon=True
        )
        self._thread.start()

    # -- the run's side ----------------------------------------------------------------

    def wait(self, gate: str, summary: str, *, refused: bool = False) -> Decision:
        """Announce the gate and block until a client approves it (or cancels the run)."""
        with self._changed:
            self._waiting, self._decision = (gate, refused), None
        self.run.emit(
            ev.GateAwaiting(
                stage="gate",
                gate=gate,
                summary=summary,
                needs_reason=refused,
                detail=self._gate_detail(gate),
            )
        )
        with self._changed:
            while self._decision is None:
                if self.run.cancel_requested.is_set():
                    self._waiting = None
                    raise Interrupted(f"cancelled at the {gate} gate")
                self._changed.wait(0.2)
            decision, self._waiting = self._decision, None
        return decision

    def _gate_detail(self, gate: str) -> dict[str, Any]:
        """What a client shows at ``gate`` beyond the summary: the cutover's plan (the
        statements, the change of shape) and the canary's report; journalled with the wait,
        so a client attaching later shows the same screen."""
        m = self.migration
        if gate == Gate.CUTOVER:
            plan = m.plan_cutover()
            breaking = plan.shape is not None and plan.shape.breaking
            return {**plan.to_dict(), "shape_lines": plan.shape_lines(), "breaking": breaking}
        if gate == Gate.CANARY and m.canary_report is not None:
            return dict(m.canary_report.to_dict())
        return {}

    def end(self, outcome: str, exit_code: int, error: str = "") -> None:
        """The last event: clients following the run stop here."""
        with self._changed:
            self._over = True
        self.run.emit(ev.RunEnded(stage="run", outcome=outcome, exit_code=exit_code, error=error))

    def close(self) -> None:
        with self._changed:
            self._ended = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self.path.unlink(missing_ok=True)

    # -- the clients' side ------------------------------------------------------------

    def _publish(self, event: ev.Event) -> None:
        with self._changed:
            self._events.append(event.to_dict())
            self._changed.notify_all()

    def stream(self, since: int, send) -> None:
        """Send every event after ``since``, then the live ones, until the run ends."""
        index = 0
        while True:
            with self._changed:
                while index < len(self._events) and self._events[index]["seq"] <= since:
                    index += 1
                while index >= len(self._events) and not self._ended:
                    self._changed.wait(0.5)
                batch = self._events[index:]
                ended = self._ended
            for event in batch:
                send(event)
                if event["kind"] == "RunEnded":
                    return
            index += len(batch)
            if ended and not batch:
                return

    def command(self, client: object, request: dict[str, Any]) -> dict[str, Any]:
        """Carry out one command of ``client``; the answer says whether it was accepted."""
        with self._changed:
            if self._controller not in (None, client):
                return _refused(
                    "another client controls this run; watch, or wait until it detaches"
                )
            if self._controller is None:
                self._controller = client
                self._controller_name = str(request.get("client") or "a client")
            op = request.get("op")
            if op == "cancel":
                self.migration.cancel()
                self._changed.notify_all()
                return {"ok": True}
            if op in ("approve", "override"):
                return self._decide(op, request)
            if op == "set_column":
                return self._set_column(request)
            return _refused(f"unknown command {op!r} (approve, override, set_column, cancel)")

    def _decide(self, op: str, request: dict[str, Any]) -> dict[str, Any]:
        if self._waiting is None:
            return _refused("the run is not waiting at a gate")
        gate, refused = self._waiting
        if request.get("gate", gate) != gate:
            return _refused(f"the run waits at the {gate} gate, not {request.get('gate')}")
        reason = (request.get("reason") or "").strip() or None
        if refused and (op != "override" or reason is None):
            return _refused(f"the {gate} gate refused: override it with a typed reason")
        self._decision = Decision(gate, reason, self._controller_name)
        self._changed.notify_all()
        return {"ok": True}

    def _set_column(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._waiting is None or self._waiting[0] != "quality":
            return _refused("columns can be changed only while the run waits at the quality gate")
        try:
            passes = self.migration.set_column(
                request["table"],
                request["column"],
                type=request.get("type"),
                date_order=request.get("date_order"),
            )
        except KeyError as exc:
            return _refused(f"set_column needs {exc}")
        except EngineError as exc:  # no such column: the client is told, the run goes on
            return _refused(str(exc))
        self._waiting = ("quality", not passes)  # the gate waits on the new score's verdict
        return {"ok": True}

    def detached(self, client: object) -> None:
        """A connection closed; when it controlled the run, the journal says so (the run goes
        on, waiting at its gate if it is at one) and the next client may take control."""
        with self._changed:
            if self._controller is not client:
                return
            self._controller, name = None, self._controller_name
            over = self._over
        if not over:
            self.run.emit(ev.ClientDetached(stage="run", client=name))


def _refused(reason: str) -> dict[str, Any]:
    return {"ok": False, "reason": reason}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    control: Control


class _Handler(socketserver.StreamRequestHandler):
    """One client connection: JSON requests in, JSON answers (or an event stream) out."""

    server: _Server

    def handle(self) -> None:
        # Named as a control thread, workers may be forked beside it (FORK_SAFE_THREADS).
        threading.current_thread().name = f"{FORK_SAFE_THREADS}-client"
        control = self.server.control
        client = object()

        def send(data: dict[str, Any]) -> None:
            self.wfile.write((json.dumps(data, default=str) + "\n").encode())
            self.wfile.flush()

        try:
            for line in self.rfile:
                try:
                    request = json.loads(line)
                except json.JSONDecodeError:
                    send(_refused("not a JSON line"))
                    continue
                if request.get("op") == "events":
                    control.stream(int(request.get("since", 0)), send)
                    return
                send(control.command(client, request))
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass  # the client went away; the run goes on
        finally:
            control.detached(client)
            with contextlib.suppress(OSError):
                self.request.close()


def _listening(path: Path) -> _Server:
    """A server that accepts connections at ``path``. It binds and listens under another
    name, then renames the socket into place: a client (the launcher's wait, ``listening_runs``)
    that finds the file may connect at once, never in the moment between bind and listen."""
    bound = path.with_name(f".{path.name}.{os.getpid()}")
    bound.unlink(missing_ok=True)
    old = os.umask(0o177)  # the socket is born 0600: nobody else may connect
    try:
        with reachable(bound) as address:
            server = _Server(address, _Handler)
    finally:
        os.umask(old)
    os.rename(bound, path)
    return server


def socket_path(run_dir: Path) -> Path:
    return run_dir / SOCKET


@contextlib.contextmanager
def reachable(path: Path) -> Iterator[str]:
    """An address for a socket at ``path``: the path, or, when it is longer than a Unix
    socket address may be (108 bytes), the same file through ``/proc/self/fd``."""
    if len(str(path).encode()) < ADDRESS_MAX:
        yield str(path)
        return
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)
