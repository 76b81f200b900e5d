"""The overview's report tables through Pilot: the cached report after `divtui draw`, the
pooled / between / within correlation view with intervals excluding 0 marked, and every
table's caption saying what it pools over."""

from __future__ import annotations

from pathlib import Path

import pytest

from divtui.engine.captions import caption
from divtui.engine.report_cache import cached_overview, refresh_overview
from divtui.store import open_db
from divtui.tui import report_view as rv

from .conftest import SIZE, settle

pytestmark = pytest.mark.asyncio


def _plant(study: Path) -> None:
    """Make cosine_sim follow maj's correctness (plus noise), so some intervals exclude 0."""
    con = open_db(study)
    con.execute(
        """UPDATE draw_metrics m SET value = o.correct::INTEGER + 0.01 * (hash(m.draw_id) % 97)
           FROM draw_outcomes o
           WHERE o.draw_id = m.draw_id AND o.aggregator = 'maj' AND m.metric = 'cosine_sim'"""
    )
    con.close()


def _cells(app) -> tuple[list[str], list[list[str]]]:
    """The overview table's header and rows as plain text."""
    table = app.screen.query_one("#ov-table")
    head = [str(c.label) for c in table.columns.values()]
    rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    return head, rows


async def _pick(pilot, app, name: str) -> None:
    """Highlight table ``name`` in the overview's list."""
    opts = app.screen.query_one("#ov-tables")
    names = [str(o.prompt) for o in opts.options]
    opts.highlighted = names.index(name)
    await settle(pilot, app)


async def test_cached_correlation_view_marks_intervals_that_exclude_zero(
    make_app, study: Path
) -> None:
    _plant(study)
    con = open_db(study)
    assert refresh_overview(con) is True
    report = cached_overview(con)
    con.close()
    assert report is not None
    rows = report["tables"]["within_correlations"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.screen.source == "cached"
        await _pick(pilot, app, "within_correlations")
        head, shown = _cells(app)
        assert head[:6] == ["k", "metric", "outcome", "pooled r", "between r", "within r"]
        assert len(shown) == len(rows)
        marked = 0
        for row, cells in zip(rows, shown, strict=True):
            assert cells[1:3] == [row["metric"], row["outcome"]]
            for j, key in enumerate(("pooled_r", "between_r", "within_r"), start=3):
                lo, hi = row[f"{key}_lo"], row[f"{key}_hi"]
                excludes = lo is not None and (lo > 0 or hi < 0)
                assert cells[j].endswith(rv.ZERO_MARK) is excludes, (key, cells[j], lo, hi)
                if lo is not None:
                    assert f"[{lo:.2f}, {hi:.2f}]" in cells[j]
                marked += excludes
        assert marked >= 3  # cosine_sim against maj: pooled, between and within
        text = str(app.screen.query_one("#ov-caption").render())
        assert "stored by `divtui draw`" in text and "excludes 0" in text
        assert caption("within_correlations", report["meta"])[:60] in text


async def test_every_table_has_its_caption_and_no_cache_means_no_intervals(make_app) -> None:
    """Without a stored report the overview shows the point estimates and says why there are
    no intervals; every table has its caption."""
    app = make_app()
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert screen.source == "quick" and screen.meta["n_boot"] == 0
        for name in screen.tables:
            await _pick(pilot, app, name)
            text = " ".join(str(screen.query_one("#ov-caption").render()).split())
            want = " ".join(caption(name, screen.meta).split())
            assert want[:50] in text and "`divtui draw`" in text, name
            if name == "accuracy_by_k":
                head, shown = _cells(app)
                assert "maj" in head and "maj_lo" not in head
                row = screen.tables[name][0]
                assert shown[0][head.index("maj")] == f"{row['maj']:.3f}"
