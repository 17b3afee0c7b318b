"""Keys that cannot run now: hidden or dimmed in the footer, and a toast saying why when pressed.

The App and its screens answer :meth:`Explains.why_not` for each of their
actions: None when it can run, else an :class:`Unavailable` with the reason.
``check_action`` (what the footer shows) follows from it, and the App turns
the reason into a toast when the key is pressed anyway, so no key ever does
nothing in silence. Help (?) and the command palette (ctrl+p) list a screen's
bindings with the same reasons (:func:`screen_bindings`).

Both read a screen's binding chain (keymap applied) through
:func:`binding_chain`, the one place that touches what Textual 8 keeps
private: its public ``active_bindings`` leaves out the bindings the footer
hides, which are the ones that need a reason. Textual is pinned to one
release (pyproject.toml); the help, palette and toast tests fail if it moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.screen import Screen


@dataclass(frozen=True)
class Unavailable:
    """Why an action cannot run now; a dimmed one stays in the footer, greyed out."""

    reason: str
    dimmed: bool = False


class Explains:
    """A node whose actions say why they cannot run (mixed into the App and the screens)."""

    def why_not(self, action: str) -> Unavailable | None:
        """None when ``action`` can run now; otherwise why not."""
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        blocked = self.why_not(action)
        if blocked is None:
            return True
        return None if blocked.dimmed else False


def binding_chain(screen: Screen) -> list[tuple[DOMNode, BindingsMap]]:
    """The nodes whose bindings a key on ``screen`` reaches, focused widget first, up to
    the App (stopping at a modal), each with all its bindings, hidden ones too."""
    return screen._modal_binding_chain


def blocked_reason(screen: Screen, key: str) -> tuple[str, str] | None:
    """(title, reason) for the first binding of ``key`` on ``screen`` whose action cannot
    run now, or None when one can (or none says why)."""
    for node, bindings in binding_chain(screen):
        for binding in bindings.key_to_bindings.get(key, ()):
            action = binding.action.partition("(")[0]
            if not isinstance(node, Explains) or "." in action:
                continue
            blocked = node.why_not(action)
            if blocked is None:
                return None
            if blocked.reason:
                return binding.description or action, blocked.reason
    return None


def screen_bindings(screen: Screen) -> list[tuple[DOMNode, Binding, Unavailable | None]]:
    """Each binding with an id of ``screen`` and of the App, once, with why it cannot run
    now (None when it can)."""
    found: list[tuple[DOMNode, Binding, Unavailable | None]] = []
    seen: set[str] = set()
    for node, bindings in binding_chain(screen):
        if node is not screen and node is not screen.app:
            continue
        for _, binding in bindings:
            if not binding.id or binding.id in seen:
                continue
            seen.add(binding.id)
            action = binding.action.partition("(")[0]
            found.append(
                (node, binding, node.why_not(action) if isinstance(node, Explains) else None)
            )
    return found
