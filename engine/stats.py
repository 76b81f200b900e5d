"""Correlations, partial correlations, bootstrap intervals over problems, and buckets.

The bootstrap resamples problems with replacement and recomputes a statistic on every draw of the
resampled problems. A resample is a vector of per-problem multiplicities ``W[b, p]``; each draw
then carries the weight of its problem, which turns every statistic into a weighted one:
Pearson and partial correlations from per-problem sums of products (one matrix product for all
replicates), Spearman from per-problem rank-count matrices when one column has few values
(engine.rank_boot: a 0/1 correctness, a count) and otherwise from weighted mid-ranks
(replicates in chunks, all draws at once). Both Spearman paths give the same values.
Intervals follow the rules of engine.intervals (undefined replicates counted, Wilson near 0/1).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np

from . import rank_boot
from .intervals import CI_LEVEL, Interval, boot_interval, proportion_interval

_CHUNK_CELLS = 2_000_000
MAX_LEVELS = 64
"""A column with at most this many distinct values takes the rank-count Spearman path."""
_DEGENERATE = 1e-10


def dense_codes(values: np.ndarray, keep: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Codes 0..n-1 of the kept values (in order of value) and n: the inverse of np.unique,
    in linear time for non-negative integer codes (pd.factorize output), else np.unique."""
    v = np.asarray(values)
    if keep is not None:
        v = v[keep]
    if v.dtype.kind in "iu" and (v.size == 0 or v.min() >= 0):
        present = np.bincount(v) > 0 if v.size else np.zeros(0, bool)
        remap = np.cumsum(present) - 1
        return remap[v].astype(np.int64), int(present.sum())
    codes, inv = np.unique(v, return_inverse=True)
    return inv.astype(np.int64), len(codes)


