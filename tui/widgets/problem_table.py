"""A fast read-only table on Textual's Line API: only the rows on screen are ever formatted.

The problems screen has up to thousands of rows and a dozen numeric columns; a DataTable
builds and styles every added cell, and redraws every visible cell twice per update. This
widget keeps the rows as a callback (row -> cell strings) and renders a line only when the
compositor asks for it, so applying a filter or sorting costs a few dozen formatted lines.
The first ``frozen`` columns stay put when the rest scrolls sideways; ←/→ move a column cursor
(its header is highlighted) that the screen sorts by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True)
class Column:
    """A column: its key, its header label and its width in cells."""

    key: str
    label: str
    width: int


class ProblemTable(ScrollView, can_focus=True):
    """Rows given by a callback, drawn line by line; a header row that stays on top."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "problem-table--header",
        "problem-table--column-cursor",
        "problem-table--cursor",
        "problem-table--even-row",
    }
    DEFAULT_CSS = """
    ProblemTable {
        background: $surface;
        color: $foreground;
        & > .problem-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .problem-table--column-cursor { text-style: bold reverse; }
        & > .problem-table--even-row { background: $surface-lighten-1 50%; }
        & > .problem-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .problem-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        &:dark > .problem-table--even-row { background: $surface-darken-1 40%; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First row", show=False),
        Binding("end", "cursor_to(-1)", "Last row", show=False),
        Binding("left", "column(-1)", "Column left", show=False),
        Binding("right", "column(1)", "Column right", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    @dataclass
    class RowSelected(Message):
        """Enter (or a click on the cursor row) on row ``row`` whose key is ``key``."""

        table: ProblemTable
        row: int
        key: int

        @property
        def control(self) -> ProblemTable:
            """The table, for @on(..., selector)."""
            return self.table

    @dataclass
    class HeaderSelected(Message):
        """A click on the header of column ``column``."""

        table: ProblemTable
        column: str

        @property
        def control(self) -> ProblemTable:
            """The table, for @on(..., selector)."""
            return self.table

    def __init__(self, *, id: str | None = None) -> None:
        """An empty table."""
        super().__init__(id=id)
        self.columns: list[Column] = []
        self.frozen = 0
        self.row_count = 0
        self.cursor_row = 0
        self.cursor_col = 0
        self._cells: Callable[[int], list[str]] = lambda _row: []
        self._keys: Callable[[int], int] = lambda row: row
        self._cache: dict[int, list[str]] = {}

    def set_rows(
        self,
        columns: list[Column],
        row_count: int,
        cells: Callable[[int], list[str]],
        keys: Callable[[int], int],
        *,
        frozen: int = 0,
    ) -> None:
        """Show ``row_count`` rows; ``cells(row)`` gives a row's strings, ``keys(row)`` its key.

        Only the rows on screen are ever asked for; the cursor moves back to the first row and
        the sideways scroll is kept (the column cursor stays on the column of the same key).
        """
        key = self.current_column()
        self.columns = columns
        self.frozen = min(frozen, len(columns))
        self.row_count = row_count
        self._cells, self._keys = cells, keys
        self._cache = {}
        self.cursor_row = 0
        keys_now = [c.key for c in columns]
        self.cursor_col = keys_now.index(key) if key in keys_now else 0
        width = sum(c.width + 1 for c in columns)
        self.virtual_size = Size(width, row_count + 1)
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def current_column(self) -> str | None:
        """The key of the column under the column cursor."""
        if 0 <= self.cursor_col < len(self.columns):
            return self.columns[self.cursor_col].key
        return None

    def _frozen_width(self) -> int:
        """Cells taken by the frozen columns."""
        return sum(c.width + 1 for c in self.columns[: self.frozen])

    def get_row(self, row: int) -> list[str]:
        """The cell strings of row ``row`` (in display order)."""
        if row not in self._cache:
            if len(self._cache) > 512:
                self._cache.clear()
            self._cache[row] = self._cells(row)
        return self._cache[row]

    def row_key(self, row: int) -> int:
        """The key of row ``row``."""
        return self._keys(row)

    def _segments(self, texts: list[str], style: Style, cols: range, hi: Style | None) -> Strip:
        """Cells ``cols`` of the header line, each padded or cut to its column width; the
        column under the cursor in style ``hi``."""
        segs = []
        for j in cols:
            if j >= len(texts):
                break
            cell = " " + set_cell_size(texts[j], self.columns[j].width)
            segs.append(
                Segment(cell, style + hi if hi is not None and j == self.cursor_col else style)
            )
        return Strip(segs)

    def _cells_text(self, texts: list[str], cols: range) -> str:
        """Cells ``cols`` of a body line as one string, each padded or cut to its column width
        (one segment per line part: a body line has a single style)."""
        out = []
        for j in cols:
            if j >= len(texts):
                break
            text, width = texts[j], self.columns[j].width
            if text.isascii() and text.isprintable():
                out.append(" " + text[:width].ljust(width))
            else:
                out.append(" " + set_cell_size(text, width))
        return "".join(out)

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the widget: the header, a row, or blank below the last row; the frozen
        columns first, then the rest scrolled sideways."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("problem-table--header")
            texts = [c.label for c in self.columns]
            hi = self.get_component_rich_style("problem-table--column-cursor")
            fixed = self._segments(texts, style, range(self.frozen), hi)
            rest = self._segments(texts, style, range(self.frozen, len(self.columns)), hi)
        else:
            row = scroll_y + y - 1
            if row >= self.row_count:
                return Strip.blank(width, base)
            style = base
            if row % 2 == 0:
                style += self.get_component_rich_style("problem-table--even-row")
            if row == self.cursor_row:
                style += self.get_component_rich_style("problem-table--cursor")
            texts = self.get_row(row)
            fixed = Strip([Segment(self._cells_text(texts, range(self.frozen)), style)])
            rest = Strip(
                [Segment(self._cells_text(texts, range(self.frozen, len(self.columns))), style)]
            )
        room = max(0, width - fixed.cell_length)
        rest = rest.crop(scroll_x, scroll_x + room)
        return Strip.join([fixed, rest]).crop(0, width).extend_cell_length(width, style)

    def move_cursor(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped) and scroll it into view."""
        if not self.row_count:
            return
        old = self.cursor_row
        self.cursor_row = max(0, min(self.row_count - 1, row))
        rows_on_screen = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + rows_on_screen:
            self.scroll_to(y=self.cursor_row - rows_on_screen + 1, animate=False, immediate=True)
        if int(self.scroll_y) != top:
            self.refresh()
        else:
            self.refresh_line(old + 1)
            self.refresh_line(self.cursor_row + 1)

    def action_cursor(self, delta: int) -> None:
        """Move the cursor up or down."""
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        """Move the cursor by a screenful."""
        self.move_cursor(self.cursor_row + direction * max(1, self.size.height - 2))

    def action_cursor_to(self, row: int) -> None:
        """Jump to the first (0) or last (-1) row."""
        self.move_cursor(self.row_count - 1 if row < 0 else row)

    def action_column(self, delta: int) -> None:
        """Move the column cursor, scrolling the unfrozen columns to keep it in view."""
        if not self.columns:
            return
        self.cursor_col = max(0, min(len(self.columns) - 1, self.cursor_col + delta))
        if self.cursor_col >= self.frozen:
            start = sum(c.width + 1 for c in self.columns[self.frozen : self.cursor_col])
            end = start + self.columns[self.cursor_col].width + 1
            room = max(1, self.size.width - self._frozen_width())
            x = int(self.scroll_x)
            if start < x:
                x = start
            elif end > x + room:
                x = end - room
            self.scroll_to(x=x, animate=False, immediate=True)
        self.refresh()

    def action_select(self) -> None:
        """Post RowSelected for the cursor row."""
        if self.row_count:
            self.post_message(
                self.RowSelected(self, self.cursor_row, self.row_key(self.cursor_row))
            )

    def column_at(self, x: int) -> str | None:
        """The key of the column under screen x coordinate ``x`` (frozen columns first, the
        rest shifted by the sideways scroll)."""
        fixed = self._frozen_width()
        edge = 0
        if x >= fixed:
            x = x - fixed + int(self.scroll_x)
            edge = 0
            cols = self.columns[self.frozen :]
        else:
            cols = self.columns[: self.frozen]
        for c in cols:
            edge += c.width + 1
            if x < edge:
                return c.key
        return None

    def on_click(self, event: events.Click) -> None:
        """Header click: HeaderSelected; row click: move there (again: select it)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            key = self.column_at(offset.x)
            if key is not None:
                self.cursor_col = [c.key for c in self.columns].index(key)
                self.refresh_line(0)
                self.post_message(self.HeaderSelected(self, key))
            return
        row = int(self.scroll_y) + offset.y - 1
        if 0 <= row < self.row_count:
            if row == self.cursor_row:
                self.action_select()
            else:
                self.move_cursor(row)

    def notify_style_update(self) -> None:
        """Theme or focus changed: redraw every line."""
        super().notify_style_update()
        self.refresh()

    def plain_rows(self) -> list[list[str]]:
        """Every row's cells as strings (for tests and exports of what is shown)."""
        return [list(self.get_row(i)) for i in range(self.row_count)]

    def labels(self) -> list[str]:
        """The header labels."""
        return [c.label for c in self.columns]

    def keys_shown(self) -> list[Any]:
        """The column keys in order."""
        return [c.key for c in self.columns]
