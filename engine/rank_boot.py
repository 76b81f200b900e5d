"""Bootstrap Spearman and AUC over problems from per-problem rank-count matrices.

A resample gives every problem p a multiplicity ``W[b, p]``. The average-tie mid-rank of a copy
of item i in that resample, minus the mean rank (n + 1) / 2, is ``sum_q W[b, q] A[i, q]`` with
``A[i, q] = #{j in q: x_j < x_i} + (#{j in q: x_j = x_i} - n_q) / 2``: linear in the weights.
When one column (y) has few distinct values (a 0/1 correctness, a count of correct members),
every item of problem p at level l of y contributes through ``K[(p, l), q] = sum A[i, q]``,
so the rank covariance of a replicate is a quadratic form in W:

    cov_b = sum_{p, l} W[b, p] (W[b] . K[(p, l)]) (W[b] . By[l])

and the rank variances have the closed form ``(n^3 - sum over ties of T^3) / 12``. Building
K costs one pass over the items per problem (sparse products over value-sorted chunks); every
replicate after that is a few matrix products of problem-sized arrays, independent of the
number of draws. The values are exactly those of the weighted mid-rank Pearson that
``stats.boot_spearman_pairs`` computes replicate by replicate (tested to 1e-9).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

_CHUNK_CELLS = 4_000_000
_DEGENERATE = 1e-10


def levels(y: np.ndarray) -> tuple[np.ndarray, int]:
    """Level code (0..L-1, by increasing value) of every item, and L."""
    values, codes = np.unique(np.asarray(y, float), return_inverse=True)
    return codes.astype(np.int64), len(values)


def rank_counts(
    x: np.ndarray,
    labels: Sequence[np.ndarray],
    n_labels: int,
    groups: np.ndarray,
    n_groups: int,
    items: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """``K[a, q] = sum over items i labelled a of (#{j in q: x_j < x_i} + #{j in q: x_j = x_i}/2)``.

    ``labels`` holds one label array per labelling of the items (labels of different
    labellings are disjoint ranges of 0..n_labels-1); ``groups`` is each item's problem
    code in 0..n_groups-1; ``items`` (default: all, for each labelling) the items each
    labelling labels. Items are taken in chunks of distinct
    x values; per chunk the counts of every problem below each value form a dense
    (values x problems) block that a sparse (labels x values) count matrix multiplies.
    Cost: items x labellings x problems; memory: a few MB per chunk.
    """
    vals, v = np.unique(np.asarray(x, float), return_inverse=True)
    n_vals = len(vals)
    if not labels or not sum(len(a) for a in labels):
        return np.zeros((n_labels, n_groups))
    lab = np.concatenate(list(labels))
    cols = np.tile(v, len(labels)) if items is None else np.concatenate([v[i] for i in items])
    present, lab = np.unique(lab, return_inverse=True)
    # exact integer counts (labels x values) @ (counts up to each value), then minus half the
    # ties; every entry is at most (items of a label) x (items of a problem)
    biggest = int(np.bincount(lab).max()) * int(np.bincount(groups, minlength=n_groups).max())
    dtype = np.int32 if biggest < 2**31 else np.int64
    per_value = sp.csr_matrix(
        (np.ones(len(v), dtype), (v, groups)), shape=(n_vals, n_groups), dtype=dtype
    )
    by_label = sp.csc_matrix(
        (np.ones(lab.size, dtype), (lab, cols)), shape=(len(present), n_vals), dtype=dtype
    )
    acc = np.zeros((len(present), n_groups), dtype)
    per_value_t = per_value.T.tocsr()
    below = np.zeros(n_groups, dtype)
    step = max(1, 2 * _CHUNK_CELLS // max(1, n_groups))
    for lo in range(0, n_vals, step):
        hi = min(n_vals, lo + step)
        cum_t = _prefix_rows(per_value_t[:, lo:hi], below, hi - lo, dtype)
        below = cum_t[:, -1].copy()
        np.add(acc, by_label[:, lo:hi] @ np.ascontiguousarray(cum_t.T), out=acc)
    ties = (by_label @ per_value).toarray()
    full = np.zeros((n_labels, n_groups))
    full[present] = acc - 0.5 * ties
    return full


def _prefix_rows(sub: sp.csr_matrix, below: np.ndarray, width: int, dtype: type) -> np.ndarray:
    """``below[:, None] + cumsum(sub.toarray(), axis=1)`` for a sparse (rows x width) count
    matrix, built as runs of constant values (np.repeat) instead of a row-wise cumsum: every
    row is a step function with one step per stored entry."""
    sub.sort_indices()
    ind, ptr, dat = sub.indices, sub.indptr, sub.data
    n_rows = len(ptr) - 1
    per_row = np.diff(ptr)
    lead = ptr[:-1] + np.arange(n_rows)  # slot of each row's first run (before any entry)
    total = n_rows + len(ind)
    is_lead = np.zeros(total, bool)
    is_lead[lead] = True
    starts = np.zeros(total, np.int64)
    starts[~is_lead] = ind
    run = np.cumsum(dat, dtype=np.int64)
    base = np.concatenate([[0], run])[ptr[:-1]]
    values = np.zeros(total, np.int64)
    values[~is_lead] = run - np.repeat(base, per_row)
    values += np.repeat(below.astype(np.int64), per_row + 1)
    ends = np.empty(total, np.int64)
    ends[:-1] = starts[1:]
    ends[np.r_[lead[1:] - 1, total - 1]] = width
    return np.repeat(values.astype(dtype), ends - starts).reshape(n_rows, width)


def _tie_cubes(x: np.ndarray, groups: np.ndarray, n_groups: int, weights: np.ndarray) -> np.ndarray:
    """Per replicate, the sum over tie groups of x of T^3 (T: the tie group's total weight)."""
    vals, v, counts = np.unique(np.asarray(x, float), return_inverse=True, return_counts=True)
    single = counts[v] == 1
    per_group = np.bincount(groups[single], minlength=n_groups).astype(float)
    out = (weights**3) @ per_group
    multi = np.flatnonzero(counts > 1)
    if multi.size:
        pos = np.searchsorted(multi, v[~single])
        m = sp.csr_matrix((np.ones(pos.size), (pos, groups[~single])), shape=(multi.size, n_groups))
        step = max(1, _CHUNK_CELLS // max(1, multi.size))
        for lo in range(0, weights.shape[0], step):
            t = (m @ weights[lo : lo + step].T).T
            out[lo : lo + step] += (t**3).sum(axis=1)
    return out


def _nan_if_degenerate(var: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Variances lost to rounding (a constant column in a resample) become NaN."""
    return np.where(var > _DEGENERATE * np.maximum(scale, 1e-300), var, np.nan)


def boot_spearman_levels(
    x: np.ndarray, ys: Sequence[np.ndarray], groups: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Spearman rho of ``x`` with each few-valued column of ``ys`` on every resample: (B, len(ys)).

    ``groups`` holds each item's problem code (0..P-1), ``weights`` is (B, P). Same values as
    :func:`divtui.engine.stats.boot_spearman_pairs`; the cost is one pass over the items per
    column and a few (B x P) @ (P x P*L) products, whatever the number of items. The items at
    each column's most frequent level need no counts (the centred ranks sum to 0), so only the
    other items are counted.
    """
    x = np.asarray(x, float)
    g = np.asarray(groups, np.int64)
    w = np.asarray(weights, float)
    n_groups = w.shape[1]
    per_group = np.bincount(g, minlength=n_groups).astype(float)
    n = w @ per_group
    cube = n**3
    var_x = _nan_if_degenerate((cube - _tie_cubes(x, g, n_groups, w)) / 12.0, cube)
    codes = [levels(y) for y in ys]
    tops = [int(np.argmax(np.bincount(c, minlength=n_l))) for c, n_l in codes]
    offsets = np.cumsum([0] + [n_groups * n_l for _, n_l in codes])
    labels, items = [], []
    for (c, n_l), top, off in zip(codes, tops, offsets, strict=False):
        keep = np.flatnonzero(c != top)
        labels.append(off + g[keep] * n_l + c[keep])
        items.append(keep)
    k = rank_counts(x, labels, int(offsets[-1]), g, n_groups, items=items)
    out = np.empty((w.shape[0], len(ys)))
    for t, ((c, n_l), top, off) in enumerate(zip(codes, tops, offsets, strict=False)):
        cnt = np.zeros((n_groups, n_l))
        np.add.at(cnt, (g, c), 1.0)
        by = np.cumsum(cnt, axis=1) - cnt / 2.0 - per_group[:, None] / 2.0  # (P, L)
        u = w @ by  # (B, L): centred rank of each level
        tot = w @ cnt  # (B, L): weight of each level
        var_y = _nan_if_degenerate((cube - (tot**3).sum(axis=1)) / 12.0, cube)
        # sum_l V_{p,l} is the summed centred x-rank of problem p's items, and sum_p W_p of
        # that is 0 (ranks are centred): so cov = sum_p W_p sum_{l != top} V_{p,l}(u_l - u_top)
        # and the most frequent level needs no counts of its own
        # only the (problem, level) rows that hold items, the modal level left out
        pp, ll = np.nonzero(cnt)
        keep = ll != top
        pp, ll = pp[keep], ll[keep]
        k_rest = k[off + pp * n_l + ll] - (cnt[pp, ll][:, None] * per_group[None, :]) / 2.0
        v = w @ k_rest.T  # (B, rows): one product for every level
        cov = (v * w[:, pp] * (u[:, ll] - u[:, [top]])).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, t] = np.clip(cov / np.sqrt(var_x * var_y), -1.0, 1.0)
    return out


def boot_auc_counts(
    scores: np.ndarray, positive: np.ndarray, groups: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Mann-Whitney AUC (ties half) on every resample, from per-problem pair counts: (B,).

    ``M[p, q]`` = pairs (positive of p, negative of q) ordered right plus half the ties; a
    replicate's AUC is ``W M W^T / (positives x negatives)``, NaN where a class is absent.
    """
    x = np.asarray(scores, float)
    pos = np.asarray(positive, bool)
    g = np.asarray(groups, np.int64)
    w = np.asarray(weights, float)
    n_groups = w.shape[1]
    neg_x, neg_g = x[~pos], g[~pos]
    # pairs against negatives only: rank the positives among the negatives
    allx = np.concatenate([neg_x, x[pos]])
    lab = np.concatenate([np.full(neg_x.size, n_groups), g[pos]])
    grp = np.concatenate([neg_g, np.full(int(pos.sum()), n_groups)])
    m = rank_counts(allx, [lab], n_groups + 1, grp, n_groups + 1)[:n_groups, :n_groups]
    n_pos = w @ np.bincount(g[pos], minlength=n_groups).astype(float)
    n_neg = w @ np.bincount(neg_g, minlength=n_groups).astype(float)
    wins = ((w @ m.T) * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = wins / (n_pos * n_neg)
    out[~np.isfinite(out)] = np.nan
    return out
