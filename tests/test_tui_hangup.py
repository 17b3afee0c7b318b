"""The console goes away while a run works or waits: the run goes on, and the next client
finishes it.

Quitting asks first: leave the run going (it waits at its next gate) or
cancel it. A closed terminal (SIGHUP) or a killed console (SIGKILL) asks
nothing: the console is gone within moments, the run process goes on to its
next gate and through the load, and a new client sees every event once,
approves the cutover, and nothing of the run or its consoles is left.
The consoles of the kill tests are real processes in a pseudo-terminal.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import psutil
import pytest
from textual.clock import MockClock
from tui_pilot import (
    approve,
    big_sample,
    deployments,
    held_in,
    press,
    schemas,
    screen_words,
    settle,
    to_profile,
    until,
    until_ended,
    until_gate,
    until_no_run_process,
    views_read,
    working_in,
)

from sdconsole.engine import pipeline
from sdconsole.engine.detached.client import attach
from sdconsole.engine.detached.launch import child_environment
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import read_journal, runs_dir
from sdconsole.engine.steps import Gate, Step
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.choice import ChoiceModal
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.resume import ResumeModal

WAIT_SECONDS = 180.0


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_sample(tmp_path_factory.mktemp("big") / "servicedesk.db")


def console(settings: Settings, source: Path | None) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock())


async def quit_during_the_load(pilot) -> str:
    """From Home to a working load, ctrl+q: the question names the step. The run's id."""
    app = pilot.app
    run_id = await to_profile(pilot)
    await approve(pilot, Gate.QUALITY)
    await approve(pilot, Gate.CLEAN)
    async with held_in(pilot, run_id, Step.LOAD) as hold:
        await approve(pilot, Gate.CANARY)
        await hold.reached()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceModal)
        question = screen_words(app)
        assert f"Run {run_id} is in its load step" in question
        assert "leave the run going" in question and "cancel it at its next safe point" in question
    return run_id


async def test_quitting_during_the_load_asks_and_leaving_lets_the_next_console_cut_over(
    settings, big_db
):
    dsn = settings.target_dsn
    app = console(settings, big_db)
    async with app.run_test(size=(80, 24)) as pilot:
        run_id = await quit_during_the_load(pilot)
        await pilot.press("enter")  # leave the run going: the choice offered first
        await until(pilot, lambda: not app.is_running, "the console quits")
    run_dir = runs_dir(settings.workdir) / run_id
    wait_for(
        lambda: any(isinstance(e, ev.ClientDetached) for e in read_journal(run_dir)),
        "the console that left is journalled as detached",
    )
    assert not any(isinstance(e, ev.RunEnded) for e in read_journal(run_dir)), (
        "leaving is not a cancel"
    )

    app = console(settings, None)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(
            pilot,
            lambda: app.flow.state.run_id == run_id,
            "a new console attaches to the running run",
        )
        await until_gate(pilot, Gate.CUTOVER)
        assert views_read(dsn) == set(), "nothing cut over without a client"
        await approve(pilot, Gate.CUTOVER)
        assert (await until_ended(pilot, run_id)).outcome == "succeeded"
    until_no_run_process(run_id)
    assert views_read(dsn) == {"servicedesk_v1"}
    assert deployments(dsn) == {1: "active"}


async def test_quitting_and_cancelling_stops_the_run_and_the_next_start_can_discard(
    settings, big_db
):
    dsn = settings.target_dsn
    app = console(settings, big_db)
    async with app.run_test(size=(80, 24)) as pilot:
        run_id = await quit_during_the_load(pilot)
        await pilot.press("down", "enter")  # cancel it at its next safe point
        await until(pilot, lambda: not app.is_running, "the console quits once the cancel is sent")
    until_no_run_process(run_id)
    [ended] = [
        e for e in read_journal(runs_dir(settings.workdir) / run_id) if isinstance(e, ev.RunEnded)
    ]
    assert ended.outcome == "interrupted"
    assert deployments(dsn) == {1: "failed"}

    app = console(settings, big_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ResumeModal), "the resume offer")
        assert "stopped during load" in screen_words(app)
        await press(pilot, "d")
        await until(pilot, lambda: not pipeline.interrupted_runs(settings), "the discard")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
    assert deployments(dsn) == {1: "discarded"}
    assert "servicedesk_v1" not in schemas(dsn)


