"""Nothing is only half readable: the detail of a row, the score explained, wide columns.

The console follows real run processes on a real PostgreSQL; the tests press
keys and read the screen, and compare the score with what ``sdconsole
profile`` prints for the same profile. The preflight screen, which a run
shows only for the moment its checks take, is shown from the events of a
real preflight (:func:`show_preflight`).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from datetime import date
from pathlib import Path

from test_tui_keys import no_run_left  # noqa: F401  (the fixture, for every test here)
from textual.clock import MockClock
from tui_pilot import (
    approve,
    footer_keys,
    press,
    screen_text,
    screen_words,
    settle,
    to_load,
    to_profile,
    type_text,
    until,
    until_gate,
)

from sdconsole.commands.profile import print_score
from sdconsole.engine.runtime import events as ev
from sdconsole.engine.runtime.run import read_journal
from sdconsole.engine.stages.preflight import preflight
from sdconsole.engine.steps import Gate
from sdconsole.settings import Settings
from sdconsole.tui.app import ConsoleApp
from sdconsole.tui.format import zone
from sdconsole.tui.messages import run_event
from sdconsole.tui.screens.canary import CanaryScreen
from sdconsole.tui.screens.choice import ChoiceModal
from sdconsole.tui.screens.cutover import CutoverModal
from sdconsole.tui.screens.detail import DetailModal
from sdconsole.tui.screens.error import ErrorModal
from sdconsole.tui.screens.eventlog import EventLogScreen, LogView
from sdconsole.tui.screens.home import HomeScreen
from sdconsole.tui.screens.load import LoadScreen
from sdconsole.tui.screens.preflight import PreflightScreen
from sdconsole.tui.screens.profile import ProfileScreen
from sdconsole.tui.widgets.keyed_table import KeyedTable


def console(settings: Settings, source: Path) -> ConsoleApp:
    return ConsoleApp(settings.model_copy(update={"source": source}), clock=MockClock())


def detail_text(app) -> str:
    """The open detail as one line of words (wrapping undone)."""
    assert isinstance(app.screen, DetailModal), screen_text(app)
    return " ".join(app.screen.detail.as_text().split())


def words(text: str) -> str:
    return " ".join(text.split())


def show_preflight(app: ConsoleApp, checks: list[ev.CheckResult]) -> None:
    """The console follows a run that has just finished its preflight with ``checks``: the
    events a run process sends, through the console's own path, with no run process (a real
    run goes on to the profile at once)."""
    run_id = "preflight"
    app.flow.follow(run_id, app.settings.workdir, "complete")
    events = [ev.StageStarted(stage="preflight"), *checks, ev.StageFinished(stage="preflight")]
    for seq, event in enumerate(events, 1):
        app.post_message(run_event(type(event)(**{**vars(event), "seq": seq, "run_id": run_id})))


async def test_a_cut_reason_opens_in_full_and_wider_terminals_show_more(settings, sample_db, run):
    checks = preflight(run, settings, sample_db).checks
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        show_preflight(app, checks)
        await until(pilot, lambda: isinstance(app.screen, PreflightScreen), "the preflight")
        disk = app.flow.state.checks["disk"]
        row = next(line for line in screen_text(app).splitlines() if " disk " in line)
        assert row.rstrip().endswith("…") and disk.reason not in row, "cut, and says so"
        table = app.screen.query_one(KeyedTable)
        table.move_cursor(row=list(app.flow.state.checks).index("disk"))
        await press(pilot, "v")
        assert words(disk.reason) in detail_text(app)
        assert "Preflight check: disk" in screen_text(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, PreflightScreen)
        narrow = table.columns["reason"].get_render_width(table)
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert table.columns["reason"].get_render_width(table) >= narrow + 40, (
            "the reason takes the width a wider terminal adds"
        )


async def test_a_failed_preflight_can_be_read_check_by_check_before_going_home(
    offline_settings, sample_db
):
    app = console(offline_settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ErrorModal), "how the run ended")
        dialog = app.screen.query_one(".dialog")
        assert "v read the step's screen · esc close" in screen_words(app, dialog)
        await press(pilot, "v")
        assert isinstance(app.screen, PreflightScreen), "the failed checks stay readable"
        assert "The run has ended (failed): preflight failed: target" in screen_words(app)
        assert footer_keys(app).get("Home") is True and "Stop run" not in footer_keys(app)
        table = app.screen.query_one(KeyedTable)
        table.move_cursor(row=list(app.flow.state.checks).index("target"))
        await press(pilot, "v")
        target = app.flow.state.checks["target"]
        assert target.status == "fail"
        assert words(target.reason) in detail_text(app) and words(target.fix) in detail_text(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, PreflightScreen)
        await press(pilot, "escape")
        assert isinstance(app.screen, HomeScreen), "esc leaves the ended run"


async def test_the_score_shows_the_points_of_every_finding_as_the_cli_does(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await to_profile(pilot)
        score = app.flow.files.profile().score
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            print_score(score)
        cli = printed.getvalue()

        await press(pilot, "2")
        table = app.screen.query_one("#score-table", KeyedTable)
        assert app.screen.focused is table, "the tab's table takes the keys"
        for name, part in score.dimensions.items():
            assert re.search(rf"{name} +{part.score:5.1f}", cli)
            shown = dict(table.fields(name))
            assert shown["Score"] == f"{part.score:.1f}"
            assert shown["Lost"] == f"{sum(f.cost for f in part.findings):.1f}"
        assert dict(table.fields("total"))["Score"] == str(score.total)
        assert f"quality score {score.total}/100" in cli

        table.move_cursor(row=list(score.dimensions).index("completeness"))
        await press(pilot, "v")
        text = detail_text(app)
        part = score.dimensions["completeness"]
        assert f"Score: {part.score:.1f} = 100 - " in text
        exempt = [f for f in part.findings if not f.cost]
        assert exempt and all(words(f.message) in text for f in exempt), "exemptions, with why"
        assert "no cost" in text
        await press(pilot, "escape")

        await press(pilot, "3")
        findings = app.screen.query_one("#finding-table", KeyedTable)
        assert app.screen.focused is findings
        for name, part in score.dimensions.items():
            costs = [
                dict(findings.fields(f"{name}|{i}"))["Points"] for i in range(len(part.findings))
            ]
            assert costs == [f"-{f.cost:.1f}" if f.cost else "0.0" for f in part.findings]
            for finding, cost in zip(part.findings[:5], costs, strict=False):
                assert f"{cost:>6}  {finding.table}.{finding.column}:" in cli, (
                    "the same points as sdconsole profile"
                )


async def test_enter_on_a_refused_gate_says_why_instead_of_nothing(settings, sample_db):
    app = console(settings.model_copy(update={"quality_threshold": 100}), sample_db)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await to_profile(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, ProfileScreen), "a refused gate is not passed"
        assert "the quality gate refused" in screen_text(app)
        assert app.flow.state.waits_at(Gate.QUALITY)
        await press(pilot, "v")
        assert isinstance(app.screen, DetailModal), "v opens the column under the cursor"
        assert "Loaded as" in screen_text(app) and "Confidence" in screen_text(app)
        await press(pilot, "escape")


async def test_canary_metrics_statements_and_rejects_read_in_full(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_profile(pilot)
        await approve(pilot, Gate.QUALITY)
        await approve(pilot, Gate.CLEAN)
        await until_gate(pilot, Gate.CANARY)
        assert isinstance(app.screen, CanaryScreen)
        metric = app.flow.state.metrics[-1]
        table = app.screen.query_one("#metric-table", KeyedTable)
        table.move_cursor(row=table.row_count - 1)
        await press(pilot, "enter")
        assert words(metric.metric) in detail_text(app)
        await press(pilot, "escape")
        await approve(pilot, Gate.CANARY)
        await until_gate(pilot, Gate.CUTOVER)
        await press(pilot, "escape")
        assert isinstance(app.screen, LoadScreen), "esc puts the cutover off"

        await press(pilot, "2")
        assert app.screen.query_one("#reject-table", KeyedTable).row_count, "the sample has rejects"
        values = app.screen.query_one("#reject-values", KeyedTable)
        key = values.current_key or "0"
        row = dict(values.fields(key))["Row"]
        assert re.fullmatch(r"rowid \d+", row), "a reject names its row"

        await press(pilot, "c")
        assert isinstance(app.screen, CutoverModal)
        statements = app.screen.plan.statements
        assert len(statements) >= 5
        scroller = app.screen.query_one(".statements")
        assert scroller.max_scroll_y, "at 80x24 the statements scroll"
        await press(pilot, "pagedown")
        assert scroller.scroll_y > 0, "pgdn scrolls the statements while the name is typed"
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        shown = screen_words(app, scroller)
        assert scroller.max_scroll_y == 0, "at 120x40 they all fit"
        for number, statement in enumerate(statements, 1):
            assert f"{number}. {words(statement)}" in shown, "every statement, in full"
        await press(pilot, "escape")


async def test_the_event_log_folds_progress_filters_and_opens_a_line(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_profile(pilot)
        await to_load(pilot)
        lines = list(app.event_lines.lines)
        runs = Counter(
            line.stage
            for line in lines
            if line.text.startswith("== ") and " done in " not in line.text
        )
        progress = Counter(
            (line.stage, line.text.split(":")[0]) for line in lines if line.kind == "progress"
        )
        assert progress and all(n == runs[stage] for (stage, _), n in progress.items()), (
            "one progress line per table each time a stage runs"
        )
        assert any("updates folded" in line.text for line in lines)
        await press(pilot, "l")
        assert isinstance(app.screen, EventLogScreen)
        view = app.screen.query_one(LogView)
        assert view.highlighted == view.option_count - 1, "it follows the newest line"
        await press(pilot, "f")
        assert "paused" in screen_text(app)

        await press(pilot, "slash")
        await pilot.press(*"sql>")
        await settle(pilot)
        assert view.option_count == sum("sql>" in line.text for line in lines)
        await press(pilot, "enter")
        assert app.screen.focused is view, "enter keeps the filter and goes back to the log"
        view.highlighted = 0
        await press(pilot, "v")
        text = detail_text(app)
        assert "sql>" in text and f"Time: {date.today():%Y-%m-%d}" in text and zone() in text
        await press(pilot, "escape", "slash", "escape")
        assert view.option_count == len(lines), "esc clears the filter"
        await press(pilot, "escape")


async def test_an_override_is_marked_and_the_date_choice_shows_the_evidence(settings, sample_db):
    app = console(settings, sample_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await to_profile(pilot)
        table = app.screen.query_one("#column-table", KeyedTable)
        key = "tickets.TKT-Closure Date"
        table.move_cursor(row=[row.value for row in table.rows].index(key))
        dates = app.flow.files.profile().table("tickets").column("TKT-Closure Date").date_evidence
        before = app.flow.files.profile().score.total
        assert f"Quality {before}/100" in screen_words(app)
        await press(pilot, "d")
        assert isinstance(app.screen, ChoiceModal)
        text = screen_words(app)
        assert (
            f"day-first: {dates.day_first:,} values prove it (e.g. "
            f"{dates.examples['day-first'][0]!r}" in text
        )
        assert f"month-first: {dates.month_first:,} values prove it" in text
        await press(pilot, "down", "enter")
        assert isinstance(app.screen, ProfileScreen)
        await until(
            pilot,
            lambda: "overridden" in dict(table.fields(key))["Issues"],
            "the run takes the change and the row shows it",
        )
        issues = dict(table.fields(key))["Issues"]
        assert issues.startswith("overridden (profiled day-first"), issues
        assert "m/d" in dict(table.fields(key))["Type"]
        profile = app.flow.files.profile()
        after = profile.score.total
        invalid = profile.table("tickets").column("TKT-Closure Date").invalid
        assert after < before and invalid > 0, "day-first dates read month-first are invalid"
        await until(
            pilot,
            lambda: f"Quality {after}/100, refused: validity" in screen_words(app),
            "the verdict re-scored, and refused",
        )
        why = "is below the floor 50: tickets.TKT-Closure Date"
        assert why in screen_words(app), "the gate's own reason: the dimension under its floor"
        assert app.flow.state.waits_at(Gate.QUALITY), "a change is no approval"
        await press(pilot, "v")
        assert "Loaded as: timestamp, month-first" in detail_text(app)
        assert (
            app.flow.files.plan().table("tickets").column("TKT-Closure Date").date_order
            == "month-first"
        ), "the run's plan has it"
        await press(pilot, "escape")
        await press(pilot, "enter")
        assert app.flow.state.waits_at(Gate.QUALITY), "enter does not pass a refused gate"
        await press(pilot, "o")
        assert "The quality gate refused: validity" in screen_words(app) and why in screen_words(
            app
        )
        await type_text(pilot, "closure dates are month-first in this export")
        await press(pilot, "enter")
        await until_gate(pilot, Gate.CLEAN)
        [*_, decided] = [
            e for e in read_journal(app.flow.files.run_dir) if isinstance(e, ev.GateReached)
        ]
        assert decided.passed and decided.summary == "closure dates are month-first in this export"
