"""Pooled, between-pool and within-pool correlations of a metric with an outcome.

A correlation across draws mixes problems: easy problems give similar and correct batches, hard
ones diverse and wrong, so the pooled Pearson r can be large while no pool shows any link.
Here a pool is one (run, problem, temperature):

- ``pooled_r``: Pearson r across all draws (what metric_correlations reports);
- ``between_r``: Pearson r of the pool means (every pool counted once);
- ``within_r``: Pearson r after subtracting each pool's mean from the metric and the outcome.

Intervals resample problems (all pools of a drawn problem come along) from per-problem sums:
moments of the draws (pooled), of the pool means (between) and of the within-pool deviations
(within; a pool's deviations do not change when its problem is drawn twice).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .intervals import Interval, boot_interval
from .stats import UNDEFINED_CORR, boot_pearson, dense_codes, resample_weights

_DEGENERATE = 1e-10
WITHIN_WHY = "a resample whose pools all have a constant outcome or metric"


def pool_means(values: np.ndarray, pools: np.ndarray, n_pools: int) -> np.ndarray:
    """Mean of ``values`` in each pool (codes 0..n_pools-1)."""
    n = np.bincount(pools, minlength=n_pools).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(pools, weights=values, minlength=n_pools) / n


def within_sums(
    x: np.ndarray, y: np.ndarray, pools: np.ndarray, problems_of_pool: np.ndarray, n_problems: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per problem: sums of xd^2, yd^2, xd*yd of the within-pool deviations; and xd, yd."""
    n_pools = len(problems_of_pool)
    xd = x - pool_means(x, pools, n_pools)[pools]
    yd = y - pool_means(y, pools, n_pools)[pools]
    prob = problems_of_pool[pools]
    sums = [np.bincount(prob, weights=a, minlength=n_problems) for a in (xd * xd, yd * yd, xd * yd)]
    return sums[0], sums[1], sums[2], xd, yd


def boot_within(
    sxx: np.ndarray, syy: np.ndarray, sxy: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """within_r on every resample from per-problem sums; NaN where a variance vanishes."""
    vx, vy, c = (weights @ np.column_stack([sxx, syy, sxy])).T
    scale_x = max(float(np.abs(sxx).sum()), 1e-300)
    scale_y = max(float(np.abs(syy).sum()), 1e-300)
    bad = (vx <= _DEGENERATE * scale_x) | (vy <= _DEGENERATE * scale_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(c / np.sqrt(vx * vy), -1.0, 1.0)
    r[bad] = np.nan
    return r


def _point(value: float) -> float | None:
    """A float, or None when undefined."""
    return None if value is None or not math.isfinite(value) else float(value)


def decompose(
    x: np.ndarray,
    y: np.ndarray,
    pools: np.ndarray,
    problems: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """pooled_r, between_r and within_r of x and y (each with an Interval under ``<name>_ci``),
    with n_pools, n_draws, n_problems, n_events (draws with y = 1, for a 0/1 y) and
    n_informative_pools (pools where y varies). Draws with a missing x or y are left out.

    ``pools`` and ``problems`` are each draw's pool and problem (any hashable codes); pools
    must be nested in problems.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    pool, n_pools = dense_codes(pools, keep)
    prob, n_problems = dense_codes(problems, keep)
    prob_of_pool = np.zeros(n_pools, dtype=np.int64)
    prob_of_pool[pool] = prob
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    out: dict[str, Any] = {
        "n_pools": n_pools,
        "n_draws": int(x.size),
        "n_problems": n_problems,
        "n_events": int((y == 1.0).sum()) if binary else None,
    }
    empty = Interval(None, None, n_boot, 0, "none")
    if x.size < 3:
        out["n_informative_pools"] = 0
        for key in ("pooled_r", "between_r", "within_r"):
            out[key], out[f"{key}_ci"] = None, empty
        return out
    sxx, syy, sxy, _, yd = within_sums(x, y, pool, prob_of_pool, n_problems)
    pool_ss = np.bincount(pool, weights=yd * yd, minlength=n_pools)
    pool_scale = np.bincount(pool, weights=y * y, minlength=n_pools) + 1e-300
    out["n_informative_pools"] = int((pool_ss > _DEGENERATE * pool_scale).sum())
    ones = np.ones((1, n_problems))
    w = resample_weights(n_problems, n_boot, seed) if n_boot else None
    pooled = _point(boot_pearson(x, y, prob, ones)[0])
    out["pooled_r"] = pooled
    out["pooled_r_ci"] = boot_interval(
        pooled, boot_pearson(x, y, prob, w) if w is not None else None, why=UNDEFINED_CORR
    )
    mx, my = pool_means(x, pool, n_pools), pool_means(y, pool, n_pools)
    if n_pools >= 3:
        between = _point(boot_pearson(mx, my, prob_of_pool, ones)[0])
        reps = boot_pearson(mx, my, prob_of_pool, w) if w is not None else None
        out["between_r"] = between
        out["between_r_ci"] = boot_interval(
            between, reps, why="a resample whose pool means are constant"
        )
    else:
        out["between_r"], out["between_r_ci"] = None, empty
    within = _point(boot_within(sxx, syy, sxy, ones)[0])
    out["within_r"] = within
    out["within_r_ci"] = boot_interval(
        within, boot_within(sxx, syy, sxy, w) if w is not None else None, why=WITHIN_WHY
    )
    return out
