"""Pilot tests of the run comparison screens on the simulated base/tuned pair: the curves, the
crossing, the one-run-only problems and the two pools side by side, against plain SQL and
math.comb; snapshots of both screens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from textual.widgets import DataTable, Select

from divtui.store import open_db
from divtui.tui.app import DivApp
from divtui.tui.commands import DivCommands
from divtui.tui.screens.compare import PoolsScreen, RunCompareScreen, RunPairScreen
from divtui.tui.widgets.passk_plot import PassKPlot

from ..test_run_compare import brute_crossing, comb_pass, sql_pools
from ..two_runs import N_SAMPLES, REPS, two_runs_template
from .conftest import SIZE, settle

HOSTILE_RUN = "[bold]tu\x1bned\u202e"


@pytest.fixture(scope="module")
def pair_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated base/tuned study (built once per session)."""
    return two_runs_template(tmp_path_factory)


@pytest.fixture
def pair_db(pair_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the study for one test."""
    path = tmp_path / "two.duckdb"
    path.write_bytes(pair_template.read_bytes())
    return path


@pytest.fixture
def pair_app(pair_db: Path) -> Iterator[Callable[[], DivApp]]:
    """DivApps on the copy (connections closed after the test)."""
    cons = []

    def make() -> DivApp:
        con = open_db(pair_db, create=False)
        cons.append(con)
        return DivApp(con, "two.duckdb")

    yield make
    for con in cons:
        con.close()


def sql(app: DivApp, query: str, params: list | None = None) -> list[tuple]:
    """Rows of a plain SQL query on the app's open file (a cursor of its connection)."""
    cur = app.con.cursor()
    try:
        return cur.execute(query, params or []).fetchall()
    finally:
        cur.close()


async def open_comparison(pilot, app: DivApp, a: int = 1, b: int = 0) -> RunCompareScreen:
    """c on the overview, sides ``a`` and ``b`` of the picker (sorted: base, tuned), Compare."""
    await settle(pilot, app)
    await pilot.press("c")
    await settle(pilot, app)
    assert isinstance(app.screen, RunPairScreen)
    app.screen.query_one("#pair-a", Select).value = a
    app.screen.query_one("#pair-b", Select).value = b
    await pilot.click("#pair-go")
    await settle(pilot, app)
    assert isinstance(app.screen, RunCompareScreen)
    return app.screen


def shown(screen, selector: str) -> str:
    """The plain text a Static shows."""
    return str(screen.query_one(selector).render())


def expected(db: Path, run_a: str = "tuned", run_b: str = "base") -> dict:
    """Mean pass@k per run for every k and the crossing, from plain SQL and math.comb."""
    pools = sql_pools(db)
    probs = sorted(set(pools[run_a]) & set(pools[run_b]))
    means = {
        s: [
            float(sum(comb_pass(*pools[r][p], k) for p in probs) / len(probs))
            for k in range(1, N_SAMPLES + 1)
        ]
        for s, r in (("a", run_a), ("b", run_b))
    }
    diffs = [b - a for a, b in zip(means["a"], means["b"], strict=True)]

    def solved(run: str, p: str, k: int) -> bool:
        return comb_pass(*pools[run][p], k) >= Fraction(1, 2)

    only = {
        k: {
            p: ("A" if solved(run_a, p, k) else "B")
            for p in probs
            if solved(run_a, p, k) != solved(run_b, p, k)
        }
        for k in range(1, N_SAMPLES + 1)
    }
    return {"means": means, "crossing": brute_crossing(diffs), "only": only}


def table_problems(screen) -> dict[str, str]:
    """problem -> solved-by of the problem list."""
    table = screen.query_one("#rc-problems", DataTable)
    rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
    return {r[0]: r[1] for r in rows}


@pytest.mark.asyncio
async def test_comparison_shows_both_curves_the_crossing_and_the_problems(
    pair_app, pair_db: Path
) -> None:
    want = expected(pair_db)
    cross = want["crossing"]
    assert cross > 1
    app = pair_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_comparison(pilot, app)
        title = shown(screen, "#rc-title")
        assert "A tuned (T=1)" in title and "B base (T=1)" in title
        assert f"crossing at k = {cross}" in title
        curves = screen.query_one(PassKPlot).curves
        assert curves.crossing == cross
        assert curves.ks == sorted({1, 2, 4, 8, cross})
        for s in "ab":
            assert curves.values[s] == pytest.approx([want["means"][s][k - 1] for k in curves.ks])
            assert all(
                lo <= v <= hi
                for lo, v, hi in zip(curves.lo[s], curves.values[s], curves.hi[s], strict=True)
            )
        table = shown(screen, "#rc-table").splitlines()
        marked = [line for line in table if "← crossing" in line]
        assert len(marked) == 1 and marked[0].split()[0] == str(cross)
        assert table_problems(screen) == want["only"][N_SAMPLES]
        assert f"solved at pass@{N_SAMPLES} by one run only" in shown(screen, "#rc-problems-title")

        await pilot.press("minus")
        await settle(pilot, app)
        k = max(k for k in curves.ks if k < N_SAMPLES)
        assert screen.k == k and table_problems(screen) == want["only"][k]
        await pilot.press("plus")
        await settle(pilot, app)
        assert screen.k == N_SAMPLES


@pytest.mark.asyncio
async def test_a_problem_opens_both_pools_classes_and_batches(pair_app, pair_db: Path) -> None:
    app = pair_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_comparison(pilot, app)
        for _ in range(2):
            await pilot.press("minus")
            await settle(pilot, app)
        k = screen.k
        assert k in (2, 3, 4)
        table = screen.query_one("#rc-problems", DataTable)
        assert table.row_count > 0
        problem = str(table.get_row_at(0)[0])
        table.focus()
        await pilot.press("enter")
        await settle(pilot, app)
        pools = app.screen
        assert isinstance(pools, PoolsScreen) and pools.problem_id == problem
        q = sql(app, "SELECT question, gold_answer FROM problems WHERE problem_id = ?", [problem])[
            0
        ]
        assert q[1] in shown(pools, "#pp-title")
        for s, run in (("a", "tuned"), ("b", "base")):
            text = shown(pools, f"#pp-classes-{s}")
            n, c = sql(
                app,
                "SELECT count(*), sum(correct::INT) FROM samples WHERE run_id = ? AND problem_id = ?",
                [run, problem],
            )[0]
            assert f"{c}/{n} correct, pass@{k} {float(comb_pass(n, c, k)):.3f}" in text
            classes = sql(
                app,
                """SELECT count(*), arg_min(correct, idx), arg_min(coalesce(answer, '(no answer)'), idx)
                   FROM samples WHERE run_id = ? AND problem_id = ? GROUP BY answer_class
                   ORDER BY count(*) DESC, min(idx)""",
                [run, problem],
            )
            lines = [ln.split(maxsplit=2) for ln in text.splitlines()[3:] if ln.strip()]
            assert [(int(x[0]), x[1], x[2]) for x in lines] == [
                (cnt, "✓" if ok else "✗", ans) for cnt, ok, ans in classes
            ]
            batch = shown(pools, f"#pp-batch-{s}")
            draws = sql(
                app,
                "SELECT sample_ids FROM draws WHERE run_id = ? AND problem_id = ? AND k = ? ORDER BY seed, rep",
                [run, problem, k],
            )
            if draws:
                assert batch.startswith(f"stored draw 1 of {REPS} (k={k}, rep 0)")
                idx = sql(
                    app,
                    "SELECT idx FROM samples WHERE list_contains(?, sample_id)",
                    [list(draws[0][0])],
                )
                assert sorted(
                    int(line.split()[1]) for line in batch.splitlines() if line.startswith("idx ")
                ) == sorted(i for (i,) in idx)
            else:
                assert batch.startswith(f"fresh random batch of {k}")
        await pilot.press("n")
        await settle(pilot, app)
        assert "stored draw 2 of" in shown(pools, "#pp-batch-a") or "seed 1" in shown(
            pools, "#pp-batch-a"
        )
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, RunCompareScreen)


