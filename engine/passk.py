"""Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k) in its stable product form."""

from __future__ import annotations

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that a uniform k-subset of n samples with c correct holds a correct one."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def pass_at_k_many(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """:func:`pass_at_k` over aligned arrays of pool sizes and correct counts (NaN where n < k);
    computed once per distinct (n, c) pair, since pools mostly share their size."""
    nc = np.stack([np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)], axis=1)
    if nc.size == 0:
        return np.zeros(0, dtype=np.float64)
    pairs, back = np.unique(nc, axis=0, return_inverse=True)
    once = np.array(
        [pass_at_k(int(a), int(b), k) if a >= k else np.nan for a, b in pairs], dtype=np.float64
    )
    return once[back.reshape(-1)]


def pass_at_k_curve(n: np.ndarray, c: np.ndarray, k_max: int) -> np.ndarray:
    """pass@k of every pool for k = 1..k_max, shape (pools, k_max); each pool needs n >= k_max.

    C(n-c, k) / C(n, k) = prod_{j<k} (n-c-j) / (n-j), so one cumulative product per pool gives
    every k at once (the same product form as :func:`pass_at_k`, factors in [0, 1]).
    """
    n = np.asarray(n, dtype=np.float64)[:, None]
    c = np.asarray(c, dtype=np.float64)[:, None]
    if k_max < 1 or (n < k_max).any() or (c < 0).any() or (c > n).any():
        raise ValueError(f"pass@k curve needs 0 <= c <= n and n >= k_max >= 1 (k_max={k_max})")
    j = np.arange(k_max, dtype=np.float64)[None, :]
    factors = np.clip((n - c - j) / (n - j), 0.0, 1.0)
    return 1.0 - np.cumprod(factors, axis=1)
