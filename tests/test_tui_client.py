"""The console as a client of a detached run: the flow on its own, then real run processes.

The flow (events in, the screen and commands out) is tested without an App
or a database. The console tests start real run processes on a real
PostgreSQL, close the console while the run waits for the cutover, attach a
new one (and a watching one) and check what the run's journal holds.
"""

from __future__ import annotations

import asyncio

from textual.clock import MockClock
from tui_pilot import (
    deployments,
    press,
    run_processes,
    screen_words,
    to_profile,
    until,
    until_ended,
    views_read,
)

from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import read_journal
from sdconsole.engine.steps import Gate, Step
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.flow import Command, Flow
from sdconsole.tui.screens.cutover import CutoverModal
from sdconsole.tui.screens.error import ErrorModal
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.screens.resume import ResumeModal
from sdconsole.tui.widgets.keyed_table import KeyedTable


def numbered(*events: ev.Event) -> list[ev.Event]:
    return [type(e)(**{**vars(e), "seq": i, "run_id": "r1"}) for i, e in enumerate(events, 1)]


RUN = numbered(
    ev.StageStarted(stage="preflight"),
    ev.StageFinished(stage="preflight"),
    ev.StageStarted(stage="profile"),
    ev.StageFinished(stage="profile"),
    ev.GateReached(stage="gate", gate="quality", passed=True, summary="94 >= 80"),
    ev.GateAwaiting(stage="gate", gate="quality", summary="94 >= 80"),
    ev.GateApproved(stage="gate", gate="quality", by="console of ops (pid 1 on h)"),
    ev.StageStarted(stage="clean", detail="x (preview)"),
    ev.GateAwaiting(stage="gate", gate="clean", summary="cleaning would change 9 cells"),
    ev.GateApproved(stage="gate", gate="clean", by="console of ops (pid 1 on h)"),
    ev.StageStarted(stage="clean"),
    ev.StageStarted(stage="load"),
    ev.ClientDetached(stage="run", client="console of ops (pid 1 on h)"),
)


def following(mode: str = "complete", watch: bool = False) -> Flow:
    flow = Flow(watch=watch)
    flow.follow("r1", None, mode)  # type: ignore[arg-type]
    return flow


def test_the_flow_shows_the_screen_of_each_step_and_gate() -> None:
    flow = following()
    screens = []
    for event in RUN:
        flow.record(event)
        screens.append(flow.view().screen)
    assert screens == [
        Step.PREFLIGHT,
        Step.PREFLIGHT,
        Step.PROFILE,
        Step.PROFILE,
        Step.PROFILE,
        Step.PROFILE,
        Step.PROFILE,
        Step.CLEAN,
        Step.CLEAN,
        Step.CANARY,  # approved: the clean runs under the canary's screen
        Step.CANARY,
        Step.LOAD,
        Step.LOAD,
    ]
    assert flow.state.passed == {"quality", "clean"}
    assert flow.state.position is Step.LOAD


def test_a_simple_run_has_no_canary_and_its_clean_runs_under_the_load() -> None:
    flow = following("simple")
    for event in RUN[:11]:
        flow.record(event)
    assert flow.view().screen is Step.LOAD
    assert Step.CANARY not in flow.state.steps
    assert flow.state.steps == [Step.PREFLIGHT, Step.PROFILE, Step.CLEAN, Step.LOAD, Step.CUTOVER]


def test_a_replayed_event_is_folded_once() -> None:
    flow = following()
    for event in RUN[:4] + RUN[:4]:
        flow.record(event)
    assert flow.state.seq == 4 and flow.state.finished == {"preflight", "profile"}


def test_requests_become_commands_only_where_the_run_takes_them() -> None:
    flow = following()
    for event in RUN[:6]:
        flow.record(event)
    assert flow.command("approve", gate=Gate.QUALITY) == Command("approve", {"gate": "quality"})
    assert "waits at the quality gate, not clean" in flow.command("approve", gate=Gate.CLEAN)
    assert "nothing to override" in flow.command("override", reason="ok")
    assert flow.command("set_column", table="t", column="c", type="text") == Command(
        "set_column", {"table": "t", "column": "c", "type": "text"}
    )
    for event in RUN[6:8]:  # approved, and the preview started
        flow.record(event)
    assert "preview is running" in flow.command("approve", gate=Gate.CLEAN)
    assert flow.command("cancel") == Command("cancel")
    assert flow.answered(Command("cancel"), None).title == "Cancel sent"
    assert "sent already" in flow.command("cancel")
    refused = flow.answered(Command("approve"), "run r1: the run is not waiting at a gate")
    assert refused.severity == "error" and "not waiting" in refused.text


