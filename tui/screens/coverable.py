"""A screen that stops repainting the screen on top of it while that one hides it completely.

Textual keeps the screen under the top one "current" (a transparent screen on top would show
it), and hands every change it paints up to the top screen as a repaint. ``push_screen``
refreshes the screen it covers, so opening the batch view over the problems table painted the
whole batch view twice (about 40 ms on bench.tui's 1M-draw study). Every full screen of divtui
has an opaque background; under one of those, the covered screen drops its repaints (it is
laid out and painted afresh when it comes back on top). Under a modal dialog, which is
transparent, it paints as before. Textual is pinned (pyproject), and
tests/tui/test_frame_costs.py checks the behaviour this relies on.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen


class CoverableScreen(Screen[Any]):
    """A full screen that paints nothing while an opaque screen covers it."""

    def covered(self) -> bool:
        """Whether another, opaque screen is on top of this one."""
        top = self.app.screen
        return top is not self and top.styles.background.a >= 1

    def _compositor_refresh(self) -> None:
        """Drop the repaint while covered; otherwise Textual's own refresh."""
        if self.covered():
            self._compositor._dirty_regions.clear()
            self._dirty_widgets.clear()
            return
        super()._compositor_refresh()
