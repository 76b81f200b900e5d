"""Pilot tests of every screen and filter, asserting on what the app shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from divtui.store import open_db
from divtui.tui.screens.batch import BatchScreen
from divtui.tui.screens.modals import CompareScreen, HelpScreen, ViewerScreen
from divtui.tui.widgets.solution_text import SolutionText

from .conftest import SIZE, settle
from .tui_fixtures import HOSTILE, SIZES

pytestmark = pytest.mark.asyncio


def shown(widget) -> str:
    """The plain text a Static currently shows."""
    return str(widget.render())


def table_rows(app) -> list[list[str]]:
    """Every row of the problems table as plain strings."""
    return app.screen.query_one("#problems").plain_rows()


def column(app, name: str) -> list[str]:
    """One column of the problems table by key."""
    j = app.screen.query_one("#problems").keys_shown().index(name)
    return [r[j].strip() for r in table_rows(app)]


def rows_of(app, *names: str) -> list[tuple[str, ...]]:
    """The problems table's rows restricted to the columns ``names`` (by key), stripped."""
    return list(zip(*(column(app, n) for n in names), strict=True))


def painted(app) -> list[str]:
    """The problems table's lines as the compositor draws them (header first)."""
    dt = app.screen.query_one("#problems")
    return [dt.render_line(y).text for y in range(dt.size.height)]


