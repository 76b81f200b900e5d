"""BLEU from split sparse/dense n-gram counts equals the dense path and sacrebleu itself: all
pairs, row blocks and pairs inside draws, on random pools with empty, one-token and repetitive
texts, whichever columns go dense."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine import bleu_pairs as bp
from divtui.engine.bleu import pairwise_bleu_dense

WORDS = ["a", "b", "the", "x", "=", "1", "2.5", "3,000", "-4", "(x+1)", "\\frac{1}{2}", "a.", ",b"]

texts = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(["a", "a", "b"]), max_size=14).map(" ".join),
    st.sampled_from(["", " ", "a", "x", "a a a a a a", "a b a b a b a b", "&amp; <skipped> x-\ny"]),
)


def draws_of(rng: np.random.Generator, n: int, k: int, reps: int) -> np.ndarray:
    """Random k-subsets (reps, k) of range(n), members in random order."""
    return np.stack([rng.permutation(n)[:k] for _ in range(reps)])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(texts, min_size=1, max_size=14),
    st.sampled_from([0.0, 1 / 16, 0.5, 1.0]),
    st.integers(0, 2**32 - 1),
)
def test_split_counts_equal_the_dense_path(pool: list[str], fraction: float, seed: int) -> None:
    dense = pairwise_bleu_dense(pool)
    old = bp.DENSE_FRACTION
    bp.DENSE_FRACTION = fraction
    try:
        ng = bp.pool_ngrams_of_texts(pool)
        np.testing.assert_array_equal(bp.pairwise_bleu_from_ngrams(ng, block_rows=3), dense)
        rng = np.random.default_rng(seed)
        n = len(pool)
        rows = rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False)
        as_hyp, as_ref = bp.bleu_rows(ng, rows)
        np.testing.assert_array_equal(as_hyp, dense[rows])
        np.testing.assert_array_equal(as_ref, dense[:, rows].T)
        k = int(rng.integers(1, n + 1))
        idx = draws_of(rng, n, k, 5)
        np.testing.assert_array_equal(
            bp.bleu_within(ng, idx), dense[idx[:, :, None], idx[:, None, :]]
        )
    finally:
        bp.DENSE_FRACTION = old


@pytest.mark.parametrize("n", [40, 300])
def test_long_texts_equal_sacrebleu_on_random_pairs(n: int) -> None:
    rng = np.random.default_rng(n)
    vocab = np.array([f"w{i}" for i in range(200)] + ["=", "+", "$x$", "the", "2.", "3,", "-1"])
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    phrases = [" ".join(rng.choice(vocab, size=12, p=zipf / zipf.sum())) for _ in range(30)]
    pool = [
        " ".join(phrases[int(i)] for i in rng.integers(0, 30, size=int(rng.integers(0, 25))))
        for _ in range(n)
    ]
    pool[3] = ""
    pool[5] = "x"
    pool[7] = pool[8]
    ng = bp.pool_ngrams_of_texts(pool)
    assert any(o.dense.shape[1] for o in ng.orders) and any(o.sparse.nnz for o in ng.orders)
    idx = draws_of(rng, n, 16, 6)
    within = bp.bleu_within(ng, idx)
    full = bp.pairwise_bleu(pool)
    np.testing.assert_array_equal(within, full[idx[:, :, None], idx[:, None, :]])
    if n <= 40:
        np.testing.assert_array_equal(full, pairwise_bleu_dense(pool))
    for r, a, b in rng.integers(0, [6, 16, 16], size=(60, 3)):
        i, j = idx[r, a], idx[r, b]
        want = sacrebleu.sentence_bleu(pool[i], [pool[j]]).score
        assert within[r, a, b] == pytest.approx(want, rel=1e-12, abs=1e-12)
