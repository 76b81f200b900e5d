"""Linear probability models with pool fixed effects, clustered by problem (statsmodels).

For one (run, k, metric, aggregator): regress the 0/1 correctness of each draw on the metric,
standardised by its within-pool standard deviation, with a fixed effect per pool (run x problem
x temperature) and optional controls. The fixed effects are absorbed by demeaning every column
within its pool (Frisch-Waugh-Lovell: the slope equals that of the regression with one dummy
per pool), then statsmodels' OLS fits the demeaned columns with cluster-robust standard errors
by problem (``cov_type="cluster"``, t with G - 1 degrees of freedom, small-sample factor
G/(G-1) * (N-1)/(N-K) with K the slope and controls: pools are nested in problems, so their
dummies are not counted, as in Stata's ``xtreg, fe vce(cluster)`` and ``reghdfe``).

``slope`` is then the change in the probability of a correct pick per one within-pool standard
deviation of the metric. The quartile effect is the mean over pools of the accuracy of the
draws in the pool's top quartile of the metric minus that of its bottom quartile, with a
bootstrap interval over problems.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .decompose import pool_means
from .intervals import CI_LEVEL, Interval, boot_interval
from .stats import dense_codes, resample_weights


def demean(values: np.ndarray, pools: np.ndarray, n_pools: int) -> np.ndarray:
    """``values`` minus their pool's mean."""
    return values - pool_means(values, pools, n_pools)[pools]


def fe_design(
    x: np.ndarray,
    pools: np.ndarray,
    problems: np.ndarray,
    controls: Sequence[np.ndarray],
    keep: np.ndarray,
) -> dict[str, Any]:
    """The demeaned regressors of the rows ``keep``: the metric over its within-pool SD, then
    the controls; with the pool and problem codes (shared by every outcome of one metric)."""
    pool, n_pools = dense_codes(pools, keep)
    prob, n_probs = dense_codes(problems, keep)
    n = int(keep.sum())
    design: dict[str, Any] = {
        "keep": keep,
        "pool": pool,
        "prob": prob,
        "n": n,
        "n_pools": n_pools,
        "n_problems": n_probs,
        "sd": None,
        "X": None,
    }
    if n - n_pools < 2 + len(controls) or n_probs < 2:
        return design
    xk = np.asarray(x, float)[keep]
    xd = demean(xk, pool, n_pools)
    sd = math.sqrt(float(xd @ xd) / (n - n_pools))
    if not sd > 1e-12 * (float(np.abs(xk).max()) + 1e-300):
        return design
    cols = [xd / sd] + [demean(np.asarray(c, float)[keep], pool, n_pools) for c in controls]
    design["sd"], design["X"] = sd, np.column_stack(cols)
    return design


def fe_fit(design: dict[str, Any], y: np.ndarray, level: float = CI_LEVEL) -> dict[str, Any]:
    """The fixed-effects slope of ``y`` (all rows; missing values are the caller's to drop)
    on a :func:`fe_design`: statsmodels OLS with cluster-robust SE by problem."""
    import statsmodels.api as sm

    out: dict[str, Any] = {
        "slope": None,
        "slope_lo": None,
        "slope_hi": None,
        "p_value": None,
        "n_pools": design["n_pools"],
        "n_draws": design["n"],
        "n_problems": design["n_problems"],
        "sd_within": design["sd"],
    }
    if design["X"] is None:
        return out
    yd = demean(np.asarray(y, float)[design["keep"]], design["pool"], design["n_pools"])
    if not np.any(yd):
        return out
    fit = sm.OLS(yd, design["X"], hasconst=False).fit(
        cov_type="cluster", cov_kwds={"groups": design["prob"]}, use_t=True
    )
    lo, hi = fit.conf_int(alpha=1.0 - level)[0]
    values = {
        "slope": float(fit.params[0]),
        "slope_lo": float(lo),
        "slope_hi": float(hi),
        "p_value": float(fit.pvalues[0]),
    }
    out.update({k: (v if math.isfinite(v) else None) for k, v in values.items()})
    return out


