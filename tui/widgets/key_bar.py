"""A one-line key bar: the screen's shown bindings as a single Text, built once per screen.

Textual's Footer rebuilds a widget per key whenever focus or bindings change; on the problems
and batch screens that rebuild cost more than the interaction itself. This bar is one Static.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KeyBar(Static):
    """The keys of the screen it sits on (and the app's), remapped keys included."""

    DEFAULT_CSS = """
    KeyBar { height: 1; dock: bottom; background: $panel; color: $foreground; padding: 0 1; }
    """

    def on_mount(self) -> None:
        """Draw the bar once the screen's bindings are known."""
        self.call_after_refresh(self.draw)

    def draw(self) -> None:
        """Render every shown binding as 'key description', Back first so a narrow terminal
        never cuts it off."""
        t = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        found = [b for _node, b, _enabled, _tip in self.screen.active_bindings.values()]
        found.sort(key=lambda b: b.action != "back")
        for binding in found:
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            t.append(f" {self.app.get_key_display(binding)} ", style="bold reverse")
            t.append(f" {binding.description}  ")
        self.update(t)
