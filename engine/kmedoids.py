"""PAM k-medoids (BUILD then SWAP) on precomputed distances, vectorised over many batches at once.

Written here because the `kmedoids` package is GPL-3.0 and divtui is MIT. Ties (costs within
1e-9 of the best) always go to the lowest index, so results are deterministic and do not hang on
float rounding.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-9


def _first_min(x: np.ndarray) -> np.ndarray:
    """Per row, the first index whose value is within _EPS of the row's minimum."""
    return (x <= x.min(axis=1, keepdims=True) + _EPS).argmax(axis=1)


def _build(d: np.ndarray, m: int) -> np.ndarray:
    """Greedy BUILD: start from the point with least total distance, add the best point each step."""
    b, n, _ = d.shape
    med = np.empty((b, m), dtype=np.int64)
    near = np.full((b, n), np.inf, dtype=d.dtype)
    chosen = np.zeros((b, n), dtype=bool)
    rows = np.arange(b)
    for t in range(m):
        cost = np.minimum(near[:, None, :], d).sum(axis=2)
        cost[chosen] = np.inf
        pick = _first_min(cost)
        med[:, t] = pick
        chosen[rows, pick] = True
        near = np.minimum(near, d[rows, pick])
    return med


def _nearest_two(d: np.ndarray, med: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point: position (in med) of its nearest medoid, that distance, and the second nearest."""
    b = d.shape[0]
    dm = d[np.arange(b)[:, None], med]  # (b, m, n): distance of each medoid to each point
    order = np.argsort(dm, axis=1, kind="stable")
    first = order[:, 0, :]
    d1 = np.take_along_axis(dm, first[:, None, :], axis=1)[:, 0, :]
    if med.shape[1] > 1:
        d2 = np.take_along_axis(dm, order[:, 1:2, :], axis=1)[:, 0, :]
    else:
        d2 = np.full_like(d1, np.inf)
    return first, d1, d2


def _swap(d: np.ndarray, med: np.ndarray, max_iter: int) -> np.ndarray:
    """SWAP: apply the single best medoid/non-medoid exchange while it lowers the total cost."""
    b, n, _ = d.shape
    m = med.shape[1]
    med = med.copy()
    active = np.ones(b, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        dd, mm = d[idx], med[idx]
        first, d1, d2 = _nearest_two(dd, mm)
        # FastPAM1 decomposition of the cost change of replacing medoid slot i by candidate h:
        # points that h would capture gain the same for every i; the others matter only to
        # the slot they currently belong to.
        closer = dd < d1[:, None, :]
        shared = np.where(closer, dd - d1[:, None, :], 0.0).sum(axis=2)
        own = np.where(closer, 0.0, np.minimum(dd, d2[:, None, :]) - d1[:, None, :])
        onehot = (first[:, :, None] == np.arange(m)[None, None, :]).astype(dd.dtype)
        delta = (own @ onehot).transpose(0, 2, 1) + shared[:, None, :]
        is_med = np.zeros((idx.size, n), dtype=bool)
        is_med[np.arange(idx.size)[:, None], mm] = True
        delta[np.broadcast_to(is_med[:, None, :], delta.shape)] = np.inf
        flat = delta.reshape(idx.size, -1)
        best = _first_min(flat)
        gain = flat[np.arange(idx.size), best]
        improve = gain < -_EPS
        slot, cand = np.divmod(best, n)
        upd = idx[improve]
        med[upd, slot[improve]] = cand[improve]
        active[idx[~improve]] = False
    return med


def pam(d: np.ndarray, m: int, *, max_iter: int = 100, chunk: int = 2048) -> np.ndarray:
    """Medoid indices (b, m) of PAM on distance matrices ``d`` of shape (b, n, n) or (n, n)."""
    single = d.ndim == 2
    d3 = d[None] if single else d
    b, n, n2 = d3.shape
    if n != n2:
        raise ValueError(f"distance matrices must be square, got {d3.shape[1:]}")
    if not 1 <= m <= n:
        raise ValueError(f"number of medoids m={m} must lie in 1..{n}")
    out = np.empty((b, m), dtype=np.int64)
    step = max(1, chunk // max(1, m))
    for s in range(0, b, step):
        block = np.ascontiguousarray(d3[s : s + step], dtype=np.float64)
        out[s : s + step] = _swap(block, _build(block, m), max_iter)
    return out[0] if single else out


def assign(d: np.ndarray, med: np.ndarray) -> np.ndarray:
    """Cluster label (position in ``med``) of every point: its nearest medoid, ties to the first."""
    single = d.ndim == 2
    d3, m3 = (d[None], med[None]) if single else (d, med)
    dm = d3[np.arange(d3.shape[0])[:, None], m3]
    labels = dm.argmin(axis=1)
    return labels[0] if single else labels


def total_cost(d: np.ndarray, med: np.ndarray) -> np.ndarray:
    """Sum over points of the distance to their nearest medoid."""
    single = d.ndim == 2
    d3, m3 = (d[None], med[None]) if single else (d, med)
    cost = d3[np.arange(d3.shape[0])[:, None], m3].min(axis=1).sum(axis=1)
    return cost[0] if single else cost
