"""engine.stats against independent computations: scipy, textbook formulas, plain-loop bootstraps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as ss
from hypothesis import assume, given, settings
from hypothesis import strategies as st_

from divtui.engine import stats

finite = st_.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def _arrays(draw: st_.DrawFn, n: int, kind: str) -> np.ndarray:
    """A random array of length n: continuous, coarse (many ties) or 0/1."""
    if kind == "binary":
        return np.array(draw(st_.lists(st_.integers(0, 1), min_size=n, max_size=n)), float)
    if kind == "coarse":
        return np.array(draw(st_.lists(st_.integers(-3, 3), min_size=n, max_size=n)), float)
    return np.array(draw(st_.lists(finite, min_size=n, max_size=n)), float)


@st_.composite
def pairs(draw: st_.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three equal-length random columns of mixed kinds, none constant."""
    n = draw(st_.integers(4, 40))
    kinds = st_.sampled_from(["continuous", "coarse", "binary"])
    cols = [_arrays(draw, n, draw(kinds)) for _ in range(3)]
    for c in cols:
        if np.ptp(c) == 0:
            c[0] += 1.0
    return cols[0], cols[1], cols[2]


def _spread(*cols: np.ndarray) -> bool:
    """Every column varies well above rounding (the statistics are ill-posed otherwise)."""
    return all(np.std(c) > 1e-6 * (np.abs(c).max() + 1) for c in cols)


def _close(a: float, b: float, tol: float = 1e-9) -> bool:
    """Equal within tol, or both undefined."""
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


@settings(max_examples=150, deadline=None)
@given(pairs())
def test_pearson_and_spearman_match_scipy(cols: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, y, _ = cols
    assume(_spread(x, y))
    assert _close(stats.pearson(x, y), float(ss.pearsonr(x, y)[0]), 1e-7)
    assert _close(stats.spearman(x, y), float(ss.spearmanr(x, y)[0]), 1e-9)


def _textbook_partial(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2))."""
    r = np.corrcoef([x, y, z])
    return (r[0, 1] - r[0, 2] * r[1, 2]) / math.sqrt((1 - r[0, 2] ** 2) * (1 - r[1, 2] ** 2))


def _lstsq_partial(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Pearson of the residuals of x and y regressed on [1, z] with numpy.linalg.lstsq."""
    a = np.column_stack([np.ones_like(z), z])
    rx = x - a @ np.linalg.lstsq(a, x, rcond=None)[0]
    ry = y - a @ np.linalg.lstsq(a, y, rcond=None)[0]
    return float(np.corrcoef(rx, ry)[0, 1])