def test_a_refused_gate_needs_a_reason_and_a_watching_console_sends_nothing() -> None:
    flow = following()
    for event in numbered(
        ev.StageStarted(stage="profile"),
        ev.GateAwaiting(stage="gate", gate="quality", summary="60 < 80", needs_reason=True),
    ):
        flow.record(event)
    assert "o overrides it with a reason" in flow.command("approve", gate=Gate.QUALITY)
    assert flow.command("override", reason="known dirt").op == "override"
    watcher = following(watch=True)
    assert "only watches run r1" in watcher.command("cancel")


def column_changed(passed: bool) -> ev.ColumnOverridden:
    return ev.ColumnOverridden(
        stage="profile",
        table="t",
        column="c",
        type="date",
        date_order="month-first",
        invalid=9,
        score=90 if passed else 40,
        passed=passed,
    )


def test_a_column_changed_at_the_quality_gate_decides_what_the_gate_takes() -> None:
    passed = following()
    for event in numbered(
        ev.GateReached(stage="gate", gate="quality", passed=True, summary="94 >= 80"),
        ev.GateAwaiting(stage="gate", gate="quality", summary="94 >= 80"),
        column_changed(passed=False),
    ):
        passed.record(event)
    assert passed.state.waits_at(Gate.QUALITY), "a change is no decision"
    assert Gate.QUALITY not in passed.state.passed
    assert "o overrides it with a reason" in passed.command("approve", gate=Gate.QUALITY)
    assert passed.command("override", reason="month-first is right").op == "override"

    refused = following()
    for event in numbered(
        ev.GateReached(stage="gate", gate="quality", passed=False, summary="60 < 80"),
        ev.GateAwaiting(stage="gate", gate="quality", summary="60 < 80", needs_reason=True),
        column_changed(passed=True),
    ):
        refused.record(event)
    assert refused.state.quality_passes()
    assert refused.command("approve", gate=Gate.QUALITY) == Command(
        "approve", {"gate": "quality"}
    ), "the run waits on the new verdict"
    assert "nothing to override" in refused.command("override", reason="fixed by the change")


def test_a_client_that_detaches_is_said_and_the_run_goes_on() -> None:
    flow = following()
    notices = [flow.record(event) for event in RUN]
    assert notices[-1] is not None and "detached; the run goes on" in notices[-1].text
    assert flow.state.ended is None and not flow.state.cancelling


# -- real run processes -------------------------------------------------------------


def console(settings: Settings, source=None, **kwargs) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock(), **kwargs)


