"""Home: what is migrated where, which version dashboards see, and what happened last."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Static

from sdconsole.tui.format import display_path, score, when
from sdconsole.tui.screens.base import LiveScreen
from sdconsole.tui.screens.history import DEPLOYMENT_COLUMNS, HistoryScreen, deployment_rows
from sdconsole.tui.screens.prompt import PromptModal
from sdconsole.tui.screens.runbook import RunbookScreen
from sdconsole.tui.widgets.keyed_table import KeyedTable


class HomeScreen(LiveScreen):
    BINDINGS = [
        Binding("n", "new", "New migration", id="new"),
        Binding("h", "history", "History", id="history"),
        Binding("b", "runbook", "Runbook", id="runbook"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("sdconsole · ServiceDesk SQLite → PostgreSQL", classes="title")
        with Vertical(id="facts"):
            yield Static("", id="source", markup=False)
            yield Static("", id="target", markup=False)
            yield Static("", id="schema", markup=False)
            yield Static("", id="active", markup=False)
            yield Static("", id="previous", markup=False)
            yield Static("", id="last-run", markup=False)
        yield Static("Versions", classes="label")
        yield KeyedTable(DEPLOYMENT_COLUMNS, id="deployments")
        yield Static("", id="verdict")
        yield Footer()

    def sync(self) -> None:
        app = self.console
        settings = app.settings
        source = display_path(app.source) if app.source else "none chosen (n asks for one)"
        self._fact("#source", "Source", source)
        self._fact("#target", "Target", settings.dsn_for_display)
        self._fact("#schema", "Schema", f"{settings.stable_schema} (what dashboards read)")
        status = app.status
        if status is None:
            reading = app.status_error or "reading…"
            for fact, label in (("#active", "Active"), ("#previous", "Previous"),
                                ("#last-run", "Last run")):
                self._fact(fact, label, reading if fact == "#active" else "")
            return
        active = status.active
        self._fact("#active", "Active", "none yet: dashboards see nothing" if active is None else
                   f"v{active.version} {active.schema_name} · score {score(active.quality_score)}"
                   f" · {active.rows or 0:,} rows · {when(active.activated_at)}")
        older = [d for d in status.deployments if active is None or d.version < active.version]
        self._fact("#previous", "Previous", ", ".join(
            f"v{d.version} {d.status}" for d in older[:4]) or "none")
        if status.runs:
            run = status.runs[0]
            outcome = run.outcome or "running or unfinished"
            self._fact("#last-run", "Last run", f"{when(run.started_at)} {outcome}"
                       f" by {run.operator or '?'}" + (f": {run.error}" if run.error else ""))
        else:
            self._fact("#last-run", "Last run", "none")
        self.query_one(KeyedTable).sync(deployment_rows(status.deployments))
        if status.interrupted:
            names = ", ".join(f"v{d.version} ({d.status})" for d in status.interrupted)
            self.query_one("#verdict", Static).update(
                f"Left by an interrupted run: {names}. ctrl+r discards it.")
        else:
            self.query_one("#verdict", Static).update("")
        self.refresh_bindings()

    def _fact(self, selector: str, label: str, value: str) -> None:
        self.query_one(selector, Static).update(f"{label:<9} {value}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new":
            return None if self.console.busy or self.console.flow.migration else True
        if action == "history":
            return self.console.status is not None
        return True

    def action_new(self) -> None:
        if self.console.source is not None:
            self.console.flow.start()
            return
        self.app.push_screen(
            PromptModal("New migration", "Which SQLite file should be migrated?",
                        placeholder="path/to/servicedesk.db", check=_source_problem),
            self._source_chosen)

    def _source_chosen(self, path: str | None) -> None:
        if path:
            self.console.source = Path(path).expanduser()
            self.console.flow.start()

    def action_history(self) -> None:
        self.app.push_screen(HistoryScreen())

    def action_runbook(self) -> None:
        self.app.push_screen(RunbookScreen())


def _source_problem(text: str) -> str:
    path = Path(text.strip()).expanduser()
    if not text.strip():
        return "type the path of the SQLite file"
    if not path.is_file():
        return f"{path} is not a file"
    return ""
