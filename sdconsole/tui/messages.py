"""Messages from engine workers to the App.

Engine listeners run on the worker thread, so they only post messages.
Progress messages of one stage and table replace each other while queued:
a burst of progress during a 1M-row load collapses to the latest figure.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message
from textual.message_pump import MessagePump

from sdconsole.engine.runtime import events as ev


class EngineEvent(Message):
    """An event the engine emitted, delivered on the UI thread."""

    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event


class EngineProgress(EngineEvent):
    """A Progress event; a newer one for the same stage and table supersedes it."""

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, EngineProgress)
            and message.event.stage == self.event.stage
            and message.event.table == self.event.table
        )


def listener_for(target: MessagePump) -> Callable[[ev.Event], None]:
    """A Run listener that posts each event to ``target`` (safe from any thread)."""

    def post(event: ev.Event) -> None:
        message = EngineProgress(event) if isinstance(event, ev.Progress) else EngineEvent(event)
        target.post_message(message)

    return post