@pytest.mark.asyncio
async def test_palette_offers_the_comparison_and_one_run_at_two_temperatures(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        titles = [t for t, _, _ in DivCommands(app.screen, None)._commands()]  # type: ignore[arg-type]
        assert "Compare runs" in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Compare runs")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RunPairScreen)
        await pilot.click("#pair-go")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, RunCompareScreen)
        assert (screen.a.temperature, screen.b.temperature) == (0.5, 1.0)
        title = shown(screen, "#rc-title")
        assert (
            "A run-a (T=0.5)" in title and "B run-a (T=1)" in title and "3 shared problems" in title
        )


@pytest.mark.asyncio
async def test_hostile_run_names_are_shown_as_text(pair_app, pair_db: Path) -> None:
    con = open_db(pair_db)
    for table in ("runs", "samples", "draws"):
        con.execute(f"UPDATE {table} SET run_id = ? WHERE run_id = 'tuned'", [HOSTILE_RUN])
    con.close()
    app = pair_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_comparison(pilot, app, a=0, b=1)
        title = screen.query_one("#rc-title").render()
        plain = str(title)
        assert "[bold]tu\\x1bned" in plain and "\x1b" not in plain and "\u202e" not in plain
        assert screen.query_one(PassKPlot).curves.labels["a"] == "A [bold]tu\\x1bned\\u202e"


async def _comparison(pilot) -> None:
    """The comparison of tuned (A) against base (B)."""
    await open_comparison(pilot, pilot.app)


async def _pools(pilot) -> None:
    """The first one-run-only problem's pools at K = 4."""
    screen = await open_comparison(pilot, pilot.app)
    while screen.k > 4:
        await pilot.press("minus")
        await settle(pilot, pilot.app)
    screen.query_one("#rc-problems").focus()
    await pilot.press("enter")
    await settle(pilot, pilot.app)


def test_snapshot_comparison(snap_compare, pair_app) -> None:
    assert snap_compare(pair_app(), terminal_size=SIZE, run_before=_comparison)


def test_snapshot_pools(snap_compare, pair_app) -> None:
    assert snap_compare(pair_app(), terminal_size=SIZE, run_before=_pools)