def bootstrap_indices(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """The resampled problem indices, shape (n_boot, n_groups), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_groups, size=(n_boot, n_groups))


def bootstrap_weights(indices: np.ndarray, n_groups: int) -> np.ndarray:
    """Multiplicity of every problem in every resample, shape (n_boot, n_groups), float."""
    n_boot = indices.shape[0]
    flat = (indices + n_groups * np.arange(n_boot)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n_boot * n_groups)
    return counts.reshape(n_boot, n_groups).astype(float)


def resample_weights(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """Multiplicities (n_boot, n_groups) of ``n_boot`` problem resamples drawn from ``seed``
    (read-only: the same few are asked for by every row of a report, so they are kept)."""
    return _resample_weights(int(n_groups), int(n_boot), int(seed))


@functools.lru_cache(maxsize=4)
def _resample_weights(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """resample_weights, computed once per arguments."""
    w = bootstrap_weights(bootstrap_indices(n_groups, n_boot, seed), n_groups)
    w.setflags(write=False)
    return w


def percentile_ci(stats: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float] | None:
    """Percentile interval of bootstrap replicates, ignoring undefined (NaN) ones (no rules:
    engine.intervals.boot_interval applies them)."""
    finite = stats[np.isfinite(stats)]
    if finite.size == 0:
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return float(lo), float(hi)


def _nan_if_degenerate(var: np.ndarray, second_moment: np.ndarray) -> np.ndarray:
    """Variances lost to cancellation (a constant column in a resample) become NaN."""
    var = np.asarray(var, dtype=float)
    bad = ~(var > _DEGENERATE * np.maximum(second_moment, 1e-300))
    return np.where(bad, np.nan, var)


def _moments(
    groups: np.ndarray, n_groups: int, cols: Sequence[np.ndarray]
) -> dict[str, np.ndarray]:
    """Per-group count, sums and sums of pairwise products of globally centred columns."""
    centred = [c - c.mean() for c in cols]
    out = {"n": np.bincount(groups, minlength=n_groups).astype(float)}
    for i, a in enumerate(centred):
        out[f"s{i}"] = np.bincount(groups, weights=a, minlength=n_groups)
        for j in range(i, len(centred)):
            out[f"s{i}{j}"] = np.bincount(groups, weights=a * centred[j], minlength=n_groups)
    return out


def _covariances(
    weights: np.ndarray, m: dict[str, np.ndarray], n_cols: int
) -> dict[str, np.ndarray]:
    """Weighted (co)variances of every replicate from per-group moments: keys 'ij'. One
    matrix product reads the weights once for every moment."""
    keys = list(m)
    sums = weights @ np.column_stack([m[k] for k in keys])
    got = {k: sums[:, i] for i, k in enumerate(keys)}
    n = got["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = [got[f"s{i}"] / n for i in range(n_cols)]
        cov: dict[str, np.ndarray] = {}
        for i in range(n_cols):
            for j in range(i, n_cols):
                raw = got[f"s{i}{j}"] / n
                c = raw - means[i] * means[j]
                cov[f"{i}{j}"] = _nan_if_degenerate(c, raw) if i == j else c
    return cov


def boot_pearson(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Pearson r of x and y on every weighted resample (one row of ``weights`` each)."""
    m = _moments(groups, weights.shape[1], [x, y])
    c = _covariances(weights, m, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(c["01"] / np.sqrt(c["00"] * c["11"]), -1.0, 1.0)


def boot_partial(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, groups: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Pearson r of the residuals of x and y after a linear fit on z, on every resample."""
    m = _moments(groups, weights.shape[1], [x, y, z])
    c = _covariances(weights, m, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        vz = np.where(np.isnan(c["22"]), np.inf, c["22"])
        rxy = c["01"] - c["02"] * c["12"] / vz
        rxx = c["00"] - c["02"] ** 2 / vz
        ryy = c["11"] - c["12"] ** 2 / vz
        rxx = _nan_if_degenerate(rxx, c["00"])
        ryy = _nan_if_degenerate(ryy, c["11"])
        return np.clip(rxy / np.sqrt(rxx * ryy), -1.0, 1.0)


def _tie_structure(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort order, start of each run of equal values in sorted order, and each item's run."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    starts = np.flatnonzero(new)
    tie_of = np.empty(x.size, dtype=np.int64)
    tie_of[order] = np.cumsum(new) - 1
    return order, starts, tie_of


def _centred_ranks(
    x: np.ndarray,
    ties: tuple[np.ndarray, np.ndarray, np.ndarray],
    w: np.ndarray,
    n: np.ndarray,
    root: np.ndarray,
) -> np.ndarray:
    """root * (mid-rank - (n + 1) / 2) of x in each resample, items by rows: (N, replicates).

    Item i appears w[i, b] times in resample b; root is sqrt(w). A column of two values is its own rank up to a
    positive affine map, which leaves correlations unchanged, so it is only centred.
    """
    order, starts, tie_of = ties
    if starts.size <= 2:
        high = (x == x[order[-1]]).astype(float)
        out = np.subtract(high[:, None], ((high @ w) / n)[None, :])
        out *= root
        return out
    ws = w[order]
    if starts.size == x.size:
        mid = np.cumsum(ws, axis=0)
        ws -= 1.0
        ws *= 0.5
        mid -= ws
        ranks = np.empty_like(mid)
        ranks[order] = mid
    else:
        totals = np.add.reduceat(ws, starts, axis=0)
        mid = np.cumsum(totals, axis=0)
        totals -= 1.0
        totals *= 0.5
        mid -= totals
        ranks = mid[tie_of]
    ranks -= (n + 1.0) / 2.0
    ranks *= root
    return ranks


def boot_spearman_pairs(
    cols: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    groups: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """Spearman rho of the given pairs of rows of ``cols`` (C, N) on every resample: (B, pairs).

    Spearman is the weighted Pearson r of average-tie mid-ranks; the weighted mean of the
    mid-ranks is (n + 1) / 2, so only sums of products are needed. Each column is ranked once
    per chunk of replicates, with items as rows so every gather moves contiguous memory.
    """
    n_cols, n_items = cols.shape
    used = sorted({i for p in pairs for i in p})
    ties = {i: _tie_structure(cols[i]) for i in used}
    wt = np.ascontiguousarray(weights.T)
    n_boot = weights.shape[0]
    out = np.empty((n_boot, len(pairs)))
    chunk = max(1, _CHUNK_CELLS // max(1, n_items))
    for lo in range(0, n_boot, chunk):
        w = wt[:, lo : lo + chunk][groups]
        n = w.sum(axis=0)
        root = np.sqrt(w)
        ranks = {i: _centred_ranks(cols[i], ties[i], w, n, root) for i in used}
        var = {i: np.einsum("nb,nb->b", r, r) for i, r in ranks.items()}
        for p, (i, j) in enumerate(pairs):
            cov = np.einsum("nb,nb->b", ranks[i], ranks[j])
            with np.errstate(invalid="ignore", divide="ignore"):
                r = cov / np.sqrt(var[i] * var[j])
            r[(var[i] <= 0) | (var[j] <= 0)] = np.nan
            out[lo : lo + chunk, p] = np.clip(r, -1.0, 1.0)
    return out


def boot_spearman(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Spearman rho (Pearson of average-tie ranks) of x and y on every weighted resample."""
    return boot_spearman_many(np.stack([x, y]), [(0, 1)], groups, weights)[:, 0]


def _n_levels(col: np.ndarray) -> int:
    """Distinct values of a column, counted up to MAX_LEVELS + 1."""
    return int(np.unique(col).size)


def boot_spearman_many(
    cols: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    groups: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """Spearman rho of the given pairs of rows of ``cols`` (C, N) on every resample: (B, pairs).

    A pair with a few-valued column (at most MAX_LEVELS values) goes through the rank-count
    path (rank_boot.boot_spearman_levels, all few-valued partners of one column together)
    when its estimated cost is lower; the rest through :func:`boot_spearman_pairs`. Both give
    the same values.
    """
    n_items = cols.shape[1]
    n_boot, n_groups = weights.shape
    used = sorted({i for p in pairs for i in p})
    n_lev = {i: _n_levels(cols[i]) for i in used}
    by_x: dict[int, list[tuple[int, int]]] = {}
    rest: list[int] = []
    for p, (i, j) in enumerate(pairs):
        if n_lev[j] <= MAX_LEVELS:
            by_x.setdefault(i, []).append((p, j))
        elif n_lev[i] <= MAX_LEVELS:
            by_x.setdefault(j, []).append((p, i))
        else:
            rest.append(p)
    out = np.empty((n_boot, len(pairs)))
    for x, partners in by_x.items():
        cells = n_groups * n_groups * sum(n_lev[j] for _, j in partners)
        fast = n_items * n_groups * (2 + len(partners)) + 0.05 * n_boot * cells
        slow = n_items * n_boot * (10 + 4 * len(partners))
        if cells <= 40_000_000 and fast < slow:
            ys = [cols[j] for _, j in partners]
            res = rank_boot.boot_spearman_levels(cols[x], ys, groups, weights)
            for t, (p, _) in enumerate(partners):
                out[:, p] = res[:, t]
        else:
            rest += [p for p, _ in partners]
    if rest:
        res = boot_spearman_pairs(cols, [pairs[p] for p in rest], groups, weights)
        for t, p in enumerate(rest):
            out[:, p] = res[:, t]
    return out


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two equal-length arrays; NaN when either is constant."""
    g = np.zeros(len(x), dtype=np.int64)
    return float(boot_pearson(np.asarray(x, float), np.asarray(y, float), g, np.ones((1, 1)))[0])


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho with average ranks for ties; NaN when either is constant."""
    g = np.zeros(len(x), dtype=np.int64)
    return float(boot_spearman(np.asarray(x, float), np.asarray(y, float), g, np.ones((1, 1)))[0])


def partial_corr(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Partial correlation of x and y controlling for z: Pearson of residuals of a fit on z."""
    x, y, z = (np.asarray(a, dtype=float) for a in (x, y, z))
    zc = z - z.mean()
    vz = float(zc @ zc)

    def resid(a: np.ndarray) -> np.ndarray:
        """a minus its least-squares line on z (with intercept)."""
        ac = a - a.mean()
        return ac - (float(ac @ zc) / vz) * zc if vz > 0 else ac

    return pearson(resid(x), resid(y))


UNDEFINED_CORR = "a resample where a column is constant"


def correlate(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    z: np.ndarray | None = None,
    rank: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """n, Pearson, Spearman (unless not ``rank``) and partial on z (if given), with intervals.

    ``groups`` holds each draw's problem as an integer code; draws with a missing value in any
    column are left out. The bootstrap resamples the problems that remain; ``<stat>_ci`` is an
    :class:`~divtui.engine.intervals.Interval` (rules of engine.intervals).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    if z is not None:
        z = np.asarray(z, float)
        keep &= np.isfinite(z)
    x, y = x[keep], y[keep]
    g, n_codes = dense_codes(groups, keep)
    out: dict[str, Any] = {"n": int(x.size), "n_problems": n_codes}
    keys = ["pearson"] + (["spearman"] if rank else []) + (["partial"] if z is not None else [])
    if x.size < 3:
        for key in keys:
            out[key], out[f"{key}_ci"] = None, Interval(None, None, n_boot, 0, "none")
        return out
    ones = np.ones((1, n_codes))
    w = resample_weights(n_codes, n_boot, seed) if n_boot else None
    fns = {"pearson": boot_pearson, "spearman": boot_spearman}
    for key in keys[: 1 + rank]:
        point = float(fns[key](x, y, g, ones)[0])
        value = None if math.isnan(point) else point
        reps = fns[key](x, y, g, w) if w is not None else None
        out[key], out[f"{key}_ci"] = value, boot_interval(value, reps, why=UNDEFINED_CORR)
    if z is not None:
        zk = z[keep]
        point = float(boot_partial(x, y, zk, g, ones)[0])
        partial = None if math.isnan(point) else point
        reps = boot_partial(x, y, zk, g, w) if w is not None else None
        out["partial"] = partial
        out["partial_ci"] = boot_interval(partial, reps, why=UNDEFINED_CORR)
    return out


def correlate_many(
    columns: dict[str, np.ndarray],
    pairs: Sequence[tuple[str, str]],
    groups: np.ndarray,
    *,
    z: np.ndarray | None = None,
    rank: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    memo: dict[tuple[str, str], tuple[float, np.ndarray | None]] | None = None,
    also: Sequence[tuple[str, str]] = (),
) -> dict[tuple[str, str], dict[str, Any]]:
    """``correlate`` for many (x, y) pairs of named columns, sharing the rank work.

    With no missing value anywhere, Spearman for all pairs comes from one
    ``boot_spearman_many`` (each column ranked once); otherwise each pair is done on its own
    complete cases. ``memo`` (one dict per set of rows, the same ``n_boot`` and ``seed``)
    keeps each pair's Spearman estimate and replicates between calls; ``also`` names pairs
    to compute into it at the same time (another table's, sharing the rank work).
    """
    used = list(dict.fromkeys(c for p in pairs for c in p))
    complete = all(np.isfinite(columns[c]).all() for c in used) and (
        z is None or bool(np.isfinite(z).all())
    )
    if not complete or not rank or len(pairs) < 2 or len(groups) < 3:
        return {
            (x, y): correlate(
                columns[x], columns[y], groups, z=z, rank=rank, n_boot=n_boot, seed=seed
            )
            for x, y in pairs
        }
    out = {
        (x, y): correlate(columns[x], columns[y], groups, z=z, rank=False, n_boot=n_boot, seed=seed)
        for x, y in pairs
    }
    memo = {} if memo is None else memo
    extra = [
        p
        for p in also
        if p not in pairs and all(c in columns and np.isfinite(columns[c]).all() for c in p)
    ]
    todo = [p for p in [*pairs, *extra] if p not in memo]
    if todo:
        g, n_groups = dense_codes(groups)
        cols = list(dict.fromkeys(c for p in todo for c in p))
        stack = np.stack([np.asarray(columns[c], float) for c in cols])
        where = {c: i for i, c in enumerate(cols)}
        idx = [(where[x], where[y]) for x, y in todo]
        point = boot_spearman_many(stack, idx, g, np.ones((1, n_groups)))[0]
        w = resample_weights(n_groups, n_boot, seed) if n_boot else None
        boots = boot_spearman_many(stack, idx, g, w) if w is not None else None
        for p, pair in enumerate(todo):
            memo[pair] = (float(point[p]), boots[:, p] if boots is not None else None)
    for pair in pairs:
        value, reps = memo[pair]
        spearman = None if math.isnan(value) else value
        res = out[pair]
        res["spearman"] = spearman
        res["spearman_ci"] = boot_interval(spearman, reps, why=UNDEFINED_CORR)
    return out


def boot_ratio(sums: np.ndarray, counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum(successes) / sum(trials) over the resampled problems, per replicate."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ sums) / (weights @ counts)


def mean_with_ci(
    sums: np.ndarray, counts: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> tuple[float | None, tuple[float, float] | None]:
    """Pooled mean sum(sums)/sum(counts) over problems, with a problem bootstrap interval."""
    sums, counts = np.asarray(sums, float), np.asarray(counts, float)
    if counts.sum() <= 0:
        return None, None
    point = float(sums.sum() / counts.sum())
    if not n_boot:
        return point, None
    w = resample_weights(sums.size, n_boot, seed)
    return point, percentile_ci(boot_ratio(sums, counts, w))


def mean_interval(
    sums: np.ndarray,
    counts: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    n_draws: int | None = None,
    weights: np.ndarray | None = None,
) -> tuple[float | None, Interval]:
    """Pooled mean sum(sums)/sum(counts) of values in [0, 1] over problems, with the
    proportion interval of engine.intervals (``n_draws``: observations behind it, default
    the summed counts; ``weights``: resample multiplicities to use instead of drawing them)."""
    sums, counts = np.asarray(sums, float), np.asarray(counts, float)
    n_problems = int((counts > 0).sum())
    if counts.sum() <= 0:
        return None, Interval(None, None, n_boot, 0, "none")
    point = float(sums.sum() / counts.sum())
    if weights is None and not n_boot:
        return point, Interval(None, None, 0, 0, "none")
    w = weights if weights is not None else resample_weights(sums.size, n_boot, seed)
    reps = boot_ratio(sums, counts, w)
    draws = int(counts.sum()) if n_draws is None else n_draws
    return point, proportion_interval(point, reps, n_problems=n_problems, n_draws=draws)


def equal_width_buckets(x: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges of ``n_bins`` equal-width bins over [min, max] and each value's bin (last closed)."""
    edges = np.histogram_bin_edges(x, bins=n_bins)
    idx = np.searchsorted(edges, x, side="right") - 1
    return edges, np.clip(idx, 0, n_bins - 1)


def quantile_buckets(x: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges at the 0, 1/n, ..., 1 quantiles of x (numpy's linear quantiles; equal edges from
    ties merged, so there may be fewer bins) and each value's bin (last bin closed)."""
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size < 2:
        edges = np.array([edges[0], edges[0]])
    nb = edges.size - 1
    idx = np.searchsorted(edges, x, side="right") - 1
    return edges, np.clip(idx, 0, nb - 1)


class WithinAuc(TypedDict):
    """What :func:`within_auc` returns: pool counts, the mean within-pool AUC, its interval."""

    n_pools: int
    n_informative_pools: int
    within_auc: float | None
    interval: Interval


def within_auc(
    scores: np.ndarray,
    positive: np.ndarray,
    pools: np.ndarray,
    problems: np.ndarray,
    *,
    n_boot: int,
    seed: int,
) -> WithinAuc:
    """Mean over pools with both classes of the pool's own AUC (what a best-of-k pick inside a
    pool depends on), with a bootstrap interval over problems; counts of pools."""
    x = np.asarray(scores, float)
    y = np.asarray(positive, bool)
    pool, n_pools = dense_codes(pools)
    prob, n_probs = dense_codes(problems)
    order = np.argsort(pool, kind="stable")
    bounds = np.flatnonzero(np.r_[True, pool[order][1:] != pool[order][:-1], True])
    values = np.full(n_pools, np.nan)
    prob_of_pool = np.zeros(n_pools, dtype=np.int64)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[a:b]
        p = pool[rows[0]]
        prob_of_pool[p] = prob[rows[0]]
        values[p] = auc(x[rows], y[rows])
    ok = np.isfinite(values)
    sums = np.bincount(prob_of_pool, weights=np.where(ok, values, 0.0), minlength=n_probs)
    counts = np.bincount(prob_of_pool, weights=ok.astype(float), minlength=n_probs)
    value = float(sums.sum() / counts.sum()) if ok.any() else None
    interval = Interval(None, None, n_boot, 0, "none")
    if ok.any() and n_boot:
        w = resample_weights(n_probs, n_boot, seed)
        reps = boot_ratio(sums, counts, w)
        interval = boot_interval(value, reps, why="a resample without a pool holding both classes")
    return {
        "n_pools": n_pools,
        "n_informative_pools": int(ok.sum()),
        "within_auc": value,
        "interval": interval,
    }


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUC: P(a positive scores above a negative) + half the ties; NaN if one class.

    Equals U / (n1 n0) with U from the mid-rank sum of the positives.
    """
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.r_[True, xs[1:] != xs[:-1]]
    first = np.flatnonzero(starts)
    counts = np.diff(np.r_[first, len(xs)])
    mid = first + (counts + 1) / 2.0
    ranks = np.empty(len(x))
    ranks[order] = mid[np.cumsum(starts) - 1]
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def boot_auc(
    scores: np.ndarray, positive: np.ndarray, groups: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """:func:`auc` of every bootstrap replicate, each sample counted as often as its group
    (problem) was drawn: ``weights`` is (n_boot, n_groups); NaN where a replicate lacks a class.

    Over the tie groups of the sorted scores: AUC = sum_t pos_t (neg below t + neg_t / 2) /
    (pos · neg), with every count a sum of multiplicities (replicates in chunks).
    """
    x = np.asarray(scores, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    pos = np.asarray(positive, dtype=bool)[order]
    g = np.asarray(groups, dtype=np.int64)[order]
    w = np.asarray(weights, dtype=np.float64)
    out = np.empty(w.shape[0])
    step = max(1, _CHUNK_CELLS // max(1, len(x)))
    for lo in range(0, w.shape[0], step):
        per_sample = w[lo : lo + step][:, g]
        pos_t = np.add.reduceat(per_sample * pos, starts, axis=1)
        neg_t = np.add.reduceat(per_sample * ~pos, starts, axis=1)
        below = np.cumsum(neg_t, axis=1) - neg_t
        wins = (pos_t * (below + neg_t / 2.0)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lo : lo + step] = wins / (pos_t.sum(axis=1) * neg_t.sum(axis=1))
    out[~np.isfinite(out)] = np.nan
    return out


def auc_interval(
    scores: np.ndarray, positive: np.ndarray, groups: np.ndarray, *, n_boot: int, seed: int
) -> tuple[float | None, Interval]:
    """:func:`auc` (None if one class is absent) with a bootstrap interval over ``groups``
    (rank-count replicates, engine.rank_boot.boot_auc_counts; rules of engine.intervals)."""
    point = auc(scores, positive)
    if math.isnan(point):
        return None, Interval(None, None, n_boot, 0, "none", "one class absent")
    if not n_boot:
        return point, Interval(None, None, 0, 0, "none")
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    w = resample_weights(int(g.max()) + 1, n_boot, seed)
    reps = rank_boot.boot_auc_counts(scores, positive, g, w)
    return point, boot_interval(point, reps, why="a resample without both classes")
