"""A DataTable whose rows are keyed and patched cell by cell, with a filter and a wide column.

Live screens call :meth:`KeyedTable.sync` with every row on every update;
only cells whose value changed are redrawn, so a table fed by a stream of
engine events never flickers or loses the cursor. One column may be *wide*:
it takes the width the others leave (so 120 columns show more of a reason
than 80), its text cut with "…"; when the terminal is too narrow for it, the
widest other columns give up what it lacks first, down to CAPPED. The detail view shows every
value in full. A table made to ``wrap`` wraps the wide column's text in rows
as tall as it needs instead. A filter shows only the rows whose text contains it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from sdconsole.tui.format import fit, plain, readable

WIDE_MIN = 12
"""The wide column gets at least this much (the table scrolls sideways past that)."""
CAPPED = 20
"""How far a long other column is cut, at most, when the wide one would get less than
WIDE_MIN."""


class KeyedTable(DataTable):
    """Rows keyed by a string; columns given as (key, label) pairs."""

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        *,
        wide: str | None = None,
        wrap: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)
        self._column_keys = [key for key, _ in columns]
        self._labels = dict(columns)
        self._wide = wide
        self._wrap = wrap
        self._widths: dict[str, int] = {}
        """Column key -> the width its text is cut to (the wide column, capped ones)."""
        self._rows: list[tuple[str, tuple[Any, ...]]] = []
        """Every row given to :meth:`sync`, filtered or not."""
        self._shown: dict[str, tuple[Any, ...]] = {}
        self.filter_text = ""
        self._rebuild([])

    def sync(self, rows: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Show exactly these rows (those the filter lets through) in this order, in one repaint.

        Rows already shown are patched cell by cell and new rows at the end are
        added (a stream of events); when a row goes or moves (a new version
        listed first, a filter), or the columns' widths change, the table is
        rebuilt, the cursor kept on its row.
        """
        self._rows = [(key, tuple(values)) for key, values in rows]
        wanted = self.filter_text.casefold()
        shown = [
            (key, values)
            for key, values in self._rows
            if not wanted or wanted in _searchable(values)
        ]
        widths = self._layout(shown)
        with self.app.batch_update():
            if (
                [key for key, _ in shown[: len(self._shown)]] != list(self._shown)
                or widths != self._widths
                or self._outgrown(shown)
            ):
                self._widths = widths
                self._refill(shown)
                return
            for key, values in shown[: len(self._shown)]:
                old, cells = self._shown[key], self._cells(values)
                for index, column in enumerate(self._column_keys):
                    if values[index] != old[index]:
                        self.update_cell(key, column, cells[index])
                self._shown[key] = values
            self._add(shown[len(self._shown) :])

    def _outgrown(self, rows: list[tuple[str, tuple[Any, ...]]]) -> bool:
        """Whether a value changed or added is wider than its column: the table is then
        rebuilt with the columns measured afresh."""
        for key, values in rows:
            if self._shown.get(key) == values:
                continue
            for column, cell in zip(self._column_keys, self._cells(values), strict=True):
                if not self._fixed(column) and plain(cell).cell_len > self._width_of(column):
                    return True
        return False

    def _width_of(self, column: str) -> int:
        return self.columns[ColumnKey(column)].width

    def _fixed(self, column: str) -> bool:
        """The wide column of a table that wraps: its width is the layout's, its text wraps."""
        return self._wrap and column == self._wide

    def _refill(self, rows: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Rebuild the table with ``rows``, the cursor kept on its row."""
        current = self.current_key
        self._rebuild(rows)
        self._add(rows)
        if current in self._shown:
            self.move_cursor(row=list(self._shown).index(current), animate=False)

    def _add(self, rows: list[tuple[str, tuple[Any, ...]]]) -> None:
        for key, values in rows:
            self.add_row(*self._cells(values), key=key, height=None if self._wrap else 1)
            self._shown[key] = values

    def set_filter(self, text: str) -> None:
        """Show only the rows whose text contains ``text`` (any case); '' shows all."""
        self.filter_text = text
        self.sync(self._rows)

    def clear(self, columns: bool = False) -> KeyedTable:
        self._shown.clear()
        super().clear(columns)
        return self

    def _rebuild(self, rows: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Empty the table and add its columns again, each as wide as its widest cell of
        ``rows`` (or label). Measured here rather than by DataTable when next idle, so the
        table never shows columns at their labels' widths in between."""
        self.clear(columns=True)
        cells = [self._cells(values) for _, values in rows]
        for index, key in enumerate(self._column_keys):
            label = self._labels[key]
            width = (
                self._widths.get(key)
                if self._fixed(key)
                else max([plain(label).cell_len, *(plain(row[index]).cell_len for row in cells)])
            )
            self.add_column(label, key=key, width=width)

    @property
    def current_key(self) -> str | None:
        """Key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def fields(self, key: str) -> list[tuple[str, Any]]:
        """(column label, full value) of a row, as given (not cut to the column's width)."""
        return list(
            zip((self._labels[k] for k in self._column_keys), self._shown[key], strict=True)
        )

    def on_resize(self, event: events.Resize) -> None:
        if self._wide and self._layout(list(self._shown.items())) != self._widths:
            self.sync(self._rows)

    def _cells(self, values: tuple[Any, ...]) -> list[Any]:
        cells = []
        for key, value in zip(self._column_keys, values, strict=True):
            if self._wrap and key == self._wide:
                cells.append(readable(value))
            elif key in self._widths:
                cells.append(fit(plain(value), self._widths[key]))
            else:
                cells.append(plain(value))
        return cells

    def _layout(self, rows: list[tuple[str, tuple[Any, ...]]]) -> dict[str, int]:
        """The widths to cut columns to: the wide one gets what the others leave of the
        table's width (a vertical scrollbar's room kept); unchanged while the table has no
        size (not laid out yet, or in a hidden tab)."""
        if self._wide is None or not self.size.width:
            return self._widths
        natural = {
            key: max(
                [
                    plain(self._labels[key]).cell_len,
                    *(plain(values[index]).cell_len for _, values in rows),
                ]
            )
            for index, key in enumerate(self._column_keys)
            if key != self._wide
        }
        room = (
            self.size.width
            - self.styles.scrollbar_size_vertical
            - 2 * self.cell_padding * len(self._column_keys)
        )
        widths: dict[str, int] = {}
        for key in sorted(natural, key=lambda k: natural[k], reverse=True):
            lacking = WIDE_MIN - (room - sum(natural.values()))
            if lacking <= 0 or natural[key] <= CAPPED:
                break
            natural[key] = widths[key] = max(CAPPED, natural[key] - lacking)
        widths[self._wide] = max(
            room - sum(natural.values()), WIDE_MIN, plain(self._labels[self._wide]).cell_len
        )
        return widths


def _searchable(values: tuple[Any, ...]) -> str:
    """A row's text as the filter matches it."""
    return " ".join(plain(value).plain for value in values).casefold()
