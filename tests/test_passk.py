"""pass@k: the unbiased estimator equals the mean of coverage over every k-subset."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from divtui.engine import aggregators as ag
from divtui.engine.passk import pass_at_k, pass_at_k_many


@given(
    st.integers(1, 9).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n)))
)
def test_estimator_equals_exact_binomial_form(args: tuple[int, int, int]) -> None:
    n, c, k = args
    exact = 1 - Fraction(comb(n - c, k), comb(n, k))
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_mean_coverage_over_every_subset_equals_estimator(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 10))
    correct = rng.random(n) < rng.random()
    k = int(rng.integers(1, n + 1))
    subsets = np.array(list(itertools.combinations(range(n), k)))
    hit, _ = ag.coverage(correct[subsets])
    assert hit.mean() == pytest.approx(pass_at_k(n, int(correct.sum()), k), abs=1e-12)


def test_edges_and_bad_input() -> None:
    assert pass_at_k(10, 0, 3) == 0.0
    assert pass_at_k(10, 8, 3) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    got = pass_at_k_many(np.array([4, 2]), np.array([1, 1]), 3)
    assert got[0] == pytest.approx(0.75) and np.isnan(got[1])
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(3, 4, 1)


@pytest.mark.parametrize("seed", range(5))
def test_many_equals_one_pool_at_a_time(seed: int) -> None:
    """The per-distinct-(n, c) computation gives each pool exactly its own pass@k."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 40, size=300)
    c = (rng.random(300) * (n + 1)).astype(np.int64)
    k = int(rng.integers(1, 20))
    want = [pass_at_k(int(a), int(b), k) if a >= k else np.nan for a, b in zip(n, c, strict=True)]
    np.testing.assert_array_equal(pass_at_k_many(n, c, k), np.array(want))
    assert pass_at_k_many(np.array([], dtype=np.int64), np.array([], dtype=np.int64), k).size == 0
