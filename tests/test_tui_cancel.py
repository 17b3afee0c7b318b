"""Stopping the run: x (or esc) while a step works, a y/n naming what is kept, then the stopped
run is offered to resume or discard.

Real run processes on a real PostgreSQL. So that the step certainly still
works when x is pressed, the sample is big enough that its profile and its
load run for seconds, and the run process is held in the step while the
question is asked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.clock import MockClock
from tui_pilot import (
    approve,
    big_sample,
    deployments,
    footer_keys,
    held_in,
    notices,
    press,
    schemas,
    screen_text,
    screen_words,
    settle,
    start_run,
    to_profile,
    until,
    until_ended,
    until_gate,
    until_no_run_process,
    verdict,
    views_read,
)

from sdconsole.engine import pipeline
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import read_journal, runs_dir
from sdconsole.engine.steps import Gate, Step
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.screens.confirm import ConfirmModal
from sdconsole.tui.screens.error import ErrorModal
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.resume import ResumeModal
from sdconsole.tui.widgets.table_progress import TableProgressRow


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_sample(tmp_path_factory.mktemp("big") / "servicedesk.db")


def console(settings: Settings, source: Path | None) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock())


def finished(settings: Settings, run_id: str) -> list[str]:
    """The stages run ``run_id`` finished, from its journal."""
    return [
        e.stage
        for e in read_journal(runs_dir(settings.workdir) / run_id)
        if isinstance(e, ev.StageFinished)
    ]


async def stop_the_load(pilot) -> str:
    """From Home to a working load, x, the question answered y: the run stopped, its end
    shown, back Home with the offer to resume or discard it. The run's id."""
    app = pilot.app
    run_id = await to_profile(pilot)
    await approve(pilot, Gate.QUALITY)
    await approve(pilot, Gate.CLEAN)
    async with held_in(pilot, run_id, Step.LOAD) as hold:
        await approve(pilot, Gate.CANARY)
        await hold.reached()
        assert isinstance(app.screen, LoadScreen)
        assert footer_keys(app).get("Stop run") is True
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        question = screen_words(app)
        assert f"Stop run {run_id} (load) at its next safe point?" in question
        assert "Kept: the cleaned working copy; servicedesk on its active version" in question
        assert "Discarded: the rows loaded so far into the new version" in question
        await pilot.press("y")  # answered once the run goes on
    await settle(pilot)
    assert "Cancel sent: The run stops at its next safe point" in notices(app)
    if app.flow.state.ended is None:
        assert "Stopping run" in verdict(app)
        rows = list(app.screen.query(TableProgressRow))
        assert any(row.has_class("-stopped") for row in rows), "no ETA that never comes"
    ended = await until_ended(pilot, run_id)
    assert ended.outcome == "interrupted" and ended.exit_code == 10
    assert "load" not in finished(app.settings, run_id), "the load was stopped half-way"
    await until(pilot, lambda: isinstance(app.screen, ErrorModal), "how the run ended")
    assert "load interrupted" in screen_text(app)
    await press(pilot, "escape")
    await until(pilot, lambda: isinstance(app.screen, ResumeModal), "the offer to resume")
    assert "stopped during load" in screen_words(app)
    assert views_read(app.settings.target_dsn) == set(), "nothing was cut over"
    return run_id


async def test_x_stops_the_load_and_resuming_loads_it_again(settings, big_db):
    dsn = settings.target_dsn
    app = console(settings, big_db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        run_id = await stop_the_load(pilot)
        assert deployments(dsn) == {1: "failed"}

        await press(pilot, "r")
        await until(pilot, lambda: app.flow.following, "the console follows the resumed run")
        assert app.flow.state.run_id == run_id, "a resume goes on with the same run"
        await approve(pilot, Gate.CANARY)  # asked again: nothing of the load was kept
        await until_gate(pilot, Gate.CUTOVER)
        assert finished(settings, run_id).count("load") == 1, "loaded again, once"
        assert not any(
            row.has_class("-stopped") for row in app.screen_stack[-2].query(TableProgressRow)
        )
        await approve(pilot, Gate.CUTOVER)
        assert (await until_ended(pilot, run_id)).outcome == "succeeded"
    until_no_run_process(run_id)
    assert views_read(dsn) == {"servicedesk_v1"}
    assert deployments(dsn) == {1: "active"}
    assert pipeline.interrupted_runs(settings) == []


async def test_discarding_after_a_stop_is_final(settings, big_db):
    dsn = settings.target_dsn
    app = console(settings, big_db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        run_id = await stop_the_load(pilot)
        await press(pilot, "d")
        await until(pilot, lambda: not pipeline.interrupted_runs(settings), "the discard")
        assert isinstance(app.screen, HomeScreen)
    until_no_run_process(run_id)
    assert deployments(dsn) == {1: "discarded"}
    assert "servicedesk_v1" not in schemas(dsn)
    assert pipeline.interrupted_runs(settings) == [], "a discard is final"

    app = console(settings, big_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen), "nothing is offered for resume"


async def test_no_stop_offered_on_home_and_n_keeps_the_step_working(settings, big_db):
    app = console(settings, big_db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        assert "Stop run" not in footer_keys(app), "nothing runs: no stop key"
        await press(pilot, "x")
        assert isinstance(app.screen, HomeScreen), "x on Home stops nothing"
        run_id = await start_run(pilot)
        async with held_in(pilot, run_id, Step.PROFILE) as hold:
            await hold.reached()
            await pilot.press("x")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmModal)
            assert "(profile)" in screen_words(app)
            assert "Discarded: the profile so far" in screen_words(app)
            await pilot.press("n")
        await settle(pilot)
        await until_gate(pilot, Gate.QUALITY)
        assert "profile" in finished(settings, run_id), "n let the profile finish"
        assert "passed" in screen_text(app)
        assert not app.flow.state.cancelling
        await press(pilot, "escape", "y")
        assert (await until_ended(pilot, run_id)).outcome == "interrupted"
    until_no_run_process(run_id)