# -- real consoles in a pseudo-terminal, killed --------------------------------------

ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|.)")


class PtyConsole:
    """`python -m sdconsole --workdir W tui [SOURCE]` in an 80x24 pseudo-terminal, with
    the test's settings in its environment; its output drained and kept as text."""

    def __init__(self, settings: Settings, source: Path | None = None) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {
            **child_environment(settings),
            "TERM": "xterm-256color",
            "TEXTUAL_ANIMATIONS": "none",
        }
        argv = [sys.executable, "-m", "sdconsole", "--workdir", str(settings.workdir), "tui"]
        self.process = subprocess.Popen(
            argv + ([str(source)] if source else []),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self._output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._output += chunk

    @property
    def text(self) -> str:
        """What it wrote, escape sequences removed (runs of text stay whole)."""
        return ANSI.sub(b"", bytes(self._output)).decode(errors="replace")

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def until_shows(self, text: str) -> None:
        wait_for(lambda: text in self.text, f"the console shows {text!r}\n{self.text[-2000:]}")

    def killed(self, sig: signal.Signals) -> float:
        """Send ``sig``; the seconds until the process is gone (reaped)."""
        sent = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            os.close(self.master)
            self._reader.join(5)
        return time.monotonic() - sent


def wait_for(condition, what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.05)


def journal(run_dir: Path) -> list[ev.Event]:
    return read_journal(run_dir)


def waiting_at(run_dir: Path, gate: Gate) -> bool:
    """Whether the run's last event (a detached client aside) is its wait at ``gate``."""
    events = [e for e in journal(run_dir) if not isinstance(e, ev.ClientDetached)]
    return bool(events) and isinstance(events[-1], ev.GateAwaiting) and events[-1].gate == gate


def approve_by_key(pty_console: PtyConsole, run_dir: Path, gate: Gate, key: str) -> None:
    """At ``gate``, press its key in the console until the run goes on from it (the console
    may not have drawn the gate when the journal has it; a refused key does nothing)."""
    wait_for(lambda: waiting_at(run_dir, gate), f"the {gate} gate")
    deadline = time.monotonic() + WAIT_SECONDS
    while waiting_at(run_dir, gate):
        assert time.monotonic() < deadline, f"the {gate} gate never passed"
        pty_console.press(key)
        for _ in range(40):
            if not waiting_at(run_dir, gate):
                return
            time.sleep(0.05)


def newest_run(settings: Settings) -> Path:
    wait_for(lambda: any(runs_dir(settings.workdir).glob("*/events.jsonl")), "a run starts")
    return sorted(runs_dir(settings.workdir).iterdir())[-1]


def cut_over_as_a_new_client(settings: Settings, run_id: str) -> list[ev.Event]:
    """Attach, read every event from the first, approve the cutover when it waits: what
    the client saw, up to the run's end."""

    async def follow() -> list[ev.Event]:
        seen: list[ev.Event] = []
        async with attach(settings.workdir, run_id, client="test client") as run:
            async for event in run.events(since=0):
                seen.append(event)
                if isinstance(event, ev.GateAwaiting) and event.gate == Gate.CUTOVER:
                    await run.approve(str(Gate.CUTOVER))
        return seen

    return asyncio.run(follow())


def children() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def assert_all_gone(run_id: str, before: set[int]) -> None:
    """No new child of the test (none defunct) and no process naming the run is left."""
    until_no_run_process(run_id)
    left = [p for p in children() if p.pid not in before]
    assert left == [], f"processes left: {left}"
    assert [
        p for p in psutil.process_iter(["cmdline"]) if run_id in " ".join(p.info["cmdline"] or [])
    ] == []


def finish_and_check(settings: Settings, run_dir: Path, before: set[int]) -> None:
    """A new client cuts over; it saw the journal exactly; one active version; nothing left."""
    run_id = run_dir.name
    seen = cut_over_as_a_new_client(settings, run_id)
    kept = journal(run_dir)
    assert [e.seq for e in seen] == [e.seq for e in kept] == list(range(1, len(kept) + 1)), (
        "the client saw every event of the journal once, in order"
    )
    assert [e.kind for e in seen] == [e.kind for e in kept]
    assert isinstance(kept[-1], ev.RunEnded) and kept[-1].outcome == "succeeded"
    assert [e.stage for e in kept if isinstance(e, ev.StageFinished)].count("cutover") == 1
    assert deployments(settings.target_dsn) == {1: "active"}, "one active version"
    assert views_read(settings.target_dsn) == {"servicedesk_v1"}
    assert_all_gone(run_id, before)


@pytest.mark.slow
def test_sighup_in_the_load_and_at_the_cutover_leaves_the_run_going(settings, big_db):
    before = {p.pid for p in children()}
    first = PtyConsole(settings, big_db)
    first.until_shows("New migration")
    first.press("n")
    run_dir = newest_run(settings)
    approve_by_key(first, run_dir, Gate.QUALITY, "\r")
    approve_by_key(first, run_dir, Gate.CLEAN, "a")
    approve_by_key(first, run_dir, Gate.CANARY, "a")
    wait_for(lambda: working_in(run_dir, Step.LOAD), "the load works")
    assert first.killed(signal.SIGHUP) < 2, "a hung-up console exits at once"

    wait_for(lambda: waiting_at(run_dir, Gate.CUTOVER), "the run goes on to the cutover gate")
    events = journal(run_dir)
    finished = [e.stage for e in events if isinstance(e, ev.StageFinished)]
    assert "load" in finished and "validate" in finished, "the run went through the load"
    assert any(isinstance(e, ev.ClientDetached) for e in events), "the hang-up is journalled"
    assert not any(isinstance(e, ev.RunEnded) for e in events), "a hang-up is not a cancel"

    second = PtyConsole(settings)  # attaches to the run that waits
    second.until_shows("servicedesk_v1 and press enter")
    assert second.killed(signal.SIGHUP) < 2
    assert waiting_at(run_dir, Gate.CUTOVER), "the run still waits for its cutover"
    finish_and_check(settings, run_dir, before)


@pytest.mark.slow
def test_sigkill_in_the_profile_and_at_the_cutover_leaves_the_run_going(settings, big_db):
    before = {p.pid for p in children()}
    first = PtyConsole(settings, big_db)
    first.until_shows("New migration")
    first.press("n")
    run_dir = newest_run(settings)
    wait_for(lambda: working_in(run_dir, Step.PROFILE), "the profile works")
    first.killed(signal.SIGKILL)

    wait_for(lambda: waiting_at(run_dir, Gate.QUALITY), "the run goes on to the quality gate")
    second = PtyConsole(settings)  # attaches to the run that waits, and takes control
    approve_by_key(second, run_dir, Gate.QUALITY, "\r")
    approve_by_key(second, run_dir, Gate.CLEAN, "a")
    approve_by_key(second, run_dir, Gate.CANARY, "a")
    wait_for(lambda: waiting_at(run_dir, Gate.CUTOVER), "the run reaches the cutover gate")
    second.until_shows("servicedesk_v1 and press enter")
    second.killed(signal.SIGKILL)
    wait_for(
        lambda: any(isinstance(e, ev.ClientDetached) for e in journal(run_dir)),
        "the killed console's connection is journalled as gone",
    )
    assert waiting_at(run_dir, Gate.CUTOVER)
    finish_and_check(settings, run_dir, before)
