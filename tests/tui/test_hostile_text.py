"""Bidi overrides, isolates and zero-width characters in the UI: shown as visible escapes.

Every text of the study gets such characters (solutions, answers, questions, problem ids are
left alone so the fixture's filters still work); the batch view, the problems table and
notifications must show ``\\u202e``-style escapes and never the raw characters.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from divtui.store.terminal import UNSAFE
from divtui.tui.widgets.safe_text import plain_cell, safe_text

from .conftest import SIZE, settle
from .test_pilot import open_first_batch, painted, shown, table_rows, to_problems, walk_members

BIDI = " \u202eevil\u202c \u2066iso\u2069 zw\u200b\u200d\ufeff\u2060 osc\x1b]52;c;eA==\x07"


def _poison(study: Path) -> None:
    """Append the hostile characters to every solution, answer and question of the study."""
    con = duckdb.connect(str(study))
    try:
        con.execute("UPDATE samples SET text = text || ?", [BIDI])
        con.execute("UPDATE samples SET answer = answer || ? WHERE answer IS NOT NULL", [BIDI])
        con.execute("UPDATE problems SET question = question || ?", [BIDI])
    finally:
        con.close()


def _raw(text: str) -> bool:
    """Whether ``text`` holds any character the terminal rule forbids (newline and tab aside)."""
    return UNSAFE.search(text) is not None


def test_safe_text_escapes_bidi_and_zero_width() -> None:
    t = safe_text("a\u202eb\u200bc\u2066d")
    assert t.plain == "a\\u202eb\\u200bc\\u2066d"
    assert plain_cell("x\u202ey\nz") == "x\\u202ey z"


@pytest.mark.asyncio
async def test_bidi_and_zero_width_shown_as_escapes_in_every_view(make_app, study: Path) -> None:
    _poison(study)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        lines = painted(app)
        assert not any(_raw(line) for line in lines)
        cells = [c for row in table_rows(app) for c in row]
        assert any("\\u202eevil" in c for c in cells)  # the question column
        assert not any(_raw(c) for c in cells)
        screen = await open_first_batch(pilot, app)
        seen = await walk_members(pilot, app, screen)
        for _, head, body, title in seen:
            assert "\\u202eevil\\u202c \\u2066iso\\u2069 zw\\u200b\\u200d\\ufeff\\u2060" in body
            assert "\\x1b]52;c;eA==\\x07" in body
            assert not _raw(body) and not _raw(head) and not _raw(title)
        app.notify("job note" + BIDI, title="t\u202e")
        await settle(pilot, app)
        toasts = [str(n.message) + n.title for n in app._notifications]
        assert toasts and all(not _raw(m) for m in toasts)
        assert any("\\u202eevil" in m for m in toasts)
        assert "\u202e" not in shown(screen.query_one("#batch-title"))
