"""Remapping keys from the config file: ``[keymap]`` maps binding ids to keys.

Every binding in the console has an id (``rollback``, ``continue``, ``back``,
...); the same id on several screens is remapped everywhere at once. An id
the console does not have is a one-line error, not a silent no-op.
"""

from __future__ import annotations

import importlib
import pkgutil

from textual.binding import Binding
from textual.dom import DOMNode

from sdconsole.engine.runtime.errors import BadInput


def binding_ids() -> set[str]:
    """Ids of every binding of the App and of every screen, modal and widget of the console."""
    from sdconsole.tui import screens, widgets
    from sdconsole.tui.app import ConsoleApp

    classes: list[type[DOMNode]] = [ConsoleApp]
    for package in (screens, widgets):
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            classes += [
                value
                for value in vars(module).values()
                if isinstance(value, type)
                and issubclass(value, DOMNode)
                and value.__module__ == module.__name__
            ]
    return {
        binding.id
        for cls in classes
        for binding in cls.BINDINGS
        if isinstance(binding, Binding) and binding.id
    }


def checked(keymap: dict[str, str]) -> dict[str, str]:
    """The keymap, once every id in it is known."""
    if keymap:
        known = binding_ids()
        unknown = sorted(set(keymap) - known)
        if unknown:
            raise BadInput(
                f"keymap: no binding with id {unknown[0]!r} (ids: {', '.join(sorted(known))})"
            )
    return keymap
