"""Helpers for driving the console with Pilot against real run processes: start a run, wait
for its steps and gates, approve them, read the screen.

The console is a client of a detached run process: a test presses keys, then
polls the console's state (never a fixed sleep) until the run reaches what
it waits for. Gates hold the run process until approved, so a test acts at a
gate at leisure; to act while a stage works, hold the run process in it
(:func:`held_in`), on a sample big enough that the stage runs for seconds
(:func:`big_sample`).
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
import psycopg
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable

from sdconsole.engine.detached.launch import OUTPUT
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import read_journal, runs_dir
from sdconsole.engine.source import sample
from sdconsole.engine.steps import Gate, Step
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.clean import CleanScreen
from sdconsole.tui.screens.cutover import CutoverModal
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.widgets.keyed_table import KeyedTable

WAIT_SECONDS = 120.0
"""How long a wait for the run process gives up after (two shared cores, a real server)."""
GATE_KEYS = {Gate.QUALITY: "enter", Gate.CLEAN: "a", Gate.CANARY: "a"}
"""The key that approves each gate on its screen (the cutover: type the schema name)."""
GATE_SCREENS = {
    Gate.QUALITY: ProfileScreen,
    Gate.CLEAN: CleanScreen,
    Gate.CANARY: CanaryScreen,
    Gate.CUTOVER: CutoverModal,
}


async def settle(pilot: Pilot, rounds: int = 200) -> None:
    """Wait until the console's own workers are done (the one following the run's events
    goes on) and the App has drawn what they posted, tables measured.

    A finished worker often starts another from its result handler, so this
    waits, lets the UI catch up, and looks again.
    """
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        running = _working(app)
        if not running:
            await pilot.pause()
            if not _working(app) and not measuring(app):
                return
            continue
        await app.workers.wait_for_complete(running)
    raise AssertionError("the console's workers never settled")


def _working(app) -> list:
    return [w for w in app.workers if not w.is_finished and w.group != "events"]


def measuring(app) -> bool:
    """Whether a table on screen has rows or cells it has not measured yet, or a KeyedTable
    has a size its columns are not yet fitted to.

    DataTable sizes its columns when it is next idle, and a KeyedTable fits
    its wide column when its Resize arrives; a screenshot taken before then
    shows them too narrow. (Private attributes of the pinned Textual and of
    KeyedTable: there is no public way to ask.)
    """
    return any(
        table._require_update_dimensions
        or table._updated_cells
        or (
            isinstance(table, KeyedTable)
            and table._layout(list(table._shown.items())) != table._widths
        )
        for table in app.screen.query(DataTable)
    )


async def press(pilot, *keys: str) -> None:
    """Press keys, then wait for what they started."""
    await pilot.press(*keys)
    await settle(pilot)


# -- the run the console follows ------------------------------------------------------


async def until(
    pilot: Pilot, condition: Callable[[], object], what: str, seconds: float = WAIT_SECONDS
) -> None:
    """Pause until ``condition()`` holds (the run process works meanwhile), then let the
    screens catch up; fail naming ``what``, with the screen and the followed run's last
    events and output, after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}\n{screen_text(pilot.app)}\n{run_tail(pilot.app)}")
        await pilot.pause(0.05)
    await settle(pilot)


def run_tail(app, events: int = 8, lines: int = 8) -> str:
    """The last events of the journal of the run ``app`` follows (else of the work dir's
    newest) and the last lines of its process's output: what a failed wait shows of the
    run that did not get there."""
    runs = sorted(runs_dir(app.settings.workdir).glob("*"))
    run_dir = app.flow.files.run_dir or (runs[-1] if runs else None)
    if run_dir is None:
        return "(no run)"
    journal = [f"{e.seq} {e.kind} {e.stage}" for e in read_journal(run_dir)[-events:]]
    output = run_dir / OUTPUT
    said = output.read_text(errors="replace").splitlines()[-lines:] if output.exists() else []
    return "\n".join(["journal:", *journal, "output:", *said])


async def start_run(pilot: Pilot) -> str:
    """From Home, n: a run process starts and the console follows it; its run id."""
    app = pilot.app
    await settle(pilot)
    assert isinstance(app.screen, HomeScreen), screen_text(app)
    await pilot.press("n")
    await until(pilot, lambda: app.flow.following, "the console follows a new run")
    return app.flow.state.run_id