def sql(study_template: Path, query: str, params: list | None = None) -> list[tuple]:
    """Independent answers straight from the database file."""
    con = open_db(study_template, read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


async def to_problems(pilot, app) -> None:
    """Open the problems screen and wait for its rows."""
    await settle(pilot, app)
    await pilot.press("f3")
    await settle(pilot, app)


async def type_filter(pilot, app, text: str) -> None:
    """Type a filter expression and apply it."""
    app.screen.query_one("#filter").value = ""
    await pilot.press("slash")
    await pilot.press(*text)
    await pilot.press("enter")
    await settle(pilot, app)


async def test_overview_shows_counts_plot_and_report_tables(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        runs = shown(app.screen.query_one("#ov-runs"))
        assert "1 runs · 3 problems · 48 samples" in runs
        assert "36 draws" in runs and "run-a" in runs
        plot = app.screen.query_one("#ov-plot")
        assert set(plot._series) >= {"maj", "bst", "coverage"}
        assert plot._series["maj"][0] == list(SIZES)
        names = [str(o.prompt) for o in app.screen.query_one("#ov-tables").options]
        assert "accuracy_by_k" in names
        table = app.screen.query_one("#ov-table")
        first = table.border_title
        assert table.row_count > 0
        await pilot.press("t")
        await settle(pilot, app)
        assert table.border_title == names[1] != first


async def test_problems_unfiltered_lists_every_pool(make_app, study_template: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        want = sql(
            study_template, "SELECT DISTINCT problem_id, temperature FROM samples ORDER BY 1, 2"
        )
        got = [(p, float(t)) for p, t in rows_of(app, "problem", "T")]
        assert got == [(p, t) for p, t in want]
        counts = sql(
            study_template,
            "SELECT count(*) FROM draws GROUP BY problem_id, temperature ORDER BY problem_id, temperature",
        )
        assert [int(x) for x in column(app, "draws")] == [c for (c,) in counts]
        assert "filters: none" in shown(app.screen.query_one("#filter-state"))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("T=0.5", "d.temperature = 0.5"),
        ("k=2", "d.k = 2"),
        ("maj=wrong", "o.aggregator = 'maj' AND NOT o.correct"),
        ("bst=correct", "o.aggregator = 'bst' AND o.correct"),
        ("coverage=0", "o.aggregator = 'coverage' AND NOT o.correct"),
        (
            "k=4 mbr_lex=wrong T=1",
            "d.k = 4 AND d.temperature = 1 AND o.aggregator = 'mbr_lex' AND NOT o.correct",
        ),
    ],
)
async def test_each_filter_keeps_exactly_the_matching_draws(
    make_app, study_template: Path, text: str, where: str
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, text)
        want = sql(
            study_template,
            "SELECT d.problem_id, d.temperature, count(DISTINCT d.draw_id) FROM draws d "
            f"JOIN draw_outcomes o USING (draw_id) WHERE {where} GROUP BY ALL ORDER BY 1, 2",
        )
        got = [(p, float(t), int(d)) for p, t, d in rows_of(app, "problem", "T", "draws")]
        assert got == [(p, t, n) for p, t, n in want]
        state = shown(app.screen.query_one("#filter-state"))
        assert f"{len(want)} pools" in state


async def test_aggregator_accuracy_column_is_the_mean_over_filtered_draws(
    make_app, study_template: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, "k=4")
        want = sql(
            study_template,
            "SELECT d.problem_id, d.temperature, avg(o.correct::INT) FROM draws d JOIN draw_outcomes o "
            "USING (draw_id) WHERE d.k = 4 AND o.aggregator = 'bst' GROUP BY ALL ORDER BY 1, 2",
        )
        assert [float(x) for x in column(app, "bst")] == pytest.approx(
            [v for *_, v in want], abs=5e-4
        )
        assert "pass@4" in app.screen.query_one("#problems").labels()


async def test_bucket_filter_uses_equal_width_bins_per_k(make_app, study_template: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, "k=2 bucket=dpp:3:3")
        vals = sql(
            study_template,
            "SELECT d.problem_id, d.temperature, m.value FROM draws d JOIN draw_metrics m USING (draw_id) "
            "WHERE m.metric = 'dpp' AND d.k = 2",
        )
        v = np.array([x for *_, x in vals])
        lo, hi = v.min(), v.max()
        top = [(p, t) for p, t, x in vals if x >= lo + 2 * (hi - lo) / 3]
        want = sorted({(p, t, top.count((p, t))) for p, t in top})
        got = [(p, float(t), int(d)) for p, t, d in rows_of(app, "problem", "T", "draws")]
        assert got == want
        assert f"dpp in [{lo + 2 * (hi - lo) / 3:.3g}, {hi:.3g}]" in shown(
            app.screen.query_one("#filter-state")
        )


async def test_regex_filter_matches_question_or_solution_text(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, r"/\[link=/")
        assert rows_of(app, "problem", "T") == [("p-alpha", "0.5")]
        await type_filter(pilot, app, "/sqrt/")
        assert rows_of(app, "problem", "T") == [("p-beta", "0.5"), ("p-beta", "1")]


async def test_clear_and_bad_filter(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, "T=1 maj=wrong")
        n = len(table_rows(app))
        await type_filter(pilot, app, "k=eight")
        state = shown(app.screen.query_one("#filter-state"))
        assert state.startswith("error:") and "field k" in state
        assert len(table_rows(app)) == n
        app.screen.query_one("#problems").focus()
        await pilot.press("x")
        await settle(pilot, app)
        assert len(table_rows(app)) == 6
        assert "filters: none" in shown(app.screen.query_one("#filter-state"))


async def test_header_sort_cycles_ascending_descending_original(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        original = column(app, "problem")
        screen = app.screen
        dt = screen.query_one("#problems")
        for expected in ("asc", "desc", "orig"):
            x = sum(c.width + 1 for c in dt.columns[: dt.keys_shown().index("c")]) + 1
            await pilot.click("#problems", offset=(x, 0))
            await settle(pilot, app)
            cs = [int(x) for x in column(app, "c")]
            if expected == "asc":
                assert cs == sorted(cs)
            elif expected == "desc":
                assert cs == sorted(cs, reverse=True)
            else:
                assert column(app, "problem") == original


async def test_export_filtered_rows(make_app, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, "T=0.5")
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = "out.jsonl"
        await pilot.press("enter")
        await settle(pilot, app)
        rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
        assert [r["problem"] for r in rows] == [r[0] for r in table_rows(app)]
        assert all(r["T"] == 0.5 for r in rows) and "pass@4" in rows[0]


async def open_first_batch(pilot, app, text: str = "T=0.5") -> BatchScreen:
    """Filter, then open the first row's batch view."""
    await to_problems(pilot, app)
    await type_filter(pilot, app, text)
    await pilot.press("enter")
    await settle(pilot, app)
    assert isinstance(app.screen, BatchScreen)
    return app.screen


async def walk_members(pilot, app, screen: BatchScreen) -> list[tuple[int, str, str, str]]:
    """Move right through the whole batch: (position, header, text, title) as each is shown."""
    seen = []
    for step in range(len(screen.detail["members"])):
        if step:
            await pilot.press("right")
            await settle(pilot, app)
        col = screen.focused_column()
        assert col is not None and col.display and col.has_class("-current")
        assert [c for c in screen.columns() if c.has_class("-current")] == [col]
        seen.append(
            (
                col.pos,
                shown(col.query_one(".sol-head")),
                shown(col.query_one(".sol-text")),
                shown(screen.query_one("#batch-title")),
            )
        )
        assert len([c for c in screen.columns() if c.display]) <= len(screen.columns())
    return seen


async def test_batch_view_columns_headers_and_picks(make_app, study_template: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_batch(pilot, app)
        info = screen.detail["info"]
        members = sql(
            study_template,
            "SELECT s.idx, s.answer, s.correct, s.text FROM unnest(?::BIGINT[]) WITH ORDINALITY u(sid, pos) "
            "JOIN samples s ON s.sample_id = u.sid ORDER BY u.pos",
            [info["sample_ids"]],
        )
        assert len(screen.detail["members"]) == info["k"] == len(members)
        seen = await walk_members(pilot, app, screen)
        assert [pos for pos, *_ in seen] == list(range(len(members)))
        for (pos, head, body, title), (idx, answer, correct, text) in zip(
            seen, members, strict=True
        ):
            assert head.startswith(f"#{pos} idx {idx} ") and f"ans {answer}" in head
            assert ("✓" if correct else "✗") in head
            assert re.search(r"\ndpp -?\d+\.\d\d", head), head
            assert body == text.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
            assert f"of {len(members)}" in title
        picks = shown(screen.query_one("#picks"))
        stored = sql(
            study_template,
            "SELECT aggregator, correct FROM draw_outcomes WHERE draw_id = ?",
            [info["draw_id"]],
        )
        for agg, ok in stored:
            line = next(x for x in picks.splitlines() if x.startswith(agg))
            assert ("✓" if ok else "✗") in line
        title = shown(screen.query_one("#batch-title"))
        assert "p-alpha" in title and "draw 1/6" in title
        await pilot.press("n")
        await settle(pilot, app)
        assert "draw 2/6" in shown(screen.query_one("#batch-title"))
        await pilot.press("p", "p")
        await settle(pilot, app)
        assert "draw 6/6" in shown(screen.query_one("#batch-title"))
        await pilot.press("escape")
        await settle(pilot, app)
        await pilot.press("down", "enter")
        await settle(pilot, app)
        assert app.screen is screen
        title = shown(screen.query_one("#batch-title"))
        assert title.startswith("p-beta") and "draw 1/6" in title
        cur = screen.current_batch()
        want = sql(
            study_template,
            "SELECT draw_id, sample_ids FROM draws WHERE problem_id = 'p-beta' "
            "AND temperature = 0.5 ORDER BY k, rep LIMIT 1",
        )[0]
        assert (cur["draw_id"], cur["sample_ids"]) == (want[0], want[1])
        assert (cur["problem_id"], cur["temperature"], cur["k"]) == ("p-beta", 0.5, len(want[1]))
        seen = await walk_members(pilot, app, screen)
        assert [body for *_, body, _ in seen] == [
            t
            for (t,) in sql(
                study_template,
                "SELECT s.text FROM unnest(?::BIGINT[]) WITH ORDINALITY u(sid, pos) "
                "JOIN samples s ON s.sample_id = u.sid ORDER BY u.pos",
                [want[1]],
            )
        ]


async def test_hostile_model_text_is_shown_literally(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_batch(pilot, app)
        await pilot.press("d")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = "8"
        await pilot.press("enter")
        await settle(pilot, app)
        seen = await walk_members(pilot, app, screen)
        assert len(seen) == 8
        texts = {body for _, _, body, _ in seen}
        assert all(re.search(r"\ndpp -?\d+\.\d\d", head) for _, head, _, _ in seen)
        assert "[bold red]x[/] is the answer \\boxed{7}" in texts
        assert "[link=https://evil.example]click[/link] so \\boxed{7}" in texts
        assert "\\x1b[31mred\\x1b[0m and \\x1b]0;title\\x07 then \\boxed{3}" in texts
        assert "a lone [ bracket and $\\frac{1}{2}$ gives \\boxed{7}" in texts
        for t in screen.query(SolutionText):
            content = t.render()
            assert "\x1b" not in str(content) and "\x07" not in str(content)
            assert all("link" not in str(span.style) for span in content.spans)
            for y in range(t.size.height):  # what is drawn: no escapes, no hyperlinks
                for seg in t.render_line(y):
                    assert "\x1b" not in seg.text and "\x07" not in seg.text
                    assert seg.style is None or seg.style.link is None
        assert len(HOSTILE) == 4


async def test_fresh_draw_rerun_full_screen_compare_and_export(
    make_app, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_batch(pilot, app)
        await pilot.press("d")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = "5"
        await pilot.press("enter")
        await settle(pilot, app)
        assert len(screen.detail["members"]) == 5
        title = shown(screen.query_one("#batch-title"))
        assert "fresh draw of 5" in title and "k=5" in title
        cur = screen.current_batch()
        assert cur["draw_id"] is None and cur["k"] == 5 and len(set(cur["sample_ids"])) == 5
        assert (cur["scorer"], cur["embedder"]) == ("orm:test-rm", "test-embedder@8")
        await pilot.press("r")
        await pilot.pause()
        await pilot.click("#rerun-go")
        await settle(pilot, app)
        assert "rerun: scorer=orm:test-rm embedder=test-embedder@8 weighted=yes" in shown(
            screen.query_one("#picks")
        )
        await pilot.press("right")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, ViewerScreen)
        second = screen.detail["members"][1]
        assert shown(app.screen.query_one("#viewer-body")) == second["text"].replace(
            "\x1b", "\\x1b"
        ).replace("\x07", "\\x07")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("m", "right", "c")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        left = shown(app.screen.query_one("#cmp-left"))
        assert left == second["text"].replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        await pilot.press("escape")
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = "b.csv"
        await pilot.press("enter")
        await settle(pilot, app)
        lines = (tmp_path / "b.csv").read_text().splitlines()
        assert lines[0].startswith(
            "problem_id,draw_id,run_id,temperature,k,gold_answer,question,position,sample_id,idx,text"
        )
        import csv

        rows = list(csv.DictReader((tmp_path / "b.csv").open()))
        assert len(rows) == 5 and [int(r["position"]) for r in rows] == list(range(5))


async def test_f1_help_and_remapped_keys(make_app) -> None:
    app = make_app(keymap={"problems.clear": "z"})
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = shown(app.screen.query_one("#help-text"))
        assert "bucket=METRIC:N:B" in text
        assert "z  Clear filters" in text
        await pilot.press("escape")
        await type_filter(pilot, app, "T=1")
        assert len(table_rows(app)) == 3
        app.screen.query_one("#problems").focus()
        await pilot.press("z")
        await settle(pilot, app)
        assert len(table_rows(app)) == 6


async def test_command_palette_reaches_screens_and_actions(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to problems")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.current_mode == "problems"
        assert len(table_rows(app)) == 6


async def test_only_rows_on_screen_are_formatted_and_scrolling_shows_the_rest(
    make_app, study_template: Path
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 12)) as pilot:
        await to_problems(pilot, app)
        dt = app.screen.query_one("#problems")
        assert dt.size.height < 1 + dt.row_count
        assert set(dt._cache) == set(range(dt.size.height - 1))
        lines = painted(app)
        assert lines[0].split()[:3] == ["problem", "T", "question"]
        assert [ln.split()[0] for ln in lines[1:]] == column(app, "problem")[: len(lines) - 1]
        await pilot.press("end")
        await settle(pilot, app)
        last = painted(app)[-1]
        want = sql(
            study_template,
            "SELECT DISTINCT problem_id, temperature FROM samples ORDER BY 1 DESC, 2 DESC LIMIT 1",
        )[0]
        assert last.split()[:2] == [want[0], f"{want[1]:g}"]
        assert dt.cursor_row == dt.row_count - 1
        second = (column(app, "problem")[1], float(column(app, "T")[1]))
        await pilot.press("home", "down", "o")
        await settle(pilot, app)
        assert isinstance(app.screen, BatchScreen)
        cur = app.screen.current_batch()
        assert (cur["problem_id"], cur["temperature"]) == second