@settings(max_examples=150, deadline=None)
@given(pairs())
def test_partial_correlation_matches_textbook_and_residual_regression(
    cols: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    x, y, z = cols
    r = np.corrcoef([x, y, z])
    assume(_spread(x, y, z) and np.isfinite(r).all() and max(abs(r[0, 2]), abs(r[1, 2])) < 0.999)
    got = stats.partial_corr(x, y, z)
    assert _close(got, _textbook_partial(x, y, z), 1e-6)
    assert _close(got, _lstsq_partial(x, y, z), 1e-6)


def test_constant_column_gives_undefined_correlation() -> None:
    x = np.full(10, 0.3)
    y = np.arange(10.0)
    assert math.isnan(stats.pearson(x, y))
    assert math.isnan(stats.spearman(x, y))
    res = stats.correlate(x, y, np.arange(10), n_boot=50)
    assert res["pearson"] is None and res["n"] == 10


def _study(rng: np.random.Generator, n_groups: int) -> tuple[np.ndarray, ...]:
    """Draws of n_groups problems (1-6 draws each): a metric, a 0/1 outcome, a control, groups."""
    sizes = rng.integers(1, 7, n_groups)
    groups = np.repeat(np.arange(n_groups), sizes)
    z = rng.normal(size=groups.size)
    x = np.round(rng.normal(size=groups.size) + 0.5 * z, 1)
    y = (rng.random(groups.size) < 1 / (1 + np.exp(-x))).astype(float)
    return x, y, z, groups


def _loop_bootstrap(
    idx: np.ndarray, groups: np.ndarray, stat: object, *cols: np.ndarray
) -> np.ndarray:
    """The statistic recomputed, one resample at a time, on all draws of the resampled problems."""
    members = [np.flatnonzero(groups == g) for g in range(groups.max() + 1)]
    out = []
    for row in idx:
        take = np.concatenate([members[g] for g in row])
        sub = [c[take] for c in cols]
        if any(np.ptp(c) == 0 for c in sub):
            out.append(math.nan)
        else:
            out.append(float(stat(*sub)))  # type: ignore[operator]
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_bootstrap_matches_plain_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_groups = int(rng.integers(5, 25))
    x, y, z, groups = _study(rng, n_groups)
    idx = stats.bootstrap_indices(n_groups, 120, seed)
    w = stats.bootstrap_weights(idx, n_groups)
    for row, weights in zip(idx, w, strict=True):
        assert np.array_equal(np.bincount(row, minlength=n_groups), weights)
    cases = [
        (stats.boot_pearson(x, y, groups, w), lambda a, b: ss.pearsonr(a, b)[0], (x, y)),
        (stats.boot_spearman(x, y, groups, w), lambda a, b: ss.spearmanr(a, b)[0], (x, y)),
        (stats.boot_partial(x, y, z, groups, w), _lstsq_partial, (x, y, z)),
    ]
    for got, fn, cols in cases:
        want = _loop_bootstrap(idx, groups, fn, *cols)
        assert np.allclose(got, want, atol=1e-8, equal_nan=True)
        ci = stats.percentile_ci(got)
        ok = want[np.isfinite(want)]
        assert ci == pytest.approx(tuple(np.percentile(ok, [2.5, 97.5])), abs=1e-8)


def test_correlate_uses_the_seeded_indices() -> None:
    rng = np.random.default_rng(7)
    x, y, z, groups = _study(rng, 15)
    res = stats.correlate(x, y, groups, z=z, n_boot=200, seed=11)
    idx = stats.bootstrap_indices(15, 200, 11)
    loop = _loop_bootstrap(idx, groups, lambda a, b: ss.spearmanr(a, b)[0], x, y)
    assert res["spearman_ci"].bounds == pytest.approx(
        tuple(np.percentile(loop[np.isfinite(loop)], [2.5, 97.5])), abs=1e-8
    )
    assert res["spearman_ci"].n_valid == int(np.isfinite(loop).sum())
    assert res["partial"] == pytest.approx(_textbook_partial(x, y, z), abs=1e-9)
    assert res == stats.correlate(x, y, groups, z=z, n_boot=200, seed=11)
    assert res != stats.correlate(x, y, groups, z=z, n_boot=200, seed=12)


def test_missing_values_are_left_out() -> None:
    rng = np.random.default_rng(3)
    x, y, _, groups = _study(rng, 10)
    x2 = x.copy()
    x2[::4] = np.nan
    keep = np.isfinite(x2)
    res = stats.correlate(x2, y, groups, n_boot=0)
    assert res["n"] == int(keep.sum())
    assert res["pearson"] == pytest.approx(ss.pearsonr(x[keep], y[keep])[0], abs=1e-9)


@pytest.mark.parametrize("seed", [0, 5])
def test_mean_with_ci_matches_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 10, 20).astype(float)
    hits = np.floor(rng.random(20) * (counts + 1))
    point, ci = stats.mean_with_ci(hits, counts, n_boot=300, seed=seed)
    assert point == pytest.approx(hits.sum() / counts.sum())
    idx = stats.bootstrap_indices(20, 300, seed)
    loop = [sum(hits[i] for i in row) / sum(counts[i] for i in row) for row in idx]
    assert ci == pytest.approx(tuple(np.percentile(loop, [2.5, 97.5])))


@settings(max_examples=100, deadline=None)
@given(st_.lists(finite, min_size=1, max_size=60), st_.integers(1, 8))
def test_buckets_match_numpy_histogram_and_a_loop(values: list[float], n_bins: int) -> None:
    x = np.array(values)
    edges, idx = stats.equal_width_buckets(x, n_bins)
    want_counts, want_edges = np.histogram(x, bins=n_bins)
    assert np.array_equal(edges, want_edges)
    assert np.array_equal(np.bincount(idx, minlength=n_bins), want_counts)
    for v, b in zip(x, idx, strict=True):
        last = b == n_bins - 1
        assert edges[b] <= v and (v <= edges[b + 1] if last else v < edges[b + 1])


@pytest.mark.parametrize("holes", [False, True])
def test_correlate_many_equals_correlate_pair_by_pair(holes: bool) -> None:
    rng = np.random.default_rng(21)
    x, y, z, groups = _study(rng, 18)
    cols = {
        "x": x,
        "y": y,
        "x2": np.round(x * rng.random(x.size), 2),
        "y2": (rng.random(x.size) < 0.3).astype(float),
        "c": rng.integers(0, 4, x.size).astype(float),
    }
    if holes:
        cols["x2"][::5] = np.nan
    pairs = [(a, b) for a in ("x", "x2", "c") for b in ("y", "y2", "c") if a != b]
    many = stats.correlate_many(cols, pairs, groups, z=z, n_boot=150, seed=4)
    for a, b in pairs:
        one = stats.correlate(cols[a], cols[b], groups, z=z, n_boot=150, seed=4)
        assert many[(a, b)].keys() == one.keys()
        for key, value in one.items():
            got = many[(a, b)][key]
            if key.endswith("_ci"):
                assert (got.n_boot, got.n_valid, got.method) == (
                    value.n_boot,
                    value.n_valid,
                    value.method,
                )
                got, value = got.bounds, value.bounds
            assert got == pytest.approx(value, abs=1e-10), (a, b, key)
