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

import numpy as np

from .decompose import pool_means
from .intervals import CI_LEVEL, Interval, boot_interval
from .stats import resample_weights


def demean(values: np.ndarray, pools: np.ndarray, n_pools: int) -> np.ndarray:
    """``values`` minus their pool's mean."""
    return values - pool_means(values, pools, n_pools)[pools]


def fe_slope(
    y: np.ndarray,
    x: np.ndarray,
    pools: np.ndarray,
    problems: np.ndarray,
    controls: Sequence[np.ndarray] = (),
    *,
    level: float = CI_LEVEL,
) -> dict[str, float | int | None]:
    """slope (per within-pool SD of x), its interval and p-value, with n_pools, n_draws,
    n_problems and the within-pool SD; rows with a missing value are left out."""
    import statsmodels.api as sm

    y, x = np.asarray(y, float), np.asarray(x, float)
    ctl = [np.asarray(c, float) for c in controls]
    keep = np.isfinite(y) & np.isfinite(x)
    for c in ctl:
        keep &= np.isfinite(c)
    pool_codes, pool = np.unique(np.asarray(pools)[keep], return_inverse=True)
    prob_codes, prob = np.unique(np.asarray(problems)[keep], return_inverse=True)
    n, n_pools = int(keep.sum()), len(pool_codes)
    out: dict[str, float | int | None] = {
        "slope": None,
        "slope_lo": None,
        "slope_hi": None,
        "p_value": None,
        "n_pools": n_pools,
        "n_draws": n,
        "n_problems": len(prob_codes),
        "sd_within": None,
    }
    if n - n_pools < 2 + len(ctl) or len(prob_codes) < 2:
        return out
    xd = demean(x[keep], pool, n_pools)
    sd = math.sqrt(float(xd @ xd) / (n - n_pools))
    yd = demean(y[keep], pool, n_pools)
    if not sd > 1e-12 * (float(np.abs(x[keep]).max()) + 1e-300) or not np.any(yd):
        return out
    cols = [xd / sd] + [demean(c[keep], pool, n_pools) for c in ctl]
    fit = sm.OLS(yd, np.column_stack(cols)).fit(
        cov_type="cluster", cov_kwds={"groups": prob}, use_t=True
    )
    lo, hi = fit.conf_int(alpha=1.0 - level)[0]
    values = {
        "slope": float(fit.params[0]),
        "slope_lo": float(lo),
        "slope_hi": float(hi),
        "p_value": float(fit.pvalues[0]),
    }
    out.update({k: (v if math.isfinite(v) else None) for k, v in values.items()})
    out["sd_within"] = sd
    return out


def quartile_diffs(
    y: np.ndarray, x: np.ndarray, pools: np.ndarray, n_pools: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per pool: mean y of the draws with x at or above the pool's 75th percentile minus that
    of the draws at or below its 25th (numpy's linear quantiles), and whether the pool counts
    (its quartiles differ, so the two groups are distinct)."""
    order = np.lexsort((x, pools))
    xs, ys, ps = x[order], y[order], pools[order]
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
    top = xs >= q75[ps]
    bottom = xs <= q25[ps]
    with np.errstate(invalid="ignore", divide="ignore"):
        top_mean = np.bincount(ps, weights=ys * top, minlength=n_pools) / np.bincount(
            ps, weights=top, minlength=n_pools
        )
        bottom_mean = np.bincount(ps, weights=ys * bottom, minlength=n_pools) / np.bincount(
            ps, weights=bottom, minlength=n_pools
        )
    ok = (sizes >= 2) & (q75 > q25)
    diff = np.where(ok, top_mean - bottom_mean, 0.0)
    return diff, ok


def quartile_effect(
    y: np.ndarray,
    x: np.ndarray,
    pools: np.ndarray,
    problems: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float | None, Interval, int]:
    """Mean over pools of (top-quartile accuracy - bottom-quartile accuracy) of the metric,
    with a bootstrap interval over problems and the number of pools it averages."""
    y, x = np.asarray(y, float), np.asarray(x, float)
    keep = np.isfinite(y) & np.isfinite(x)
    pool_codes, pool = np.unique(np.asarray(pools)[keep], return_inverse=True)
    prob_codes, prob = np.unique(np.asarray(problems)[keep], return_inverse=True)
    n_pools = len(pool_codes)
    if not n_pools:
        return None, Interval(None, None, n_boot, 0, "none"), 0
    diff, ok = quartile_diffs(y[keep], x[keep], pool, n_pools)
    prob_of_pool = np.zeros(n_pools, dtype=np.int64)
    prob_of_pool[pool] = prob
    sums = np.bincount(prob_of_pool, weights=diff * ok, minlength=len(prob_codes))
    counts = np.bincount(prob_of_pool, weights=ok.astype(float), minlength=len(prob_codes))
    used = int(ok.sum())
    if not used:
        return None, Interval(None, None, n_boot, 0, "none", "no pool with distinct quartiles"), 0
    point = float(sums.sum() / counts.sum())
    if not n_boot:
        return point, Interval(None, None, 0, 0, "none"), used
    w = resample_weights(len(prob_codes), n_boot, seed)
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
