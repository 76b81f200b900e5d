"""What keeps the browser's frames cheap: a screen covered by an opaque one paints nothing and
shows its changes when back on top, under a transparent modal it keeps painting
(tui.screens.coverable, on the pinned Textual); loading warms the batch view."""

from __future__ import annotations

import numpy as np
import pytest
from textual.widgets import Static

from divtui.tui.screens.modals import HelpScreen
from divtui.tui.screens.problems import ProblemsScreen

from .conftest import SIZE, screen_text, settle
from .test_pilot import open_first_batch

pytestmark = pytest.mark.asyncio


def count_frames(app) -> list[int]:
    """Count the frames the app sends to its display (one list cell, incremented)."""
    frames = [0]
    original = app._display

    def display(screen, renderable) -> None:
        frames[0] += 1
        original(screen, renderable)

    app._display = display
    return frames


async def test_covered_screen_paints_nothing_and_shows_its_changes_on_return(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        batch = await open_first_batch(pilot, app)
        problems = next(s for s in app.screen_stack if isinstance(s, ProblemsScreen))
        assert problems.covered() and not batch.covered()
        frames = count_frames(app)
        problems.query_one("#filter-state", Static).update("changed while covered")
        problems.refresh()
        await settle(pilot, app)
        assert frames[0] == 0
        assert "changed while covered" not in screen_text(app)
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, ProblemsScreen) and frames[0] > 0
        assert "changed while covered" in screen_text(app)


async def test_under_a_modal_the_screen_keeps_painting(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f3")
        await settle(pilot, app)
        problems = app.screen
        await pilot.press("f1")
        await settle(pilot, app)
        assert isinstance(app.screen, HelpScreen) and not problems.covered()
        frames = count_frames(app)
        problems.query_one("#filter-state", Static).update("changed under the help")
        await settle(pilot, app)
        assert frames[0] > 0  # the change went up to the modal's frame
        under = "\n".join(strip.text for strip in problems._compositor.render_strips())
        assert "changed under the help" in under


async def test_loading_warms_the_batch_view_of_the_largest_size(make_app) -> None:
    """After the draw frame loads, one draw of the largest size has been read the way the
    batch view reads it, so its percentile references are kept before any batch is opened."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        data = app.loaded()
        k = int(data.frame["k"].max())
        assert [key for key in data.reference_cache if key[1] == k]
        n_ref, refs = next(v for key, v in data.reference_cache.items() if key[1] == k)
        run = data.runs[next(key for key in data.reference_cache if key[1] == k)[0]]
        want = (data.frame["k"] == k) & (np.asarray(data.runs)[data.draw_run] == run)
        assert n_ref == int(want.sum())
        col = data.frame["metric:dpp"][want]
        np.testing.assert_array_equal(refs["dpp"], np.sort(col[np.isfinite(col)]))
