"""Messages inside the console: the run's events, and the operator's requests from screens.

The events arrive from the async worker that follows the run's control
socket. Progress messages of one stage and table replace each other while
queued: a burst of progress during a 1M-row load, or a long replay at
attach, collapses to the latest figure. Screens never reach the run: they
post a :class:`Request` and the App sends the command it becomes.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from sdconsole.engine.runtime import events as ev


class RunEvent(Message):
    """An event of the run the console follows, delivered on the UI loop."""

    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event


class RunProgress(RunEvent):
    """A Progress event; a newer one for the same stage and table supersedes it."""

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, RunProgress)
            and isinstance(self.event, ev.Progress)
            and isinstance(message.event, ev.Progress)
            and message.event.stage == self.event.stage
            and message.event.table == self.event.table
        )


def run_event(event: ev.Event) -> RunEvent:
    return RunProgress(event) if isinstance(event, ev.Progress) else RunEvent(event)


class Request(Message):
    """An operator's request from a screen: ``op`` (approve, override, set_column, cancel)
    with its arguments; the App turns it into a command through the flow."""

    def __init__(self, op: str, **args: Any) -> None:
        super().__init__()
        self.op, self.args = op, args


class StartRun(Message):
    """The operator asked for a new migration of the App's source."""
