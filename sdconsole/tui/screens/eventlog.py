"""Every engine event and every SQL statement run against the target, newest at the bottom.

Each line wraps under its text, not under its time; a table's progress is
folded into one line. / filters the lines, f follows (or stops following)
the newest, enter or v shows a line in full with its date and zone.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sdconsole.tui.explain import Unavailable
from sdconsole.tui.format import labelled, zone
from sdconsole.tui.log_lines import LogLine
from sdconsole.tui.screens.base import LiveScreen
from sdconsole.tui.screens.detail import Detail, DetailModal
from sdconsole.tui.widgets.filter_bar import FilterBar
from sdconsole.tui.widgets.footer import ConsoleFooter

EMPTY = "Nothing yet: events appear here as soon as a step runs."


class LogView(OptionList):
    """The log's lines as options (one per line, wrapped), filtered, following the newest."""

    def __init__(self, lines: list[LogLine]) -> None:
        super().__init__(id="log")
        self.lines = lines
        self.filter_text = ""
        self.follow = True

    def on_mount(self) -> None:
        self._show()

    def append(self, line: LogLine) -> None:
        self.lines.append(line)
        if self._matches(line):
            if self.option_count == 1 and self.get_option_at_index(0).id is None:
                self.clear_options()  # the "nothing yet" line
            self.add_option(_option(line))
            self._follow()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._show()

    def toggle_follow(self) -> None:
        self.follow = not self.follow
        self._follow()

    def line(self) -> LogLine | None:
        """The line under the cursor."""
        if self.highlighted is None:
            return None
        option_id = self.get_option_at_index(self.highlighted).id
        return next((line for line in self.lines if str(line.number) == option_id), None)

    def _matches(self, line: LogLine) -> bool:
        return self.filter_text.casefold() in line.text.casefold()

    def _show(self) -> None:
        self.clear_options()
        shown = [_option(line) for line in self.lines if self._matches(line)]
        self.add_options(
            shown
            or [
                Option(
                    EMPTY if not self.filter_text else f"No line contains {self.filter_text!r}.",
                    disabled=True,
                )
            ]
        )
        self._follow()

    def _follow(self) -> None:
        if self.follow and self.option_count:
            self.highlighted = self.option_count - 1


def _option(line: LogLine) -> Option:
    """A line under its time, progress dimmed, the console's notices in italics."""
    text = Text(line.text, style={"progress": "dim", "notice": "italic"}.get(line.kind, ""))
    return Option(labelled([(line.stamp, text)], label_style="dim"), id=str(line.number))


class EventLogScreen(LiveScreen):
    TITLE = "Event log"
    AUTO_FOCUS = "#log"
    BINDINGS = [
        Binding("escape", "close", "Back", id="back"),
        Binding("f", "follow", "Follow", id="follow"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("", classes="title", id="log-title", markup=False)
        yield LogView(list(self.console.event_lines.lines))
        yield FilterBar()
        yield ConsoleFooter()

    def sync(self) -> None:
        view = self.query_one(LogView)
        self.query_one("#log-title", Static).update(
            f"Event log · times {zone()} · {'following' if view.follow else 'paused'} (f)"
            " · all: runs/<id>/events.jsonl"
        )

    def write(self, line: LogLine) -> None:
        if self.is_mounted:
            self.query_one(LogView).append(line)

    def action_follow(self) -> None:
        self.query_one(LogView).toggle_follow()
        self.sync()

    def why_not(self, action: str) -> Unavailable | None:
        if action == "detail":
            return None if self.query_one(LogView).line() else Unavailable("no line yet")
        return super().why_not(action)

    def action_detail(self) -> None:
        line = self.query_one(LogView).line()
        if line is not None:
            self.app.push_screen(
                DetailModal(
                    Detail(
                        f"Event {line.number}",
                        [
                            ("Time", line.moment),
                            ("Stage", line.stage),
                            ("Kind", line.kind),
                            ("Text", line.text.strip()),
                        ],
                    )
                )
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_detail()

    def action_close(self) -> None:
        self.dismiss()
