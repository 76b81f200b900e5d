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


@pytest.mark.parametrize("seed", range(6))
def test_rank_count_spearman_equals_scipy_on_every_resample(seed: int) -> None:
    """engine.rank_boot against scipy.stats.spearmanr on the literally resampled rows: ties in
    x, 0/1 and many-level partners, problems of 1..8 draws."""
    from divtui.engine import rank_boot

    rng = np.random.default_rng(seed)
    n_groups = int(rng.integers(2, 9))
    g = np.repeat(np.arange(n_groups), rng.integers(1, 9, n_groups))
    n = g.size
    x = np.round(rng.normal(size=n), int(rng.integers(0, 3)))
    ys = [
        (rng.random(n) < rng.random()).astype(float),
        rng.integers(0, int(rng.integers(2, 7)), n).astype(float),
    ]
    idx = stats.bootstrap_indices(n_groups, 40, seed)
    got = rank_boot.boot_spearman_levels(x, ys, g, stats.bootstrap_weights(idx, n_groups))
    for t, y in enumerate(ys):
        want = _loop_bootstrap(idx, g, lambda a, b: ss.spearmanr(a, b)[0], x, y)
        assert np.allclose(got[:, t], want, atol=1e-9, equal_nan=True), t
    old = stats.boot_spearman_pairs(
        np.stack([x, *ys]), [(0, 1), (0, 2)], g, stats.bootstrap_weights(idx, n_groups)
    )
    assert np.allclose(got, old, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("seed", range(4))
def test_rank_count_auc_equals_mann_whitney_on_every_resample(seed: int) -> None:
    from divtui.engine import rank_boot

    rng = np.random.default_rng(seed)
    n_groups = int(rng.integers(2, 7))
    g = np.repeat(np.arange(n_groups), rng.integers(1, 10, n_groups))
    x = np.round(rng.normal(size=g.size), 1)
    y = rng.random(g.size) < 0.4
    idx = stats.bootstrap_indices(n_groups, 30, seed)
    got = rank_boot.boot_auc_counts(x, y, g, stats.bootstrap_weights(idx, n_groups))
    for b, drawn in enumerate(idx):
        rows = np.concatenate([np.flatnonzero(g == p) for p in drawn])
        if y[rows].all() or not y[rows].any():
            assert np.isnan(got[b])
        else:
            assert got[b] == pytest.approx(stats.auc(x[rows], y[rows]), abs=1e-12)


def test_spearman_dispatch_gives_the_same_values_either_way() -> None:
    """boot_spearman_many picks the rank-count path for a few-valued partner and the
    per-replicate path otherwise; both paths agree on the same resamples."""
    rng = np.random.default_rng(12)
    g = np.repeat(np.arange(30), 20)
    x, x2 = rng.normal(size=g.size), rng.normal(size=g.size)
    y = (rng.random(g.size) < 0.5).astype(float)
    w = stats.resample_weights(30, 200, 3)
    cols = np.stack([x, x2, y])
    many = stats.boot_spearman_many(cols, [(0, 2), (0, 1), (2, 1)], g, w)
    pairs = stats.boot_spearman_pairs(cols, [(0, 2), (0, 1), (2, 1)], g, w)
    assert np.allclose(many, pairs, atol=1e-10)


def test_within_auc_is_the_mean_of_per_pool_aucs_with_a_loop_interval() -> None:
    rng = np.random.default_rng(2)
    rows = []
    for p in range(8):
        for t in (0.5, 1.0):
            n = int(rng.integers(2, 9))
            correct = rng.random(n) < rng.random()
            score = np.round(rng.normal(size=n) + correct, 1)
            rows += [(f"p{p}", t, s, c) for s, c in zip(score, correct, strict=True)]
    x = np.array([r[2] for r in rows])
    y = np.array([r[3] for r in rows])
    pool = np.array([f"{r[0]}|{r[1]}" for r in rows])
    prob = np.array([r[0] for r in rows])

    def loop(keep_problems: list[str]) -> float:
        values = []
        for p in keep_problems:
            for t in (0.5, 1.0):
                m = (prob == p) & (pool == f"{p}|{t}")
                if 0 < y[m].sum() < m.sum():
                    u = ss.mannwhitneyu(x[m][y[m]], x[m][~y[m]]).statistic
                    values.append(u / (y[m].sum() * (~y[m]).sum()))
        return float(np.mean(values)) if values else math.nan

    res = stats.within_auc(x, y, pool, prob, n_boot=50, seed=1)
    names = sorted(set(prob))
    assert res["within_auc"] == pytest.approx(loop(names), abs=1e-12)
    idx = stats.bootstrap_indices(len(names), 50, 1)
    want = np.array([loop([names[j] for j in row]) for row in idx])
    assert res["interval"].bounds == pytest.approx(
        tuple(np.percentile(want[np.isfinite(want)], [2.5, 97.5])), abs=1e-12
    )


@settings(max_examples=80, deadline=None)
@given(st_.lists(finite, min_size=1, max_size=60), st_.integers(1, 8))
def test_quantile_buckets_match_numpy_quantiles(values: list[float], n_bins: int) -> None:
    x = np.array(values)
    edges, idx = stats.quantile_buckets(x, n_bins)
    want = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
    if want.size >= 2:
        assert np.array_equal(edges, want)
    nb = edges.size - 1
    for v, b in zip(x, idx, strict=True):
        last = b == nb - 1
        assert edges[b] <= v and (v <= edges[b + 1] if last else v < edges[b + 1])
