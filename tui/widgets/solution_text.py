"""A solution's text on Textual's Line API: wrapped once per width and drawn line by line.

A Static inside a scroll container changes size with every new text, and each size change
costs Textual a second layout and a second frame; this widget keeps its size (it fills its
slot) and only its virtual height changes, so showing another solution is one layout.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class SolutionText(ScrollView):
    """Scrollable, wrapped, read-only text (model output made safe by the caller)."""

    DEFAULT_CSS = """
    SolutionText { scrollbar-gutter: stable; overflow-x: hidden; overflow-y: auto; }
    """

    def __init__(self, **kw: Any) -> None:
        """An empty text."""
        super().__init__(**kw)
        self.text = Text()
        self._lines: list[Strip] = []
        self._width = -1

    def show(self, text: Text) -> None:
        """Show ``text`` from its top."""
        self.text = text
        self._width = -1
        self._wrap()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def render(self) -> Text:
        """The whole text shown (what a test or a copy reads; drawing is by render_line)."""
        return self.text

    def _wrap(self) -> None:
        """Wrap the text to the current width (once per width) and size the scroll range."""
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._width:
            return
        self._width = width
        console = self.app.console
        self._lines = [
            Strip(list(line.render(console, end=""))) for line in self.text.wrap(console, width)
        ]
        self.virtual_size = Size(width, len(self._lines))

    def on_resize(self, _event: events.Resize) -> None:
        """A new width wraps the text again."""
        self._wrap()

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the visible part."""
        _, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        style = self.rich_style
        row = scroll_y + y
        if row >= len(self._lines):
            return Strip.blank(width, style)
        return self._lines[row].apply_style(style).crop_extend(0, width, style)
