"""set_text: the new text is shown whether or not the line count changes, and the widget grows
or shrinks with it (auto height); the same line count needs no layout."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from divtui.tui.widgets.text_update import set_text

pytestmark = pytest.mark.asyncio


class OneLine(App[None]):
    """A Static of auto height above a filler."""

    CSS = "#line { height: auto; } #rest { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Static("first", id="line")
        yield Static("below", id="rest")


def shown(app: App[None]) -> list[str]:
    """The screen's lines as plain text."""
    return [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]


async def test_same_height_repaints_and_new_height_lays_out() -> None:
    app = OneLine()
    async with app.run_test(size=(40, 8)) as pilot:
        line = app.query_one("#line", Static)
        layouts = []
        original = line.refresh

        def refresh(*regions, **kw):
            layouts.append(kw.get("layout", False))
            return original(*regions, **kw)

        line.refresh = refresh  # type: ignore[method-assign]
        set_text(line, Text("second"))
        await pilot.pause()
        assert shown(app)[:2] == ["second", "below"] and layouts == [False]
        set_text(line, "third\nfourth")
        await pilot.pause()
        assert shown(app)[:3] == ["third", "fourth", "below"] and layouts[-1] is True
        set_text(line, "x" * 60)  # wraps to two lines: the height stays, no layout
        await pilot.pause()
        assert shown(app)[:3] == ["x" * 40, "x" * 20, "below"] and layouts[-1] is False
        set_text(line, "short")
        await pilot.pause()
        assert shown(app)[:2] == ["short", "below"] and layouts[-1] is True
