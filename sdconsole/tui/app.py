"""The console App: a client of a detached run process, and the keys available everywhere.

Starting a migration starts a run process (:mod:`sdconsole.engine.detached.launch`)
that waits at every gate; the App attaches to it (or, at start, to one
already running) and follows its events in an async worker, replayed from
the first, so a console attached late shows what one there from the start
shows. Each event goes through the :class:`~sdconsole.tui.flow.Flow`, which
says which screen to show; screens post requests, which the flow turns into
commands for the run, each answered (a refusal is a toast with the run's
reason). Quitting, a closed terminal or a killed console leave the run
going: it waits at its next gate for the next client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.clock import Clock
from textual.content import Content
from textual.notifications import Notify
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES
from textual.worker import Worker, WorkerState

from sdconsole.engine import pipeline
from sdconsole.engine.detached import launch
from sdconsole.engine.detached.client import (
    AttachedRun,
    CommandRefused,
    RunLost,
    attach,
    client_name,
)
from sdconsole.engine.detached.runs import listening_runs
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.errors import EngineError
from sdconsole.engine.runtime.run import one_line, read_record, runs_dir
from sdconsole.engine.steps import DEFAULT_MODE, Gate, Step
from sdconsole.settings import Settings
from sdconsole.tui import keymap
from sdconsole.tui.explain import Explains, Unavailable, blocked_reason, screen_bindings
from sdconsole.tui.flow import Command, Flow, Notice, View
from sdconsole.tui.log_lines import EventLines, LogLine
from sdconsole.tui.messages import Request, RunEvent, StartRun, run_event
from sdconsole.tui.screens.base import FlowScreen, LiveScreen
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.choice import ChoiceModal
from sdconsole.tui.screens.clean import CleanScreen
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.cutover import CutoverModal
from sdconsole.tui.screens.error import ErrorModal
from sdconsole.tui.screens.eventlog import EventLogScreen
from sdconsole.tui.screens.help import HelpScreen
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.preflight import PreflightScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.screens.resume import ResumeModal
from sdconsole.tui.themes import load_themes, resolve_theme

HANGUP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
HANGUP_SECONDS = 1.5  # a hung-up console is gone within 2 s, even if its exit is stuck
HANGUP_EXIT = 10  # as an interrupted command: the run goes on without this client
ENDING_SECONDS = 10
"""How long a run process may take to exit after its last event."""
SCREENS: dict[Step, type[FlowScreen]] = {
    Step.PREFLIGHT: PreflightScreen,
    Step.PROFILE: ProfileScreen,
    Step.CLEAN: CleanScreen,
    Step.CANARY: CanaryScreen,
    Step.LOAD: LoadScreen,
}
LEAVE, CANCEL, STAY = ("leave the run going", "cancel it at its next safe point", "stay")


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

    rollback_plan: reactive[Any] = reactive(None, bindings=True)
    """What ctrl+r would do to the active version (None: nothing to roll back to)."""
    rolling_back: reactive[bool] = reactive(False, bindings=True)

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        run_id: str | None = None,
        watch: bool = False,
        mode: str = DEFAULT_MODE,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.source: Path | None = settings.source
        self.migration_mode = mode
        """What a migration started here does (m on Home changes it)."""
        self.clock = clock or Clock()
        for theme in load_themes():
            self.register_theme(theme)
        self.theme = resolve_theme(settings.theme, [*self.available_themes, *BUILTIN_THEMES])
        self.set_keymap(keymap.checked(settings.keymap))
        self.flow = Flow(watch=watch)
        self.attach_to = run_id
        """The run to attach to at start (None: the newest running one, if any)."""
        self.client: AttachedRun | None = None
        self.status: Any = None
        self.status_error = ""
        self.no_rollback = ""
        """Why the target has nothing to roll back to (the engine's words), when it has not."""
        self.event_lines = EventLines()
        self._sync_pending = False
        self._cutover_put_off: tuple[str, int] | None = None
        """The cutover gate (run id, event seq) whose modal esc closed: seqs repeat across runs."""
        self._end_shown = ""  # the run whose end the operator was shown
        self._commands: asyncio.Lock | None = None

    @property
    def busy(self) -> str:
        """The stage the followed run works on now ('' while it waits, or none runs)."""
        return "rollback" if self.rolling_back else self.flow.state.running

    # -- start and stop --------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        self._install_signal_handlers()
        self.refresh_status()
        self.run_worker(
            partial(runs_at_start, self.settings, self.attach_to),
            name="runs",
            group="status",
            thread=True,
            exit_on_error=False,
        )

    def on_unmount(self) -> None:
        self._install_signal_handlers(remove=True)

    def _install_signal_handlers(self, remove: bool = False) -> None:
        """SIGHUP (the SSH session dropped) or SIGTERM: leave at once; the run goes on."""
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
        """The terminal went away: exit now. The run process is not told anything but that
        this client detached (its connection closes): it goes on to its next gate.

        Textual's own exit restores the terminal first, and a terminal that is gone (the
        SSH session or tmux pane closed) can block that for good; so the process ends on
        its own after ``HANGUP_SECONDS`` whatever the exit is doing. Nothing of the run is
        in this process to lose."""
        if not self.is_headless:  # a real terminal (under a test, the process is not ours)
            watchdog = threading.Timer(HANGUP_SECONDS, os._exit, args=(HANGUP_EXIT,))
            watchdog.daemon = True  # a clean exit does not wait for it
            watchdog.start()
        self.exit()

    async def action_quit(self) -> None:
        state = self.flow.state
        if not self.flow.following or state.ended is not None or self.flow.watch:
            self.exit()
            return
        where = (
            f"waits at the {state.waiting.gate} gate"
            if state.waiting is not None
            else f"is in its {state.running} step"
        )
        self.push_screen(
            ChoiceModal(
                "Quit the console",
                f"Run {state.run_id} {where}. Leave it going (it waits at"
                " its next gate; `sdconsole attach` comes back to it),"
                " cancel it, or stay?",
                [LEAVE, CANCEL, STAY],
                default=LEAVE,
            ),
            self._quit_choice,
        )

    def _quit_choice(self, choice: str | None) -> None:
        if choice == LEAVE:
            self.exit()
        elif choice == CANCEL:
            command = self.flow.command("cancel")
            if isinstance(command, Command):
                self.send(command, then_exit=True)
            else:
                self.exit()

    # -- the run: start, attach, follow ------------------------------------------

    @on(StartRun)
    def _start_run(self) -> None:
        if self.flow.following:
            self.notify(f"run {self.flow.state.run_id} is followed already", severity="warning")
            return
        if self.source is None:
            return
        self.run_worker(
            partial(launch.start, self.settings, self.source, mode=self.migration_mode),
            name="start",
            group="start",
            thread=True,
            exit_on_error=False,
        )

    def follow(self, run_id: str, run_dir: Path, mode: str) -> None:
        """Show run ``run_id`` and follow its events (all of them, replayed, then live)."""
        self.flow.follow(run_id, run_dir, mode)
        self.event_lines = EventLines()
        self._follow_events(run_id)
        self.sync_screens()

    @work(group="events", exclusive=True, exit_on_error=False)
    async def _follow_events(self, run_id: str) -> None:
        what = "watching console" if self.flow.watch else "console"
        name = client_name(what, self.settings.operator)
        async with attach(self.settings.workdir, run_id, client=name) as run:
            self.client = run
            try:
                async for event in run.events(since=self.flow.state.seq):
                    self.post_message(run_event(event))
            finally:
                self.client = None

    @on(RunEvent)
    def _run_event(self, message: RunEvent) -> None:
        event = message.event
        if event.run_id and event.run_id != self.flow.state.run_id:
            return  # a run left behind
        fresh = event.seq > self.flow.state.seq
        notice = self.flow.record(event)
        if fresh:
            self.log_event(event)
        self.tell(notice)
        self.sync_screens()

    def log_event(self, event: ev.Event) -> None:
        """Add ``event``'s lines to the event log (and to a log screen that is open)."""
        self._write_log(self.event_lines.add(event))

    @on(Notify)
    def _keep_notice(self, message: Notify) -> None:
        """Every toast also goes to the event log, where an operator who looked away reads it."""
        shown = message.notification
        text = Content.from_markup(shown.message).plain if shown.markup else shown.message
        self._write_log([self.event_lines.notice(shown.title, text, time.time())])

    def _write_log(self, lines: list[LogLine]) -> None:
        for line in lines:
            for screen in self.screen_stack:
                if isinstance(screen, EventLogScreen):
                    screen.write(line)

    def _log_from_thread(self, event: ev.Event) -> None:
        """A listener for engine calls in a worker thread (the rollback): their events go to
        the log as a run's do."""
        with contextlib.suppress(RuntimeError):  # the App has stopped
            self.call_from_thread(self.log_event, event)

    @on(Request)
    def _request(self, message: Request) -> None:
        command = self.flow.command(message.op, **message.args)
        if isinstance(command, str):
            self.notify(command, title="Not sent", severity="warning")
        else:
            self.send(command)

    @work(group="command", exit_on_error=False)
    async def send(self, command: Command, then_exit: bool = False) -> None:
        """Send one command to the run; its answer goes through the flow (a refusal: a toast)."""
        if self._commands is None:
            self._commands = asyncio.Lock()
        refusal = None
        async with self._commands:
            client = self.client
            try:
                if client is None:
                    raise CommandRefused("the console is not connected to the run")
                await getattr(client, command.op)(**command.args)
            except CommandRefused as exc:
                refusal = str(exc)
        self.tell(self.flow.answered(command, refusal))
        self.sync_screens()
        if then_exit:
            self.exit()

    def tell(self, notice: Notice | None) -> None:
        if notice is not None:
            self.notify(notice.text, title=notice.title, severity=notice.severity)  # type: ignore[arg-type]

    # -- workers --------------------------------------------------------------------

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.node is not self:
            return
        if event.state == WorkerState.SUCCESS:
            self._succeeded(worker.name, worker.result)
        elif event.state == WorkerState.ERROR:
            self._failed(worker, worker.error)
        self.sync_screens()

    def _succeeded(self, name: str, result: Any) -> None:
        if name == "status":
            self.status, self.rollback_plan, self.status_error, self.no_rollback = result
        elif name == "runs":
            running, interrupted = result
            if running is not None:
                self.follow(*running)
            else:
                self.offer_resume(interrupted)
        elif name == "interrupted":
            self.offer_resume(result)
        elif name == "start":
            self.follow(result.run_id, result.run_dir, result.mode)
        elif name == "rollback":
            self.rolling_back = False
            done = (
                f"is back on version {result.to_version}"
                if result.action == "switch"
                else "keeps its active version; dropped "
                + ", ".join(f"v{v}" for v in result.discarded)
            )
            self.notify(
                f"{self.settings.stable_schema} {done} ({result.seconds:.2f}s)", title="Rolled back"
            )
            self.refresh_status()
        elif name == "discard_interrupted":
            self.notify("The interrupted run was discarded.", title="Discarded")
            self.refresh_status()

    def _failed(self, worker: Worker, error: BaseException | None) -> None:
        """One place for what failed in the console: a modal with the message."""
        if worker.name == "rollback":
            self.rolling_back = False
        if worker.group == "events" and self.flow.state.ended is not None:
            return  # the run ended as we read it: its end is shown already
        message = one_line(error) if error is not None else "unknown error"
        hint = (
            "ctrl+r rolls the active version back if it is what went wrong."
            if worker.name == "rollback" or self.rollback_plan is not None
            else ""
        )
        if isinstance(error, RunLost):  # killed: Home then offers to resume or discard it
            run_id = self.flow.state.run_id
            self.push_screen(
                ErrorModal(
                    str(self.flow.state.stage or "run"),
                    message,
                    outcome="interrupted",
                    hint="esc goes Home, which offers to resume or discard it.",
                ),
                lambda _: self._back_home(run_id),
            )
        else:
            self.push_screen(ErrorModal(worker.name or "console", message, hint=hint))
        if worker.group == "events":
            self.flow.leave()

    def offer_resume(self, interrupted: list[Any]) -> None:
        """Resume or discard the newest interrupted run, if there is one."""
        if interrupted:
            self.push_screen(
                ResumeModal(interrupted[0]), partial(self._interrupted_choice, interrupted[0])
            )

    def _interrupted_choice(self, run: Any, choice: str | None) -> None:
        if choice == "resume":  # a run process of its own, as a new migration is
            self.run_worker(
                partial(launch.resume, self.settings, run.run_id),
                name="start",
                group="start",
                thread=True,
                exit_on_error=False,
            )
        elif choice == "discard":
            self.run_worker(
                partial(pipeline.discard_interrupted, self.settings, run.run_id),
                name="discard_interrupted",
                group="status",
                thread=True,
                exit_on_error=False,
            )

    def refresh_status(self) -> None:
        """Re-read the target's active version, history and what ctrl+r would do."""
        self.run_worker(
            partial(read_status, self.settings),
            name="status",
            group="status",
            thread=True,
            exit_on_error=False,
        )

    # -- what the operator sees ------------------------------------------------------

    def sync_screens(self) -> None:
        """Redraw soon: once for every burst of events already queued, not once per event."""
        if not self._sync_pending:
            self._sync_pending = True
            self.call_later(self._sync_now)

    def _sync_now(self) -> None:
        """Show the screen the flow asks for, then redraw the one the operator sees (under any
        modals); others redraw when they are shown again."""
        self._sync_pending = False
        self._show(self.flow.view())
        for screen in reversed(self.screen_stack):
            if isinstance(screen, LiveScreen) and screen.is_mounted:
                screen.sync()
            if not screen.is_modal:
                break
        self.screen.refresh_bindings()

    def _show(self, view: View) -> None:
        """Bring the screen stack to ``view``, unless the operator has a screen of their own
        open (the log, help, a detail, a question): that one stays until it is closed."""
        top = self.screen
        if not isinstance(top, (HomeScreen, FlowScreen, CutoverModal)):
            return
        if view.ended is not None and self._end_shown != self.flow.state.run_id:
            self._end_shown = self.flow.state.run_id
            self._ended(view)
            return
        wanted = SCREENS[view.screen] if view.screen is not None else HomeScreen
        if isinstance(top, CutoverModal) and view.cutover is None:
            top.dismiss(False)  # the run went on, or ended, without this console
            return
        if isinstance(top, CutoverModal):
            return
        if type(top) is not wanted:
            while len(self.screen_stack) > 2:
                self.pop_screen()
            if wanted is not HomeScreen:
                self.push_screen(wanted())
        gate = self.flow.state.waiting
        if view.cutover is None or gate is None:
            return
        this_gate = (self.flow.state.run_id, gate.seq)
        if this_gate != self._cutover_put_off:
            self.push_screen(CutoverModal(view.cutover), partial(self._cutover_answer, this_gate))

    def _cutover_answer(self, this_gate: tuple[str, int], confirmed: bool | None) -> None:
        if confirmed:
            self.post_message(Request("approve", gate=Gate.CUTOVER))
        else:
            self._cutover_put_off = this_gate

    def offer_cutover(self) -> None:
        """c on the load screen: the confirmation again, after esc closed it."""
        self._cutover_put_off = None
        self.sync_screens()

    def _ended(self, view: View) -> None:
        """The run is over: back Home after success, else the reason first."""
        ended = view.ended
        assert ended is not None
        if ended.outcome == "succeeded":
            self._back_home()
            return
        stage = self.flow.state.stage or "run"
        readable = isinstance(self.screen, FlowScreen)
        self.push_screen(
            ErrorModal(
                str(stage),
                ended.error or ended.outcome,
                outcome=ended.outcome,
                hint="The run has ended; esc goes back to Home.",
                readable=readable,
            ),
            lambda answer: None if answer == "read" else self.leave_ended_run(),
        )

    def leave_ended_run(self) -> None:
        """Home, from a run that ended badly: with the offer to resume or discard it."""
        self._back_home(self.flow.state.run_id)

    def _back_home(self, interrupted: str = "") -> None:
        """Home; after run ``interrupted`` ended badly, the offer to resume or discard it."""
        self.flow.leave()
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.refresh_status()
        if interrupted:
            self.run_worker(
                partial(interrupted_after, self.settings, interrupted),
                name="interrupted",
                group="status",
                thread=True,
                exit_on_error=False,
            )

    # -- keys available everywhere --------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_event_log(self) -> None:
        if not isinstance(self.screen, EventLogScreen):
            self.push_screen(EventLogScreen())

    def why_not(self, action: str) -> Unavailable | None:
        if action == "rollback" and self.rollback_offer() is None:
            return Unavailable(self.no_rollback_reason(), dimmed=True)
        return None

    def on_key(self, event: events.Key) -> None:
        """A key whose action cannot run now says why in a toast, instead of nothing.

        Reads the screen's binding chain: see :mod:`sdconsole.tui.explain`.
        """
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.enabled:
            return
        blocked = blocked_reason(self.screen, event.key)
        if blocked is not None:
            self.notify(blocked[1], title=f"{blocked[0]}: not now", severity="warning")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): every key of the screen it was opened on and of the
        App, by description; one that cannot run now says why instead."""
        ours = screen_bindings(screen)
        titles = {binding.description for _, binding, _ in ours}
        yield from (
            command
            for command in super().get_system_commands(screen)
            if command.title not in titles
        )
        for node, binding, blocked in ours:
            key = f"key {self.get_key_display(binding)}"
            if blocked is None:
                yield SystemCommand(
                    binding.description, key, partial(self.run_action, binding.action, node)
                )
            else:
                yield SystemCommand(
                    binding.description,
                    f"{key} · not now: {blocked.reason}",
                    partial(
                        self.notify,
                        blocked.reason,
                        severity="warning",
                        title=f"{binding.description}: not now",
                    ),
                )

    # -- rollback, outside a run -----------------------------------------------------

    def no_rollback_reason(self) -> str:
        """Why ctrl+r offers nothing now."""
        if self.rolling_back:
            return "the rollback is running"
        if self.flow.following:
            return (
                f"run {self.flow.state.run_id} is in progress: esc stops it (the run"
                " keeps its version until it is resumed or discarded)"
            )
        return self.no_rollback or "the target is still being read"

    def rollback_offer(self) -> tuple[str, str, str] | None:
        """What ctrl+r does now: (title, question, statements), or None."""
        plan = self.rollback_plan
        if self.rolling_back or self.flow.following or plan is None:
            return None
        stable = self.settings.stable_schema
        if plan.action == "switch":
            question = (
                f"Roll {stable} back from version {plan.from_version} to version"
                f" {plan.to_version} ({plan.to_schema})?"
            )
        else:
            question = f"Roll back: {plan.summary}?"
        return "Roll back", question, "\n".join(plan.statements)

    def action_rollback(self) -> None:
        offer = self.rollback_offer()
        if offer is not None:
            self.push_screen(
                ConfirmModal(*offer), lambda yes: self.start_rollback() if yes else None
            )

    def start_rollback(self) -> None:
        """Switch the stable views back to the previous version (one transaction, in this
        process: a rollback is one engine call, not a run with gates)."""
        self.rolling_back = True
        self.run_worker(
            partial(pipeline.rollback, self.settings, listeners=[self._log_from_thread]),
            name="rollback",
            group="rollback",
            thread=True,
            exit_on_error=False,
        )


def runs_at_start(
    settings: Settings, run_id: str | None
) -> tuple[tuple[str, Path, str] | None, list[Any]]:
    """Worker body: the run to attach to ((run id, run dir, mode): ``run_id``, or the newest
    run process listening in the work dir), and the interrupted runs the target knows."""
    runs = runs_dir(settings.workdir)
    if run_id is not None:
        if not (runs / run_id).is_dir():
            raise EngineError(f"no run {run_id} in {runs}")
        return (run_id, runs / run_id, read_record(runs / run_id).get("mode", DEFAULT_MODE)), []
    listening = listening_runs(settings.workdir)
    if listening:
        newest = listening[0]
        return (newest.name, newest, read_record(newest).get("mode", DEFAULT_MODE)), []
    return None, interrupted_runs(settings)


def interrupted_runs(settings: Settings) -> list[Any]:
    """The interrupted runs the target knows, newest first ([] when it cannot be read)."""
    try:
        return pipeline.interrupted_runs(settings)
    except EngineError:
        return []


def interrupted_after(settings: Settings, run_id: str) -> list[Any]:
    """Worker body: the interrupted runs once ``run_id``, which just ended badly, is among
    them: its process lets go of the run lock just after its last event, and a locked run
    counts as running. What there is after ENDING_SECONDS otherwise."""
    deadline = time.monotonic() + ENDING_SECONDS
    while True:
        found = interrupted_runs(settings)
        if any(run.run_id == run_id for run in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


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
