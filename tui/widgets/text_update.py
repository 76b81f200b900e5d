"""Updating a Static's text without laying the screen out again when its size stays."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def set_text(widget: Static, text: Text | str) -> None:
    """Show ``text`` in ``widget``; lay out again only when its wrapped line count differs
    from the widget's height (a layout repaints the whole screen: about 30 ms at 120x36)."""
    rich = Text(text) if isinstance(text, str) else text
    width = widget.size.width
    if width <= 0 or not widget.is_mounted:
        widget.update(rich)
        return
    lines = len(rich.wrap(widget.app.console, width))
    widget.update(rich, layout=lines != widget.size.height)
