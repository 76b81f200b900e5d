"""Confidence intervals from problem-bootstrap replicates, with the rules that make them hold.

Every interval counts its undefined (NaN) replicates. The rules, in order:

1. More than ``MAX_INVALID`` (5%) of the replicates undefined (a resample without an event, a
   constant column): no interval, and a note says how many and why. Dropping them silently
   would keep only the resamples that happen to contain events and make the interval too
   narrow.
2. Means of values in [0, 1] (accuracies, coverage, pass@k) with fewer than ``MIN_EVENTS`` (5)
   effective events or non-events: a Wilson interval (statsmodels ``proportion_confint``) on
   the cluster-effective sample size ``n_eff = p (1 - p) / var_boot``, clipped to
   [problems, draws]; ``n_eff`` = problems when p is 0 or 1 or the replicates do not vary.
   Percentile intervals collapse to a point at 0 and 1; Wilson's never does and always holds p.
3. Otherwise the percentile interval of the defined replicates; withheld (with a note) when it
   is a single point or does not contain the estimate, both signs that the bootstrap failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CI_LEVEL = 0.95
MAX_INVALID = 0.05
MIN_EVENTS = 5.0


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval (``lo``/``hi`` None when withheld) and what it rests on."""

    lo: float | None
    hi: float | None
    n_boot: int
    n_valid: int
    method: str
    note: str | None = None

    @property
    def bounds(self) -> tuple[float, float] | None:
        """(lo, hi), or None when there is no interval."""
        return None if self.lo is None or self.hi is None else (self.lo, self.hi)


NO_RESAMPLING = Interval(None, None, 0, 0, "none")


def percentile(stats: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float] | None:
    """Percentile interval of the finite replicates (None when there are none)."""
    finite = stats[np.isfinite(stats)]
    if finite.size == 0:
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return float(lo), float(hi)


def _invalid(n_boot: int, n_valid: int, why: str) -> str | None:
    """The rule-1 note when too many replicates are undefined, else None."""
    bad = n_boot - n_valid
    if bad > MAX_INVALID * n_boot:
        return (
            f"{bad} of {n_boot} resamples undefined ({why}), more than "
            f"{MAX_INVALID:.0%}: no interval"
        )
    return None


def _screened(
    point: float | None, replicates: np.ndarray | None, why: str
) -> Interval | tuple[float, np.ndarray, int, int]:
    """The interval when a rule withholds it before any bounds (no resampling, an undefined
    estimate, too many undefined replicates), else (point, replicates, n_boot, n_valid)."""
    if replicates is None or len(replicates) == 0:
        return NO_RESAMPLING
    reps = np.asarray(replicates, float)
    n_boot, n_valid = reps.size, int(np.isfinite(reps).sum())
    if point is None or not math.isfinite(point):
        return Interval(None, None, n_boot, n_valid, "none", "estimate undefined")
    note = _invalid(n_boot, n_valid, why)
    if note:
        return Interval(None, None, n_boot, n_valid, "none", note)
    return float(point), reps, n_boot, n_valid


def boot_interval(
    point: float | None,
    replicates: np.ndarray | None,
    *,
    why: str = "a resample where the statistic is undefined",
    level: float = CI_LEVEL,
) -> Interval:
    """Percentile interval of ``replicates`` for a statistic with estimate ``point`` (rules 1, 3)."""
    checked = _screened(point, replicates, why)
    if isinstance(checked, Interval):
        return checked
    point, reps, n_boot, n_valid = checked
    bounds = percentile(reps, level)
    if bounds is None:
        return Interval(None, None, n_boot, n_valid, "none", "no finite resample: no interval")
    lo, hi = bounds
    tol = 1e-12 * max(1.0, abs(point))
    if hi - lo <= tol:
        note = "every resample gives the same value: no interval"
        return Interval(None, None, n_boot, n_valid, "none", note)
    if not lo - tol <= point <= hi + tol:
        note = "the resamples do not cover the estimate: no interval"
        return Interval(None, None, n_boot, n_valid, "none", note)
    return Interval(lo, hi, n_boot, n_valid, "percentile")


def effective_n(point: float, replicates: np.ndarray, n_problems: int, n_draws: int) -> float:
    """Cluster-effective sample size of a proportion: p (1 - p) / bootstrap variance, in
    [problems, draws]; problems when p is 0 or 1 or the replicates do not vary."""
    finite = replicates[np.isfinite(replicates)]
    var = float(finite.var()) if finite.size > 1 else 0.0
    p = min(max(point, 0.0), 1.0)
    if var <= 0.0 or p in (0.0, 1.0):
        return float(n_problems)
    return float(min(max(p * (1.0 - p) / var, n_problems), max(n_draws, n_problems)))


def wilson(p: float, n_eff: float, level: float = CI_LEVEL) -> tuple[float, float]:
    """Wilson score interval of a proportion p on n_eff observations (statsmodels)."""
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(p * n_eff, n_eff, alpha=1.0 - level, method="wilson")
    return float(max(0.0, min(lo, p))), float(min(1.0, max(hi, p)))


def proportion_interval(
    point: float | None,
    replicates: np.ndarray | None,
    *,
    n_problems: int,
    n_draws: int,
    why: str = "a resample with no graded draw",
    level: float = CI_LEVEL,
) -> Interval:
    """Interval of a mean of values in [0, 1] over draws of ``n_problems`` clusters (rules 1-3)."""
    checked = _screened(point, replicates, why)
    if isinstance(checked, Interval):
        return checked
    point, reps, n_boot, n_valid = checked
    n_eff = effective_n(point, reps, n_problems, n_draws)
    if min(point, 1.0 - point) * n_eff < MIN_EVENTS:
        lo, hi = wilson(point, n_eff, level)
        return Interval(lo, hi, n_boot, n_valid, f"wilson(n_eff={n_eff:.0f})")
    return boot_interval(point, reps, why=why, level=level)
