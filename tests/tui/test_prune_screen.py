"""Pilot tests of the pruning screen: what it shows against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from divtui.engine.prune import run_prune
from divtui.tui.screens.prune import COMPUTED, STORED, PruneScreen

from .conftest import SIZE, settle

pytestmark = pytest.mark.asyncio


async def open_pruning(pilot, app) -> PruneScreen:
    """Problems, filter to the k=4 draws at T=0.5, open the first, press k."""
    await settle(pilot, app)
    await pilot.press("f3")
    await settle(pilot, app)
    await pilot.press("slash", *"T=0.5 k=4", "enter")
    await settle(pilot, app)
    await pilot.press("enter")
    await settle(pilot, app)
    await pilot.press("k")
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
