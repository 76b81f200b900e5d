"""A key bar: the screen's shown bindings as one Text, built once per screen and per width.

Textual's Footer rebuilds a widget per key whenever focus or bindings change; on the problems
and batch screens that rebuild cost more than the interaction itself. This bar is one Static;
Back and Help come first, and entries that do not fit one line go on further lines (at 80 columns nothing is
cut off).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KeyBar(Static):
    """The keys of the screen it sits on (and the app's), remapped keys included."""

    DEFAULT_CSS = """
    KeyBar { height: auto; max-height: 3; dock: bottom; background: $panel;
             color: $foreground; padding: 0 1; }
    """

    def on_mount(self) -> None:
        """Draw the bar once the screen's bindings are known."""
        self.call_after_refresh(self.draw)

    def on_resize(self) -> None:
        """Repack the entries for the new width."""
        self.call_after_refresh(self.draw)

    def entries(self) -> list[tuple[str, str]]:
        """(key, description) of every shown binding, Back and Help first, each action once,
        then the command palette."""
        found = [b for _node, b, _enabled, _tip in self.screen.active_bindings.values()]
        found.sort(key=lambda b: (b.action != "back", b.action != "help"))
        seen: set[str] = set()
        out = []
        for binding in found:
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            out.append((self.app.get_key_display(binding), binding.description))
        if self.app.ENABLE_COMMAND_PALETTE:
            out.append(("^p", "Commands"))
        return out

    def draw(self) -> None:
        """Render the entries as ' key  description', packed into at most three lines."""
        width = max(20, self.size.width or self.app.size.width - 2)
        t = Text(no_wrap=True, overflow="ellipsis")
        used, lines = 0, 1
        for key, desc in self.entries():
            size = len(key) + len(desc) + 4
            if used and used + size > width:
                if lines == 3:
                    break
                t.append("\n")
                used, lines = 0, lines + 1
            t.append(f" {key} ", style="bold reverse")
            t.append(f" {desc} ")
            used += size
        self.update(t)