def fe_slope(
    y: np.ndarray,
    x: np.ndarray,
    pools: np.ndarray,
    problems: np.ndarray,
    controls: Sequence[np.ndarray] = (),
    *,
    level: float = CI_LEVEL,
) -> dict[str, Any]:
    """slope (per within-pool SD of x), its interval and p-value, with n_pools, n_draws,
    n_problems and the within-pool SD; rows with a missing value are left out."""
    y, x = np.asarray(y, float), np.asarray(x, float)
    ctl = [np.asarray(c, float) for c in controls]
    keep = np.isfinite(y) & np.isfinite(x)
    for c in ctl:
        keep &= np.isfinite(c)
    return fe_fit(fe_design(x, pools, problems, ctl, keep), y, level)


def quartile_masks(
    x: np.ndarray, pools: np.ndarray, n_pools: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per draw: in its pool's top quartile of x (at or above the 75th percentile) and in its
    bottom quartile (at or below the 25th; numpy's linear quantiles); per pool: whether it
    counts (at least two draws and distinct quartiles, so the two groups differ)."""
    order = np.lexsort((x, pools))
    xs, ps = x[order], pools[order]
    sizes = np.bincount(ps, minlength=n_pools)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def quantile(q: float) -> np.ndarray:
        """The linear-interpolation quantile q of x in every pool."""
        h = (sizes - 1) * q
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(sizes - 1, 0))
        frac = h - lo
        a = xs[np.minimum(start + lo, len(xs) - 1)]
        b = xs[np.minimum(start + hi, len(xs) - 1)]
        return a + frac * (b - a)

    q25, q75 = quantile(0.25), quantile(0.75)
    return x >= q75[pools], x <= q25[pools], (sizes >= 2) & (q75 > q25)


def quartile_diffs(
    y: np.ndarray, top: np.ndarray, bottom: np.ndarray, pools: np.ndarray, n_pools: int
) -> np.ndarray:
    """Per pool: mean y of its top-quartile draws minus that of its bottom-quartile draws."""
    with np.errstate(invalid="ignore", divide="ignore"):
        top_mean = np.bincount(pools, weights=y * top, minlength=n_pools) / np.bincount(
            pools, weights=top, minlength=n_pools
        )
        bottom_mean = np.bincount(pools, weights=y * bottom, minlength=n_pools) / np.bincount(
            pools, weights=bottom, minlength=n_pools
        )
    return top_mean - bottom_mean


def quartile_effect(
    y: np.ndarray,
    x: np.ndarray,
    pools: np.ndarray,
    problems: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    masks: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[float | None, Interval, int]:
    """Mean over pools of (top-quartile accuracy - bottom-quartile accuracy) of the metric,
    with a bootstrap interval over problems and the number of pools it averages. ``masks``:
    :func:`quartile_masks` of these very rows, to share between outcomes of one metric."""
    y, x = np.asarray(y, float), np.asarray(x, float)
    keep = np.isfinite(y) & np.isfinite(x)
    pool, n_pools = dense_codes(pools, keep)
    prob, n_probs = dense_codes(problems, keep)
    if not n_pools:
        return None, Interval(None, None, n_boot, 0, "none"), 0
    top, bottom, ok = masks if masks is not None else quartile_masks(x[keep], pool, n_pools)
    diff = np.where(ok, quartile_diffs(y[keep], top, bottom, pool, n_pools), 0.0)
    prob_of_pool = np.zeros(n_pools, dtype=np.int64)
    prob_of_pool[pool] = prob
    sums = np.bincount(prob_of_pool, weights=diff, minlength=n_probs)
    counts = np.bincount(prob_of_pool, weights=ok.astype(float), minlength=n_probs)
    used = int(ok.sum())
    if not used:
        return None, Interval(None, None, n_boot, 0, "none", "no pool with distinct quartiles"), 0
    point = float(sums.sum() / counts.sum())
    if not n_boot:
        return point, Interval(None, None, 0, 0, "none"), used
    w = resample_weights(n_probs, n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ sums) / (w @ counts)
    why = "a resample without a pool with distinct quartiles"
    return point, boot_interval(point, reps, why=why), used


def bh_qvalues(pvalues: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg q-values (statsmodels ``multipletests``, fdr_bh) of the defined
    p-values; None where the p-value is None."""
    from statsmodels.stats.multitest import multipletests

    idx = [i for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(pvalues)
    if idx:
        q = multipletests([pvalues[i] for i in idx], method="fdr_bh")[1]
        for i, v in zip(idx, q, strict=True):
            out[i] = float(v)
    return out