class Hold:
    """Stops the run process (SIGSTOP) the moment its journal shows ``step`` working, and
    lets it go a moment at a time until the console has every event journalled: the step
    then cannot end while the test acts. See :func:`held_in`."""

    def __init__(self, pilot: Pilot, run_id: str, step: Step, *, progress: bool) -> None:
        self.pilot, self.run_id, self.step, self.progress = pilot, run_id, step, progress
        self.journal = runs_dir(pilot.app.settings.workdir) / run_id
        self.processes: list[psutil.Process] = []
        self.failure = ""
        self._caught_up, self._released = threading.Event(), threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not working_in(self.journal, self.step, progress=self.progress):
            if self._released.wait(0.01):
                return
            if time.monotonic() > deadline:
                self.failure = f"never: the run works in {self.step}"
                return
        self.processes = run_processes(self.run_id)
        self._suspend()
        while self.pilot.app.flow.state.seq < read_journal(self.journal)[-1].seq:
            if self._released.is_set():
                return
            if not working_in(self.journal, self.step, progress=self.progress):
                self.failure = f"{self.step} ended before the console had it"
                return
            self._resume()
            time.sleep(0.01)
            self._suspend()
            time.sleep(0.05)
        self._caught_up.set()

    def _suspend(self) -> None:
        for process in self.processes:
            process.suspend()

    def _resume(self) -> None:
        for process in self.processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()

    async def reached(self) -> None:
        """Until the run is held in its step and the console shows what it had."""
        await until(
            self.pilot,
            lambda: self._caught_up.is_set() or not self._watcher.is_alive(),
            f"the run held in {self.step}",
        )
        assert not self.failure, self.failure

    def release(self) -> None:
        self._released.set()
        self._watcher.join()
        self._resume()


@asynccontextmanager
async def held_in(
    pilot: Pilot, run_id: str, step: Step, *, progress: bool = True
) -> AsyncIterator[Hold]:
    """Within the block, run ``run_id`` is held in ``step`` once it works there (with
    ``progress``: once it reported progress), and goes on (SIGCONT) when the block ends.
    The block starts what leads into the step, then awaits ``hold.reached()``.

    Without the hold a step of a few seconds can end, on two shared cores, while
    the console is still drawing the events before it.
    """
    hold = Hold(pilot, run_id, step, progress=progress)
    try:
        yield hold
    finally:
        hold.release()


def working_in(journal: Path, step: Step, *, progress: bool = True) -> bool:
    """Whether the journal's last start of ``step`` (the clean starts twice: its preview,
    then the clean approved) has not ended yet and, with ``progress``, has reported
    progress."""
    events = read_journal(journal)
    starts = [i for i, e in enumerate(events) if isinstance(e, ev.StageStarted) and e.stage == step]
    if not starts:
        return False
    since = events[starts[-1] :]
    return not any(isinstance(e, ev.StageFinished) and e.stage == step for e in since) and (
        not progress or any(isinstance(e, ev.Progress) and e.stage == step for e in since)
    )


async def until_gate(pilot: Pilot, gate: Gate) -> None:
    """Until the run waits at ``gate`` and the console shows it (the cutover: its modal)."""
    app = pilot.app
    await until(
        pilot,
        lambda: app.flow.state.waits_at(gate) and isinstance(app.screen, GATE_SCREENS[gate]),
        f"the {gate} gate on screen",
    )


async def approve(pilot: Pilot, gate: Gate) -> None:
    """At ``gate``, on its screen: the key that approves it (the cutover: the schema name
    typed), then until the run has gone on from it."""
    app = pilot.app
    await until_gate(pilot, gate)
    if gate is Gate.CUTOVER:
        await type_text(pilot, app.screen.plan.to_schema)
        await pilot.press("enter")
    else:
        await pilot.press(GATE_KEYS[gate])
    await until(
        pilot,
        lambda: gate in app.flow.state.passed or not app.flow.following,
        f"the run goes on from the {gate} gate",
    )


async def until_ended(pilot: Pilot, run_id: str) -> ev.RunEnded:
    """Until the run has ended and the console has shown it (Home after a success, the
    reason in a modal otherwise); its last RunEnded in the journal (a resumed run's journal
    has one for each time it ran)."""
    app = pilot.app
    journal = runs_dir(app.settings.workdir) / run_id
    await until(
        pilot,
        lambda: not app.flow.following or app.flow.state.ended is not None,
        f"the end of run {run_id}",
    )
    return [e for e in read_journal(journal) if isinstance(e, ev.RunEnded)][-1]


async def to_profile(pilot: Pilot) -> str:
    """From Home: start a run, until it waits at the quality gate on the profile; its id."""
    run_id = await start_run(pilot)
    await until_gate(pilot, Gate.QUALITY)
    return run_id


async def to_load(pilot: Pilot) -> None:
    """From the quality gate (passed) through clean and canary to the validated load, the
    cutover's confirmation put off (esc), so the load screen shows."""
    app = pilot.app
    await approve(pilot, Gate.QUALITY)
    await until_gate(pilot, Gate.CLEAN)
    assert "a applies" in screen_text(app)
    await approve(pilot, Gate.CLEAN)
    await until_gate(pilot, Gate.CANARY)
    assert "Canary passed" in screen_text(app)
    await approve(pilot, Gate.CANARY)
    await until_gate(pilot, Gate.CUTOVER)
    await press(pilot, "escape")
    assert isinstance(app.screen, LoadScreen)
    assert "Validated" in screen_text(app)


