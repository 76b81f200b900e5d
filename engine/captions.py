"""One caption per report table saying what its numbers pool over, shared by the Markdown
report and the UI's overview (built from the report's ``meta``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _listed(values: Sequence[Any]) -> str:
    """Values as ``a, b, c`` (temperatures without trailing zeros)."""
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def caption(name: str, meta: dict[str, Any]) -> str:
    """One or two sentences saying what a table's numbers pool over (Markdown and the UI)."""
    temps = meta.get("temperatures") or []
    sizes = meta.get("sizes") or []
    over_t = f"pooled over temperatures {_listed(temps)}" if len(temps) > 1 else "one temperature"
    over_k = f"pooled over k {_listed(sizes)}" if len(sizes) > 1 else "one k"
    control = meta.get("control")
    n_boot = meta.get("n_boot", 0)
    ci = (
        f" Intervals: {int(meta.get('ci_level', 0.95) * 100)}% bootstrap over problems "
        f"({n_boot} resamples)."
        if n_boot
        else " No intervals (no resampling)."
    )
    pb = "Pearson r against a 0/1 correctness is the point-biserial correlation"
    texts = {
        "accuracy_by_k": f"Mean correctness over the draws of each k, {over_t} and problems.",
        "accuracy_by_temperature": f"Mean correctness over the draws of each temperature, {over_k} "
        "and problems.",
        "accuracy_by_k_temperature": "Mean correctness over the draws of each k and temperature, "
        "pooled over problems.",
        "metric_correlations": f"Across the draws of each k, {over_t} and problems, so it mixes "
        f"differences between problems with those within them (see within_correlations). {pb}.",
        "partial_correlations": (
            f"Pearson r of the residuals of the metric and of correctness after a linear fit on "
            f"{control}, "
            + (
                f"the fit {over_t} (pooled on request: it mixes temperatures)."
                if meta.get("partial_pooled")
                else "per temperature and k (the fit never mixes temperatures)."
            )
        ),
        "count_correlations": "Metric against the number of correct members across the draws of "
        "each temperature and k, pooled over problems.",
        "buckets": (
            ("Equal-count (quantile)" if meta.get("bucket_scheme") == "quantile" else "Equal-width")
            + " bins of each metric over the draws of each k"
            + (", per temperature" if meta.get("by_temperature") else f", {over_t}")
            + "; accuracy in each bin, n_<aggregator> graded draws in it."
        ),
        "coverage_correlations": f"Metric against coverage (any member correct) across the draws "
        f"of each k, {over_t} and problems"
        + (f"; partial r on {control}, fitted across those temperatures." if control else "."),
        "pass_at_k": "Unbiased pass@k of whole pools, the mean over the problems whose pool has "
        "at least k samples, per temperature.",
        "pruning": f"Accuracy on the m kept members of the draws of size N, {over_t} and "
        "problems; <aggregator>_minus_random: the paired difference medoids minus random on the "
        "same draws.",
        "scorers": "AUC against correctness pooled over every graded sample of a run (mixes "
        "problems) and within pools (the mean over pools with both classes: the ranking bst "
        "uses); bst accuracy over the draws of each k.",
        "within_correlations": "Per k: pooled_r across all draws (every temperature and problem), "
        "between_r across pool means (each pool once), within_r after subtracting each pool's "
        "mean (run x problem x temperature) from the metric and the outcome, so no difference "
        f"between problems or temperatures is left in it. {pb}.",
        "fixed_effects": "Linear probability slope of correctness per within-pool SD of the metric, "
        "with a fixed effect per pool (run x problem x temperature)"
        + (f", controlling {control}" if control else ", no control")
        + ", standard errors clustered by problem (statsmodels); q_value: Benjamini-Hochberg over "
        "the table; top_minus_bottom: mean over pools of the accuracy of the metric's top "
        "within-pool quartile minus its bottom quartile.",
        "neighbours": "Per run and space, over every graded pool: how often a sample's nearest "
        "other member of its pool shares its answer class and correctness.",
    }
    if name == "fixed_effects" and n_boot:
        ci = (
            " slope intervals: cluster-robust t intervals; top_minus_bottom: bootstrap over "
            f"problems ({n_boot} resamples)."
        )
    extra = "" if name in ("neighbours",) else ci
    return texts.get(name, "") + extra
