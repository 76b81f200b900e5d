"""Pilot tests of the pruning screen: what it shows against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from divtui.engine.prune import run_prune
from divtui.engine.specs import PruneSpec
from divtui.store import open_db
from divtui.tui.screens.prune import COMPUTED, COMPUTED_NO_WEIGHTED, STORED, PruneScreen

from .conftest import SIZE, settle
from .tui_fixtures import EMBEDDER, SCORER


async def open_pruning(pilot, app, key: str = "k") -> PruneScreen:
    """Problems, filter to the k=4 draws at T=0.5, open the first, press ``key``."""
    await settle(pilot, app)
    await pilot.press("f3")
    await settle(pilot, app)
    await pilot.press("slash", *"T=0.5 k=4", "enter")
    await settle(pilot, app)
    await pilot.press("enter")
    await settle(pilot, app)
    await pilot.press(key)
    await settle(pilot, app)
    assert isinstance(app.screen, PruneScreen)
    return app.screen


def member_rows(app, sample_ids: list[int]) -> list[tuple]:
    """(text, correct, reward, embedding) of each sample, in the order given (plain SQL)."""
    cur = app.con.cursor()
    try:
        rows = cur.execute(
            """SELECT s.sample_id, s.text, s.correct, c.value, e.vec FROM samples s
               JOIN scores c USING (sample_id) JOIN embeddings e USING (sample_id)
               WHERE list_contains(?, s.sample_id)""",
            [sample_ids],
        ).fetchall()
    finally:
        cur.close()
    by = {r[0]: r[1:] for r in rows}
    return [by[s] for s in sample_ids]


def sbert_distance(vecs: list[list[float]]) -> np.ndarray:
    """1 - cosine of the normalised vectors, by plain loops."""
    k = len(vecs)
    d = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            a, b = np.asarray(vecs[i]), np.asarray(vecs[j])
            d[i, j] = 0.0 if i == j else 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return d


def bleu_distance(texts: list[str]) -> np.ndarray:
    """1 - symmetric sentence-BLEU / 100 with sacrebleu itself."""
    bleu = BLEU(effective_order=True)
    k = len(texts)
    b = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            if i != j:
                b[i, j] = bleu.sentence_score(texts[i], [texts[j]]).score
    d = 1.0 - (b + b.T) / 200.0
    np.fill_diagonal(d, 0.0)
    return d


def check_result(res: dict, rows: list[tuple], d: np.ndarray) -> None:
    """Clusters, random subset and picks against plain computations on the members."""
    k, m = len(rows), res["m"]
    meds = res["medoids"]
    assert len(meds) == m == len(set(meds)) and sorted(meds) == meds
    for i, lab in enumerate(res["labels"]):
        if i in meds:
            assert lab == i
        else:
            best = min(d[i, j] for j in meds)
            assert lab in meds and d[i, lab] == pytest.approx(best, abs=1e-6)
            assert lab == next(j for j in meds if d[i, j] <= best + 1e-6)
    assert sum(res["sizes"]) == k
    assert res["sizes"] == [res["labels"].count(j) for j in meds]
    rnd = res["random"]
    assert len(rnd) == m == len(set(rnd)) and all(0 <= i < k for i in rnd)
    for selector, kept in (("medoids", meds), ("random", rnd)):
        picks = res["picks"][selector]
        assert picks["coverage"]["correct"] == any(rows[i][1] for i in kept)
        best = max(rows[i][2] for i in kept)
        bst = next(i for i in kept if rows[i][2] == best)
        assert picks["bst"]["position"] == bst
        assert picks["bst"]["correct"] == rows[bst][1]


@pytest.mark.asyncio
async def test_k_opens_pruning_and_keys_change_m_metric_weighting(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_pruning(pilot, app)
        rows = member_rows(app, screen.result["sample_ids"])
        assert screen.metric == "sbert" and screen.m == 2 and not screen.weighted
        check_result(screen.result, rows, sbert_distance([r[3] for r in rows]))
        title = str(screen.query_one("#prune-title").render())
        assert "metric sbert" in title and "m=2" in title and "N=4" in title
        members = str(screen.query_one("#prune-members").render())
        for med in screen.result["medoids"]:
            assert f"cluster of #{med}" in members and f"★ #{med}" in members
        await pilot.press("plus")
        await settle(pilot, app)
        assert screen.m == 3 and screen.result["m"] == 3
        check_result(screen.result, rows, sbert_distance([r[3] for r in rows]))
        await pilot.press("s")
        await settle(pilot, app)
        assert screen.metric == "bleu" and screen.result["metric"] == "bleu"
        check_result(screen.result, rows, bleu_distance([r[0] for r in rows]))
        for _ in range(5):
            await pilot.press("minus")
        await pilot.press("w")
        await settle(pilot, app)
        assert screen.m == 1 and screen.weighted and screen.result["weighted"]
        check_result(screen.result, rows, bleu_distance([r[0] for r in rows]))
        await pilot.press("escape")
        await settle(pilot, app)
        assert not isinstance(app.screen, PruneScreen)


@pytest.mark.asyncio
async def test_curve_is_computed_for_the_draw_without_stored_rows(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_pruning(pilot, app)
        rows, source, _ = screen.curves[("sbert", False)]
        assert source == COMPUTED
        assert "computed for this draw" in str(screen.query_one("#prune-curve-source").render())
        members = member_rows(app, screen.result["sample_ids"])
        k = len(members)
        assert sorted({r["m"] for r in rows}) == list(range(1, k + 1))
        full = {(r["selector"], r["aggregator"]): r["accuracy"] for r in rows if r["m"] == k}
        best = max(range(k), key=lambda i: (members[i][2], -i))
        for selector in ("medoids", "random"):
            assert full[(selector, "coverage")] == float(any(m[1] for m in members))
            assert full[(selector, "bst")] == float(members[best][1])
        plot = screen.query_one("#prune-curve")
        assert set(plot.series()) == {"medoids", "random"}
        await pilot.press("a", "a")
        assert plot.aggregator == "bst"
        assert plot.series()["random"][0] == list(range(1, k + 1))


@pytest.mark.asyncio
async def test_curve_from_stored_prune_rows_matches_pandas(study, make_app) -> None:
    con = open_db(study)
    run_prune(con, PruneSpec(metrics=["sbert", "bleu"], sizes=[4], keep=[1, 2, 3, 4], scorer=SCORER, embedder=EMBEDDER), notice=lambda _s: None)  # fmt: skip
    raw = con.execute(
        """SELECT d.draw_id, p.selector, p.metric, p.m, p.weighted, p.aggregator, p.embedder,
                  p.scorer, p.correct
           FROM prune_outcomes p JOIN draws d USING (draw_id)
           WHERE d.problem_id = 'p-alpha' AND d.temperature = 0.5 AND d.k = 4"""
    ).df()
    con.close()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_pruning(pilot, app)
        await pilot.press("s")
        await settle(pilot, app)
        for metric in ("sbert", "bleu"):
            rows, source, draws = screen.curves[(metric, False)]
            assert source == STORED and draws == 3
            sub = raw[
                ((raw.selector == "medoids") & (raw.metric == metric) & ~raw.weighted)
                | (raw.selector == "random")
            ]
            want = sub.groupby(["selector", "m", "aggregator"])["correct"].mean()
            got = {(r["selector"], r["m"], r["aggregator"]): r["accuracy"] for r in rows}
            assert set(got) == set(want.index)
            for key, value in want.items():
                assert got[key] == pytest.approx(value)
        note = str(screen.query_one("#prune-curve-source").render())
        assert "stored `divtui prune` rows (bleu, unweighted), 3 draws of size 4" in note
        assert "stored, unweighted" in screen.query_one("#prune-curve").label
        await pilot.press("w")
        await settle(pilot, app)
        assert screen.weighted and not raw.weighted.any()
        rows, source, draws = screen.curves[("bleu", True)]
        assert source == COMPUTED_NO_WEIGHTED and draws == 1
        assert {r["selector"] for r in rows} == {"medoids", "random"}
        assert screen.query_one("#prune-curve").label == "this draw"
        note = str(screen.query_one("#prune-curve-source").render())
        assert "the stored rows have no weighted bleu medoids" in note
        assert "divtui prune --sizes 4 --metric bleu --weighted" in note


@pytest.mark.asyncio
async def test_a_fresh_draw_is_pruned_too(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_pruning(pilot, app)
        await pilot.press("escape", "d")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = "6"
        await pilot.press("enter")
        await settle(pilot, app)
        batch = app.current_batch()
        assert batch["draw_id"] is None and batch["k"] == 6 and batch["seed"] is not None
        await pilot.press("k")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, PruneScreen)
        assert screen.result["sample_ids"] == batch["sample_ids"]
        rows = member_rows(app, batch["sample_ids"])
        check_result(screen.result, rows, sbert_distance([r[3] for r in rows]))
        title = str(screen.query_one("#prune-title").render())
        assert "fresh draw" in title and "N=6" in title and "m=3" in title
        curve, source, _ = screen.curves[("sbert", False)]
        assert source == COMPUTED and sorted({r["m"] for r in curve}) == list(range(1, 7))


@pytest.mark.asyncio
async def test_member_previews_fill_the_width(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(200, 40)) as pilot:
        screen = await open_pruning(pilot, app)
        pane = screen.query_one("#prune-clusters").content_size.width
        lines = str(screen.query_one("#prune-members").render()).splitlines()
        long = [ln for ln in lines if "Solution" in ln]
        assert long and all(len(ln) <= pane for ln in lines)
        assert max(len(ln) for ln in long) > 48 + 30
        texts = {r[0] for r in member_rows(app, screen.result["sample_ids"])}
        for ln in long:
            start = ln[ln.index("Solution") :].rstrip("…")
            assert any(" ".join(t.split()).startswith(start) for t in texts)


async def _pruning(pilot) -> None:
    """The pruning screen of the first k=4 draw at T=0.5, m=2 in the sbert space."""
    await open_pruning(pilot, pilot.app)
    await settle(pilot, pilot.app)


def test_snapshot_pruning(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_pruning)


@pytest.mark.asyncio
async def test_pruning_keys_are_remappable(make_app) -> None:
    app = make_app({"batch.prune": "z", "prune.more": "j"})
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_pruning(pilot, app, key="z")
        await pilot.press("j")
        await settle(pilot, app)
        assert screen.m == 3 and screen.result["m"] == 3
