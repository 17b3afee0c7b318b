"""A DataTable whose rows are keyed and patched cell by cell.

Live screens call :meth:`KeyedTable.upsert` for every row on every update;
only cells whose value changed are redrawn, so a table fed by a stream of
engine events never flickers or loses the cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from textual.widgets import DataTable

from sdconsole.tui.format import plain


class KeyedTable(DataTable):
    """Rows keyed by a string; columns given as (key, label) pairs."""

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)
        self._column_keys = [key for key, _ in columns]
        for key, label in columns:
            self.add_column(label, key=key)
        self._shown: dict[str, tuple[Any, ...]] = {}

    def upsert(self, key: str, values: Sequence[Any]) -> None:
        """Add the row, or update the cells that differ from what is shown."""
        values = tuple(values)
        shown = self._shown.get(key)
        if shown is None:
            self.add_row(*(plain(v) for v in values), key=key)
        else:
            for column, new, old in zip(self._column_keys, values, shown, strict=True):
                if new != old:
                    self.update_cell(key, column, plain(new), update_width=True)
        self._shown[key] = values

    def sync(self, rows: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Show exactly these rows in this order, in one repaint.

        While the keys stay the same, only changed cells are redrawn; when a
        row comes, goes or moves (a new version listed first), the table is
        rebuilt in the new order.
        """
        rows = list(rows)
        with self.app.batch_update():
            if [key for key, _ in rows] != list(self._shown):
                self.clear()
            for key, values in rows:
                self.upsert(key, values)

    def clear(self, columns: bool = False) -> KeyedTable:
        self._shown.clear()
        super().clear(columns)
        return self

    @property
    def current_key(self) -> str | None:
        """Key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