async def test_a_closed_console_leaves_the_run_waiting_and_the_next_one_cuts_over(
    settings: Settings, sample_db
) -> None:
    first = console(settings, sample_db)
    async with first.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: first.flow.state.waits_at(Gate.QUALITY), "the quality gate")
        run_id = first.flow.state.run_id
        await pilot.press("enter")
        await until(pilot, lambda: first.flow.state.waits_at(Gate.CLEAN), "the clean gate")
        await pilot.press("a")
        await until(pilot, lambda: first.flow.state.waits_at(Gate.CANARY), "the canary gate")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(first.screen, CutoverModal), "the cutover modal")
        first.hang_up()  # what SIGHUP does: leave at once
    [process] = run_processes(run_id)
    run_dir = settings.workdir / "runs" / run_id

    async def detached() -> None:
        for _ in range(200):
            if any(isinstance(e, ev.ClientDetached) for e in read_journal(run_dir)):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("no ClientDetached journalled")

    await detached()
    assert views_read(settings.target_dsn) == set(), "nothing cut over without a client"

    second, watcher = console(settings, run_id=run_id), console(settings, watch=True)
    async with watcher.run_test(size=(80, 24), notifications=True) as watching:
        await until(
            watching,
            lambda: isinstance(watcher.screen, CutoverModal),
            "the watcher's cutover modal",
        )
        async with second.run_test(size=(80, 24), notifications=True) as pilot:
            await until(
                pilot,
                lambda: isinstance(second.screen, CutoverModal),
                "the cutover modal, rebuilt from the replay",
            )
            plan = second.screen.plan
            assert plan.to_schema == "servicedesk_v1" and plan.from_version is None
            assert second.screen_stack[-2].__class__ is LoadScreen
            journal = read_journal(run_dir)
            assert second.flow.state.seq == journal[-1].seq
            await watching.press(*plan.to_schema, "enter")
            await until(
                watching,
                lambda: any("only watches" in n.message for n in watcher._notifications),
                "the watcher's refusal",
            )
            await pilot.press(*plan.to_schema, "enter")
            await until(
                pilot,
                lambda: isinstance(second.screen, HomeScreen) and not second.flow.following,
                "the cutover and Home",
            )
        await until(watching, lambda: not watcher.flow.following, "the watcher sees the end")
    process.wait(60)
    assert views_read(settings.target_dsn) == {"servicedesk_v1"}
    assert deployments(settings.target_dsn) == {1: "active"}
    journal = read_journal(run_dir)
    kinds = [e.kind for e in journal]
    assert kinds.count("ClientDetached") >= 1 and kinds[-1] == "RunEnded"
    assert [e.stage for e in journal if isinstance(e, ev.StageFinished)].count("cutover") == 1
    assert [e.seq for e in journal] == list(range(1, len(journal) + 1))
    assert journal[-1].outcome == "succeeded", "a hang-up is not a cancel"
    assert run_processes(run_id) == []


async def test_a_watcher_redraws_the_column_the_operator_overrides(settings: Settings, sample_db):
    operator = console(settings, sample_db)
    async with operator.run_test(size=(120, 40)) as pilot:
        run_id = await to_profile(pilot)
        watcher = console(settings, watch=True)
        async with watcher.run_test(size=(120, 40)) as watching:
            await until(
                watching,
                lambda: isinstance(watcher.screen, ProfileScreen),
                "the watcher on the profile",
            )
            key = "tickets.TKT-Closure Date"
            mine = operator.screen.query_one("#column-table", KeyedTable)
            watched = watcher.screen.query_one("#column-table", KeyedTable)
            assert "overridden" not in dict(watched.fields(key))["Issues"]
            mine.move_cursor(row=[row.value for row in mine.rows].index(key))
            await press(pilot, "d")
            await press(pilot, "down", "enter")  # month-first
            await until(
                watching,
                lambda: "overridden" in dict(watched.fields(key))["Issues"],
                "the watcher shows the override",
            )
            assert dict(watched.fields(key)) == dict(mine.fields(key))
            assert "m/d" in dict(watched.fields(key))["Type"]
            assert rows(watcher, "#score-table") == rows(operator, "#score-table"), "re-scored"
        await press(pilot, "escape", "y")
        assert (await until_ended(pilot, run_id)).outcome == "interrupted"


def rows(app: ConsoleApp, table_id: str) -> dict[str, dict[str, object]]:
    """Every row of a table on screen, by key: its columns' full values."""
    table = app.screen.query_one(table_id, KeyedTable)
    return {key.value: dict(table.fields(key.value)) for key in table.rows if key.value}


async def test_a_killed_run_process_is_shown_as_interrupted_and_offered_to_resume(
    settings: Settings, sample_db
) -> None:
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        run_id = await to_profile(pilot)
        [process] = run_processes(run_id)
        process.kill()  # what the machine's OOM killer does
        await until(pilot, lambda: isinstance(app.screen, ErrorModal), "the lost run said")
        text = screen_words(app)
        assert "profile interrupted" in text
        assert f"run {run_id} stopped without saying how it ended" in text
        assert "esc goes Home, which offers to resume or discard it" in text
        assert not app.flow.following, "a gone run is not followed"
        await press(pilot, "escape")
        await until(pilot, lambda: isinstance(app.screen, ResumeModal), "the offer to resume")
        assert "stopped during profile" in screen_words(app)
