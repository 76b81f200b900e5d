"""Pools above LARGE_POOL (pairs computed inside draws, in chunks) give the values of the full
(n, n) matrices: metrics, picks, stored draw and pruning tables, neighbourhood quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine import metrics as mt
from divtui.engine import pool as pool_mod
from divtui.engine.draws import draw_indices, evaluate, run_draws
from divtui.engine.pool import (
    embedding_lookup,
    load_pools,
    ngram_incidence,
    precompute,
    reward_lookup,
)
from divtui.engine.prune import neighbourhood_quality, run_prune
from divtui.engine.specs import DrawSpec, PruneSpec
from divtui.store import open_db
from tests import test_prune
from tests.test_draws import make_study


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcde"), max_size=9).map(" ".join), min_size=1, max_size=12),
    st.integers(1, 3),
    st.integers(0, 2**32 - 1),
)
def test_sparse_distinct_n_equals_the_bitsets(texts: list[str], n: int, seed: int) -> None:
    indptr, ids, n_grams, totals = ngram_incidence(texts, n)
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, len(texts) + 1))
    idx = np.stack([rng.permutation(len(texts))[:k] for _ in range(7)])
    want = mt.distinct_n(mt.gram_bits(indptr, ids, n_grams), totals, idx)
    np.testing.assert_array_equal(mt.distinct_n_sparse(indptr, ids, totals, idx), want)


def _pools(path: Path) -> list:
    con = open_db(path, read_only=True)
    rew = {s: reward_lookup(con, s) for s in ("orm:a", "prob:b")}
    emb = {"emb@8": embedding_lookup(con, "emb@8")}
    pools = load_pools(con, "r", ["p0", "p1", "p2"], rew, emb)
    con.close()
    return pools


def _as_large(monkeypatch: pytest.MonkeyPatch, budget: int = 2000) -> None:
    """Every pool counts as large, and chunks hold a few draws only."""
    monkeypatch.setattr(pool_mod, "LARGE_POOL", 0)
    monkeypatch.setattr(pool_mod, "PAIR_BUDGET", budget)


def test_evaluate_on_pairs_equals_full_matrices(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_study(db_path, n=9)
    for pool in _pools(db_path):
        full = precompute(pool)
        with monkeypatch.context() as m:
            _as_large(m, budget=100)
            pairs = precompute(pool)
            assert pairs.bleu is None and pairs.gram_bits is None and pairs.pairs.ngrams
            for k in (1, 2, 5, pool.n):
                idx = draw_indices(3, pool.run_id, pool.problem_id, pool.temperature, k, pool.n, 40)
                if 1 < k < pool.n:  # chunked: more distinct draws than a block holds
                    assert pairs.pairs.row_block(k) < len(idx)
                got = evaluate(pool, pairs, idx, quality="both")
                want = evaluate(pool, full, idx, quality="both")
                assert got.metrics.keys() == want.metrics.keys()
                for key, v in want.metrics.items():
                    np.testing.assert_allclose(got.metrics[key], v, rtol=1e-12, atol=1e-12)
                assert got.picks.keys() == want.picks.keys()
                for key, v in want.picks.items():
                    np.testing.assert_array_equal(got.picks[key], v)
                np.testing.assert_array_equal(
                    pairs.pairs.bleu_of(idx), full.bleu[idx[:, :, None], idx[:, None, :]]
                )


def _tables(con) -> dict[str, list]:
    return {
        t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("draws", "draw_metrics", "draw_outcomes")
    }


def _same_rows(got: list, want: list) -> None:
    """Equal row lists, floats to 1e-12."""
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            if isinstance(y, float):
                assert x == pytest.approx(y, rel=1e-12, abs=1e-12)
            else:
                assert x == y


def test_run_draws_on_large_pools_stores_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, big = tmp_path / "ref.duckdb", tmp_path / "big.duckdb"
    for path in (ref, big):
        make_study(path, problems=3)
    con = open_db(ref)
    run_draws(con, DrawSpec(sizes=[2, 5, 7], reps=9, seed=4, quality="both"), notice=lambda _: None)
    want = _tables(con)
    con.close()
    _as_large(monkeypatch)
    con = open_db(big)
    run_draws(con, DrawSpec(sizes=[2, 5, 7], reps=9, seed=4, quality="both"), notice=lambda _: None)
    got = _tables(con)
    con.close()
    for name in want:
        _same_rows(got[name], want[name])


def test_run_prune_and_neighbours_on_large_pools_equal_full_matrices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, big = tmp_path / "ref.duckdb", tmp_path / "big.duckdb"
    for path in (ref, big):
        test_prune.build_study(path, problems=3, orm=True, seed=3)
    args = {"metrics": ["sbert", "bleu", "orm"], "sizes": [6, 8], "keep": [1, 2, 4]}
    out = {}
    for path in (ref, big):
        if path == big:
            _as_large(monkeypatch, budget=600)
        con = open_db(path)
        stats = run_prune(con, PruneSpec(weighted=True, **args), notice=lambda _: None)
        rows = con.execute("SELECT * FROM prune_outcomes ORDER BY ALL").fetchall()
        out[path] = (rows, stats["neighbours"], neighbourhood_quality(con))
        con.close()
    assert out[big][0] == out[ref][0] and len(out[ref][0]) > 0
    assert out[big][1] == out[ref][1] and out[big][2] == out[ref][2]
    assert {r["metric"] for r in out[ref][1]} == {"sbert", "bleu", "orm"}
