"""Every engine event and every SQL statement run against the target, newest at the bottom."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static


class EventLogScreen(Screen):
    BINDINGS = [Binding("escape", "close", "Back", id="back")]

    def compose(self) -> ComposeResult:
        yield Static("Event log  (the full journal is runs/<run_id>/events.jsonl in the work dir)",
                     classes="title", markup=False)
        yield RichLog(max_lines=self.app.log_lines.maxlen, wrap=True, markup=False,
                      highlight=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        for line in self.app.log_lines:
            log.write(line)
        if not self.app.log_lines:
            log.write(Text("Nothing yet: events appear here as soon as a step runs.",
                           style="dim"))

    def write(self, line: Text) -> None:
        if self.is_mounted:
            self.query_one(RichLog).write(line)

    def action_close(self) -> None:
        self.dismiss()
