"""The console App: settings, themes, keys, engine workers and the event stream.

The App owns every engine worker (a worker dies with the node that started
it) and the state of the migration in progress (:class:`Flow`). Workers run
blocking engine calls in threads and only post messages; the App folds them
into the state and tells the screens to redraw. One ``Worker.StateChanged``
handler routes results to the flow and failures to an error modal.
"""

from __future__ import annotations

import asyncio
import multiprocessing.resource_tracker
import signal
import threading
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events, on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.clock import Clock
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES
from textual.worker import Worker, WorkerState

from sdconsole.engine import pipeline
from sdconsole.engine.runtime.errors import EngineError, Interrupted
from sdconsole.settings import Settings
from sdconsole.tui import keymap
from sdconsole.tui.explain import Explains, Unavailable, blocked_reason, screen_bindings
from sdconsole.tui.flow import Flow
from sdconsole.tui.log_lines import EventLines
from sdconsole.tui.messages import EngineEvent, listener_for
from sdconsole.tui.screens.base import LiveScreen
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.eventlog import EventLogScreen
from sdconsole.tui.screens.help import HelpScreen
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.resume import ResumeModal
from sdconsole.tui.themes import load_themes, resolve_theme

HANGUP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


class ConsoleApp(Explains, App[None]):
    """sdconsole's operator console."""

    CSS_PATH = "app.tcss"
    TITLE = "sdconsole"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, show=False),
        Binding("l", "event_log", "Log", id="log"),
        Binding("question_mark", "help", "Keys", id="help"),
        Binding("ctrl+r", "rollback", "Rollback", id="rollback", priority=True),
    ]

    step: reactive[str] = reactive("")
    """Breadcrumb position of the migration in progress ('' on Home)."""
    busy: reactive[str] = reactive("", bindings=True)
    """Name of the engine step running now ('' when idle)."""
    rollback_plan: reactive[Any] = reactive(None, bindings=True)
    """What ctrl+r would do to the active version (None: nothing to roll back to)."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.source: Path | None = settings.source
        self.clock = clock or Clock()
        for theme in load_themes():
            self.register_theme(theme)
        self.theme = resolve_theme(settings.theme, [*self.available_themes, *BUILTIN_THEMES])
        self.set_keymap(keymap.checked(settings.keymap))
        self.flow = Flow(self)
        self.status: Any = None
        self.status_error = ""
        self.no_rollback = ""
        """Why the target has nothing to roll back to (the engine's words), when it has not."""
        self.event_lines = EventLines()
        self.hangup = threading.Event()
        """Set when the console is going away (quit, SIGHUP, SIGTERM)."""
        self._steps_lock = threading.Lock()
        self._steps_running = 0
        self._sync_pending = False
        self.listener = listener_for(self)
        start_process_helpers()

    # -- start and stop --------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        self._install_signal_handlers()
        self.refresh_status()
        self.run_engine("interrupted", pipeline.interrupted_runs, self.settings, group="status")

    def on_unmount(self) -> None:
        """Close the migration now, or let the step still running close it when it ends."""
        self._install_signal_handlers(remove=True)
        with self._steps_lock:
            self.hangup.set()
            idle = self._steps_running == 0
        if idle:
            self.flow.close_at_exit()

    def _install_signal_handlers(self, remove: bool = False) -> None:
        """SIGHUP (the SSH session dropped) or SIGTERM: stop the stage safely, then exit."""
        try:
            loop = asyncio.get_running_loop()
            for sig in HANGUP_SIGNALS:
                if remove:
                    loop.remove_signal_handler(sig)
                else:
                    loop.add_signal_handler(sig, self.hang_up)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without signals

    def hang_up(self) -> None:
        """Leave now: cancel the running stage (it ends at its next safe point) and exit.

        The worker thread finishes the stage and closes the migration, so the
        run is recorded as interrupted and offered for resume at next start.
        """
        self.hangup.set()
        self.flow.cancel()
        self.exit(return_code=Interrupted.exit_code if self.busy else 0)

    async def action_quit(self) -> None:
        if not self.busy:
            self.exit()
            return
        question = (f"The {self.busy} step is running. Quit anyway? It stops at its next safe"
                    " point and the run can be resumed or discarded at the next start.")
        self.push_screen(ConfirmModal("Quit while a stage runs", question),
                         lambda yes: self.hang_up() if yes else None)

    # -- engine workers --------------------------------------------------------

    def run_engine(self, name: str, fn: Callable[..., Any], *args: Any,
                   group: str = "stage", **kwargs: Any) -> Worker:
        """Run a blocking engine call in a thread worker owned by the App.

        Group "stage" (migration steps, rollback) is what ``busy`` shows and what
        quitting waits for; group "status" is background reading.
        """
        work = (partial(self._step, fn, *args, **kwargs) if group == "stage"
                else partial(fn, *args, **kwargs))
        return self.run_worker(work, name=name, group=group, thread=True, exit_on_error=False)

    def _step(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Body of a migration step's worker; the last one to end after the console went
        away closes the migration (records the run as interrupted, releases the lock)."""
        with self._steps_lock:
            self._steps_running += 1
        error: BaseException | None = None
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            with self._steps_lock:
                self._steps_running -= 1
                orphaned = self.hangup.is_set() and self._steps_running == 0
            if orphaned:
                self.flow.close_after_hangup(error)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.node is not self:
            return
        if worker.group == "stage":
            running = event.state in (WorkerState.PENDING, WorkerState.RUNNING)
            self.busy = worker.name if running else ""
        if event.state == WorkerState.SUCCESS:
            self._succeeded(worker.name, worker.result)
        elif event.state == WorkerState.ERROR:
            self.flow.failed(worker.name, worker.error, of_migration=worker.group == "stage")
        self.sync_screens()

    def _succeeded(self, name: str, result: Any) -> None:
        if name == "status":
            self.status, self.rollback_plan, self.status_error, self.no_rollback = result
        elif name == "interrupted":
            if result:
                self.push_screen(ResumeModal(result[0]), partial(self.flow.resume_choice,
                                                                  result[0]))
        elif name == "rollback":
            done = (f"is back on version {result.to_version}" if result.action == "switch" else
                    "keeps its active version; dropped " + ", ".join(
                        f"v{v}" for v in result.discarded))
            self.notify(f"{self.settings.stable_schema} {done} ({result.seconds:.2f}s)",
                        title="Rolled back")
            self.refresh_status()
        else:
            self.flow.succeeded(name, result)

    def refresh_status(self) -> None:
        """Re-read the target's active version, history and what ctrl+r would do."""
        self.run_engine("status", read_status, self.settings, group="status")

    # -- engine events ---------------------------------------------------------

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        event = message.event
        for line in self.event_lines.add(event):
            for screen in self.screen_stack:
                if isinstance(screen, EventLogScreen):
                    screen.write(line)
        self.flow.state.record(event)
        self.sync_screens()

    def sync_screens(self) -> None:
        """Redraw soon: once for every burst of events already queued, not once per event."""
        if not self._sync_pending:
            self._sync_pending = True
            self.call_later(self._sync_now)

    def _sync_now(self) -> None:
        """Redraw the screen the operator sees (under any modals); others redraw on resume."""
        self._sync_pending = False
        for screen in reversed(self.screen_stack):
            if isinstance(screen, LiveScreen) and screen.is_mounted:
                screen.sync()
            if not screen.is_modal:
                break
        self.screen.refresh_bindings()

    # -- keys available everywhere --------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_event_log(self) -> None:
        if not isinstance(self.screen, EventLogScreen):
            self.push_screen(EventLogScreen())

    def why_not(self, action: str) -> Unavailable | None:
        if action == "rollback" and self.flow.rollback_offer() is None:
            return Unavailable(self.flow.no_rollback_reason(), dimmed=True)
        return None

    def on_key(self, event: events.Key) -> None:
        """A key whose action cannot run now says why in a toast, instead of nothing.

        Reads the screen's binding chain: see :mod:`sdconsole.tui.explain`.
        """
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.enabled:
            return
        blocked = blocked_reason(self.screen._modal_binding_chain, event.key)
        if blocked is not None:
            self.notify(blocked[1], title=f"{blocked[0]}: not now", severity="warning")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): every key of the screen it was opened on and of the
        App, by description; one that cannot run now says why instead."""
        ours = screen_bindings(screen)
        titles = {binding.description for _, binding, _ in ours}
        yield from (command for command in super().get_system_commands(screen)
                    if command.title not in titles)
        for node, binding, blocked in ours:
            key = f"key {self.get_key_display(binding)}"
            if blocked is None:
                yield SystemCommand(binding.description, key,
                                    partial(self.run_action, binding.action, node))
            else:
                yield SystemCommand(binding.description, f"{key} · not now: {blocked.reason}",
                                    partial(self.notify, blocked.reason, severity="warning",
                                            title=f"{binding.description}: not now"))

    def action_rollback(self) -> None:
        offer = self.flow.rollback_offer()
        if offer is None:
            return
        title, question, statements, do = offer
        self.push_screen(ConfirmModal(title, question, statements),
                         lambda yes: do() if yes else None)

    def start_rollback(self) -> None:
        """Switch the stable views back to the previous version (one transaction)."""
        self.run_engine("rollback", pipeline.rollback, self.settings,
                        listeners=[self.listener])


def start_process_helpers() -> None:
    """Start multiprocessing's resource tracker while sys.stderr is still the real one.

    The profiler scans big sources in worker processes. The tracker those
    need is started on first use with sys.stderr's file descriptor, and
    inside a running App sys.stderr is Textual's capture (fileno -1), which
    makes the first process pool fail with "bad value(s) in fds_to_keep".
    """
    multiprocessing.resource_tracker.ensure_running()


def read_status(settings: Settings) -> tuple[Any, Any, str, str]:
    """Worker body: (StatusReport, RollbackPlan or None, error line or '', why no rollback)."""
    try:
        status = pipeline.status(settings)
    except EngineError as exc:
        return None, None, str(exc), str(exc)
    try:
        return status, pipeline.plan_rollback(settings), "", ""
    except EngineError as exc:
        return status, None, "", str(exc)