async def cut_over(pilot: Pilot) -> str:
    """From the validated load: c, a wrong name refused, the right one cuts over; until the
    run has ended and Home shows. The new version's schema."""
    app = pilot.app
    run_id = app.flow.state.run_id
    await press(pilot, "c")
    assert isinstance(app.screen, CutoverModal)
    schema = app.screen.plan.to_schema
    await type_text(pilot, schema + "x")
    await press(pilot, "enter")
    assert isinstance(app.screen, CutoverModal), "a wrong name must not cut over"
    assert f"That is not {schema}" in screen_text(app)
    await pilot.press("backspace")
    await pilot.press("enter")
    ended = await until_ended(pilot, run_id)
    assert ended.outcome == "succeeded", ended
    await until(pilot, lambda: isinstance(app.screen, HomeScreen), "Home after the cutover")
    return schema


def big_sample(path: Path, tickets: int = 60_000) -> Path:
    """A sample whose load runs for seconds, so a test can act while it works."""
    sample.generate(path, tickets=tickets, seed=5)
    return path


def naming(run_id: str) -> list[psutil.Process]:
    """The live processes whose command line names ``run_id``: its run process and the
    workers forked from it (whose command line is the same)."""
    return [
        process
        for process in psutil.process_iter(["cmdline", "status", "ppid"])
        if run_id in (process.info["cmdline"] or [])
        and process.info["status"] != psutil.STATUS_ZOMBIE
    ]


def run_processes(run_id: str) -> list[psutil.Process]:
    """The run process of ``run_id`` (none once it has ended): not its workers, nor a
    client such as ``sdconsole wait RUN_ID`` (a run process is started ``--serve``)."""
    found = [p for p in naming(run_id) if "--serve" in (p.info["cmdline"] or [])]
    pids = {process.pid for process in found}
    return [process for process in found if process.info["ppid"] not in pids]


def until_no_run_process(run_id: str, seconds: float = 60) -> None:
    """Block until no process of ``run_id`` is left (the run ended and exited, and so did
    its workers)."""
    deadline = time.monotonic() + seconds
    while naming(run_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still has processes: {naming(run_id)}")
        time.sleep(0.05)


async def type_text(pilot: Pilot, text: str) -> None:
    """Type ``text`` into the focused Input, key by key."""
    await pilot.press(*text)


def footer_keys(app) -> dict[str, bool]:
    """Description -> enabled, for the bindings the footer of the top screen shows."""
    return {
        active.binding.description: active.enabled
        for active in app.screen.active_bindings.values()
        if active.binding.show
    }


def screen_text(app) -> str:
    """The screen as the operator sees it, as plain text (modals over their background)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def screen_words(app, widget=None) -> str:
    """The words on screen (inside ``widget``'s region if given) in reading order, borders
    and wrapping undone: for text that wraps inside a dialog or a table row."""
    lines = screen_text(app).splitlines()
    if widget is not None:
        region = widget.region
        lines = [line[region.x : region.right] for line in lines[region.y : region.bottom]]
    return " ".join(re.sub(r"[│╭╮╰╯─▊▌▎▔▁▂▃▄▅▆▇█]", " ", "\n".join(lines)).split())


def verdict(app) -> str:
    """The verdict line of the step screen on top, as plain text."""
    return app.screen.query_one("#verdict").content.plain


def toasts(app) -> str:
    """The words of the notifications on screen (run_test(notifications=True))."""
    return " ".join(screen_words(app, toast) for toast in app.screen.query("Toast"))


def notices(app) -> str:
    """What the console's toasts said, as the event log keeps it: a toast goes after five
    seconds, which a slow machine may spend between the notice and the test's look."""
    return "\n".join(line.text for line in app.event_lines.lines if line.kind == "notice")


def views_read(dsn: str, stable: str = "servicedesk") -> set[str]:
    """The schemas the views of ``stable`` select from, read from the catalog."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT DISTINCT table_schema FROM information_schema.view_table_usage"
            " WHERE view_schema = %s",
            (stable,),
        ).fetchall()
    return {r[0] for r in rows}


def schemas(dsn: str, prefix: str = "servicedesk") -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)
        ).fetchall()
    return {r[0] for r in rows}


def deployments(dsn: str) -> dict[int, str]:
    """Version -> status from sdconsole.deployments ({} before the first load)."""
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('sdconsole.deployments')").fetchone()[0]
        if exists is None:
            return {}
        return dict(
            conn.execute(
                "SELECT version, status FROM sdconsole.deployments ORDER BY version"
            ).fetchall()
        )
