"""Home: what is migrated where, which version dashboards see, and what happened last."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from sdconsole.engine.steps import MODES, PLANS, Step
from sdconsole.tui.explain import Unavailable
from sdconsole.tui.format import display_path, labelled, score, when, words
from sdconsole.tui.messages import StartRun
from sdconsole.tui.screens.base import LiveScreen
from sdconsole.tui.screens.choice import ChoiceModal
from sdconsole.tui.screens.history import DEPLOYMENT_COLUMNS, HistoryScreen, deployment_rows
from sdconsole.tui.screens.prompt import PromptModal
from sdconsole.tui.screens.runbook import RunbookScreen
from sdconsole.tui.widgets.filter_bar import FilterBar
from sdconsole.tui.widgets.footer import ConsoleFooter
from sdconsole.tui.widgets.keyed_table import KeyedTable


class HomeScreen(LiveScreen):
    TITLE = "Home"
    BINDINGS = [
        Binding("n", "new", "New migration", id="new"),
        Binding("m", "mode", "Mode", id="mode", show=False),  # the Mode line names it
        Binding("h", "history", "History", id="history"),
        Binding("b", "runbook", "Runbook", id="runbook"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("sdconsole · ServiceDesk SQLite → PostgreSQL", classes="title")
        yield Static("", id="facts")
        yield Static("Versions", classes="label")
        yield KeyedTable(DEPLOYMENT_COLUMNS, id="deployments")
        yield FilterBar()
        yield Static("", id="verdict")
        yield ConsoleFooter()

    def sync(self) -> None:
        app = self.console
        settings = app.settings
        source = display_path(app.source) if app.source else "none chosen (n asks for one)"
        facts = [
            ("Source", source),
            ("Target", settings.dsn_for_display),
            ("Schema", f"{settings.stable_schema} (what dashboards read)"),
            ("Mode", f"{_after_clean(app.migration_mode)} (m changes it)"),
        ]
        status = app.status
        if status is None:
            facts.append(("Active", app.status_error or "reading…"))
            self._show(facts)
            return
        active = status.active
        facts.append(
            (
                "Active",
                "none yet: dashboards see nothing"
                if active is None
                else f"v{active.version} {active.schema_name} · score"
                f" {score(active.quality_score)} · {active.rows or 0:,} rows ·"
                f" live since {when(active.live_since)}",
            )
        )
        older = [d for d in status.deployments if active is None or d.version < active.version]
        facts.append(
            ("Previous", ", ".join(f"v{d.version} {words(d.status)}" for d in older[:4]) or "none")
        )
        if status.runs:
            run = status.runs[0]
            outcome = words(run.outcome) or "running or unfinished"
            facts.append(
                (
                    "Last run",
                    f"{when(run.started_at)} {outcome}"
                    f" by {run.operator or '?'}" + (f": {run.error}" if run.error else ""),
                )
            )
        else:
            facts.append(("Last run", "none"))
        self._show(facts)
        self.query_one(KeyedTable).sync(deployment_rows(status.deployments))
        if status.interrupted:
            names = ", ".join(f"v{d.version} ({words(d.status)})" for d in status.interrupted)
            self.query_one("#verdict", Static).update(
                f"Left by an interrupted run: {names}. ctrl+r discards it."
            )
        else:
            self.query_one("#verdict", Static).update("")
        self.refresh_bindings()

    def _show(self, facts: list[tuple[str, str]]) -> None:
        """The facts, each label padded so the values line up (and wrap) in one column."""
        self.query_one("#facts", Static).update(
            labelled((f"{label:<9}", value) for label, value in facts)
        )

    def why_not(self, action: str) -> Unavailable | None:
        console = self.console
        if action == "new" and console.flow.following:
            return Unavailable(f"run {console.flow.state.run_id} is followed", dimmed=True)
        if action in ("new", "mode") and console.flow.watch:
            return Unavailable("this console only watches runs", dimmed=True)
        if action == "mode" and console.flow.following:
            return Unavailable(
                f"run {console.flow.state.run_id} is followed; its mode is set", dimmed=True
            )
        if action == "history" and console.status is None:
            return Unavailable(
                f"the target's history cannot be read: {console.status_error or 'still reading'}"
            )
        return super().why_not(action)

    def action_new(self) -> None:
        if self.console.source is not None:
            self.post_message(StartRun())
            return
        self.app.push_screen(
            PromptModal(
                "New migration",
                "Which SQLite file should be migrated?",
                placeholder="path/to/servicedesk.db",
                check=_source_problem,
            ),
            self._source_chosen,
        )

    def action_mode(self) -> None:
        current = self.console.migration_mode
        self.app.push_screen(
            ChoiceModal(
                "Mode",
                "What should the next migration do?",
                list(MODES),
                current,
                labels=[f"{mode}: {PLANS[mode].summary}" for mode in MODES],
            ),
            self._mode_chosen,
        )

    def _mode_chosen(self, mode: str | None) -> None:
        if mode:
            self.console.migration_mode = mode
            self.sync()

    def _source_chosen(self, path: str | None) -> None:
        if path:
            self.console.source = Path(path).expanduser()
            self.post_message(StartRun())

    def action_history(self) -> None:
        self.app.push_screen(HistoryScreen())

    def action_runbook(self) -> None:
        self.app.push_screen(RunbookScreen())


def _after_clean(mode: str) -> str:
    """A mode and the steps it takes after the clean every mode has, in one short line."""
    plan = PLANS[mode]
    steps = plan.steps[plan.steps.index(Step.CLEAN) + 1 :]
    return f"{mode}: " + " → ".join(
        f"{step} + backup" if plan.backup and step is Step.LOAD else step for step in steps
    )


def _source_problem(text: str) -> str:
    path = Path(text.strip()).expanduser()
    if not text.strip():
        return "type the path of the SQLite file"
    if not path.is_file():
        return f"{path} is not a file"
    return ""
