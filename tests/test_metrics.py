"""Diversity metrics against brute force on random pools: numpy per subset, sets of tuples."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine import metrics as mt
from divtui.engine.draws import draw_indices
from divtui.engine.pool import cosine_matrix, ngram_incidence


def random_unit(rng: np.random.Generator, n: int, dim: int = 16, dups: int = 2) -> np.ndarray:
    """Random unit vectors, some of them exact or near duplicates of row 0."""
    x = rng.normal(size=(n, dim))
    x[1 : 1 + dups] = x[0] + rng.normal(scale=1e-3, size=(dups, dim)) * rng.integers(0, 2)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(6))
def test_cosine_dpp_near_dups_against_numpy_per_subset(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k, reps = 12, int(rng.integers(2, 7)), 25
    unit = random_unit(rng, n)
    mlp = -rng.random(n)
    idx = draw_indices(seed, "r", "p", 0.5, k, n, reps)
    sub = mt.gather(cosine_matrix(unit), idx)
    cos, dpp = mt.cosine_sim(sub), mt.dpp(sub)
    qual, near = mt.qual_dpp(dpp, mlp[idx]), mt.near_dup_pairs(sub)
    for r in range(reps):
        e = unit[idx[r]]
        s = e @ e.T
        np.fill_diagonal(s, 1.0)
        pairs = list(itertools.combinations(range(k), 2))
        assert cos[r] == pytest.approx(np.mean([float(e[i] @ e[j]) for i, j in pairs]), abs=1e-12)
        want = np.log(np.linalg.det(s + 1e-6 * np.eye(k)))
        assert dpp[r] == pytest.approx(want, abs=1e-6)
        q = np.exp(mlp[idx[r]])
        want_q = np.log(np.linalg.det(np.diag(q) @ (s + 1e-6 * np.eye(k)) @ np.diag(q)))
        assert qual[r] == pytest.approx(want_q, abs=1e-6)
        assert near[r] == sum(float(e[i] @ e[j]) >= 0.98 for i, j in pairs)


@pytest.mark.parametrize("seed", range(6))
def test_dpp_contribution_equals_leave_one_out(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    k = int(rng.integers(2, 8))
    unit = random_unit(rng, k, dups=1)
    s = cosine_matrix(unit)
    got = mt.dpp_contributions(s)
    full = np.linalg.slogdet(s + 1e-6 * np.eye(k))[1]
    for i in range(k):
        rest = np.delete(np.delete(s, i, 0), i, 1)
        without = np.linalg.slogdet(rest + 1e-6 * np.eye(k - 1))[1] if k > 1 else 0.0
        assert got[i] == pytest.approx(full - without, abs=1e-5)
    near = mt.near_dup_members(s)
    for i in range(k):
        assert near[i] == any(float(unit[i] @ unit[j]) >= 0.98 for j in range(k) if j != i)


words = st.sampled_from(["a", "b", "c", "x", "=", "1"])


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.lists(words, max_size=12).map(" ".join), min_size=1, max_size=10),
    st.integers(1, 4),
    st.integers(0, 2**31),
)
def test_distinct_n_equals_set_of_tuples(texts: list[str], n: int, seed: int) -> None:
    indptr, ids, n_grams, totals = ngram_incidence(texts, n)
    bits = mt.gram_bits(indptr, ids, n_grams)
    k = 1 + seed % len(texts)
    idx = draw_indices(seed, "r", "p", 0.7, k, len(texts), 5)
    assert len(idx) == min(5, math.comb(len(texts), k))  # small pools: every subset once
    got = mt.distinct_n(bits, totals, idx)
    for r in range(len(idx)):
        grams = []
        for i in idx[r]:
            toks = texts[i].split()
            grams += [tuple(toks[j : j + n]) for j in range(len(toks) - n + 1)]
        if grams:
            assert got[r] == pytest.approx(len(set(grams)) / len(grams), abs=1e-12)
        else:
            assert np.isnan(got[r])
