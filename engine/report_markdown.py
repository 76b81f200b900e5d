"""The report as Markdown research notes: one section per table with its caption and notes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from divtui.store.vocabulary import OUTCOMES

from .compare_markdown import comparison_md, problems_md

Row = dict[str, Any]


def _num(v: Any) -> str:
    """A number to 3 decimals (integers as they are), '–' when undefined."""
    if v is None:
        return "–"
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return f"{v:.3f}"


def _ci(row: Row, key: str, zero: bool = False) -> str:
    """``0.712 [0.68, 0.74]``: a value with its interval to 2 decimals; ``[no CI]`` when the
    resamples gave none (the table's notes say why); with ``zero`` a ``*`` marks an interval
    that excludes 0."""
    v, lo, hi = row.get(key), row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if v is None:
        return "–"
    if lo is None or hi is None:
        return f"{v:.3f} [no CI]" if row.get("n_boot_valid") is not None else f"{v:.3f}"
    mark = " *" if zero and (lo > 0 or hi < 0) else ""
    return f"{v:.3f} [{lo:.2f}, {hi:.2f}]{mark}"


def _t(v: Any) -> str:
    """A temperature without trailing zeros."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 0) -> str:
    """A Markdown pipe table; columns from index ``right`` on are right-aligned."""
    align = ["---" if i < right else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _multi_run(rows: Sequence[Row]) -> bool:
    """Whether rows come from more than one run (then a run column is shown)."""
    return len({r.get("run_id") for r in rows}) > 1


def _accuracy_md(rows: list[Row], keys: list[str], aggs: list[str]) -> str:
    """Rows by the key columns, one column per aggregator with its CI, then draws and problems."""
    keys = (["run_id"] if _multi_run(rows) else []) + keys
    names = {"run_id": "run", "k": "k", "temperature": "T"}
    header = [names[k] for k in keys] + aggs + ["draws", "problems"]
    body = [
        [_t(r[k]) for k in keys]
        + [_ci(r, a) for a in aggs]
        + [str(r["n_draws"]), str(r["n_problems"])]
        for r in rows
    ]
    return _table(header, body, right=len(keys))


def _grid_md(rows: list[Row], stat: str, title: str) -> str:
    """Per (run, k) (and temperature, when the rows have one): a metric x aggregator grid of
    one statistic with its CI."""
    parts = []
    multi = _multi_run(rows)
    groups: dict[tuple[Any, Any, Any], list[Row]] = {}
    for r in rows:
        groups.setdefault((r["run_id"], r.get("temperature"), r["k"]), []).append(r)
    for (run, temp, k), rs in groups.items():
        metrics = list(dict.fromkeys(r["metric"] for r in rs))
        aggs = list(dict.fromkeys(r["aggregator"] for r in rs))
        cell = {(r["metric"], r["aggregator"]): r for r in rs}
        n = max(r["n"] for r in rs)
        p = max(r["n_problems"] for r in rs)
        where = f"T = {_t(temp)}, k = {k}" if temp is not None else f"k = {k}"
        head = f"**{title}, {where}**" + (f" (run {run})" if multi else "")
        pools = max(r.get("n_pools", 0) for r in rs)
        parts.append(f"{head}: {n} draws of {pools} pools, {p} problems")
        body = [
            [m] + [_ci(cell[(m, a)], stat) if (m, a) in cell else "" for a in aggs] for m in metrics
        ]
        parts.append(_table(["metric", *aggs], body, right=1))
    return "\n\n".join(parts)


def _long_md(rows: list[Row], keys: list[str], stats: list[str], binary: bool = True) -> str:
    """One line per row: the key columns, draws, pools, and each statistic with its CI."""
    keys = (["run_id"] if _multi_run(rows) else []) + keys
    names = {"run_id": "run", "k": "k", "temperature": "T", "metric": "metric"}
    pearson = "Pearson r (point-biserial)" if binary else "Pearson r"
    titles = {"pearson": pearson, "spearman": "Spearman ρ", "partial": "partial r"}
    header = [names.get(k, k) for k in keys] + ["n", "pools"] + [titles[s] for s in stats]
    body = [
        [_t(r[k]) for k in keys]
        + [str(r["n"]), str(r.get("n_pools", ""))]
        + [_ci(r, s) for s in stats]
        for r in rows
    ]
    return _table(header, body, right=len(keys))


def _per_run_k(rows: list[Row]) -> Iterator[tuple[str, list[Row]]]:
    """Rows grouped by (run, k), each group with its bold heading (the run named when several)."""
    multi = _multi_run(rows)
    groups: dict[tuple[Any, Any], list[Row]] = {}
    for r in rows:
        groups.setdefault((r["run_id"], r["k"]), []).append(r)
    for (run, k), rs in groups.items():
        yield f"**k = {k}**" + (f" (run {run})" if multi else ""), rs


def _within_md(rows: list[Row]) -> str:
    """Per (run, k): metric x outcome lines of pooled, between and within r side by side."""
    parts = []
    for head, rs in _per_run_k(rows):
        parts.append(head)
        body = [
            [r["metric"], r["outcome"]]
            + [_ci(r, s, zero=True) for s in ("pooled_r", "between_r", "within_r")]
            + [
                str(r["n_draws"]),
                str(r["n_pools"]),
                str(r["n_informative_pools"]),
                "–" if r["n_events"] is None else str(r["n_events"]),
            ]
            for r in rs
        ]
        header = ["metric", "outcome", "pooled r", "between r", "within r", "draws", "pools"]
        parts.append(_table(header + ["informative pools", "events"], body, right=2))
    return "\n\n".join(parts)


def _fe_md(rows: list[Row]) -> str:
    """Per (run, k): metric x aggregator lines of the fixed-effects slope and quartile effect."""
    parts = []
    for head, rs in _per_run_k(rows):
        parts.append(head)
        body = [
            [
                r["metric"],
                r["aggregator"],
                _ci(r, "slope", zero=True),
                _num(r["p_value"]),
                _num(r["q_value"]),
                _ci(r, "top_minus_bottom", zero=True),
                str(r["n_draws"]),
                str(r["n_pools"]),
            ]
            for r in rs
        ]
        header = ["metric", "aggregator", "slope per SD", "p", "q (BH)", "top − bottom quartile"]
        parts.append(_table(header + ["draws", "pools"], body, right=2))
    return "\n\n".join(parts)


def _notes_md(rows: list[Row], limit: int = 5) -> str:
    """The distinct interval notes of a table's rows (withheld or Wilson intervals), at most
    ``limit`` of them with a count of the rest."""
    notes = list(dict.fromkeys(n for r in rows for n in (r.get("ci_note") or "").split("; ") if n))
    if not notes:
        return ""
    more = f" (and {len(notes) - limit} more)" if len(notes) > limit else ""
    return "\n\nInterval notes: " + "; ".join(notes[:limit]) + more + "."


def _buckets_md(rows: list[Row], aggs: list[str]) -> str:
    """One table per (run, k, metric): bin range, count, min, max, mean and accuracies."""
    parts = []
    multi = _multi_run(rows)
    groups: dict[tuple[Any, Any, Any, Any], list[Row]] = {}
    for r in rows:
        groups.setdefault((r["run_id"], r["metric"], r["k"], r.get("temperature")), []).append(r)
    order = list(dict.fromkeys(r["metric"] for r in rows))
    ranked = sorted(
        groups.items(), key=lambda g: (g[0][0], order.index(g[0][1]), g[0][2], g[0][3] or 0)
    )
    for (run, metric, k, temp), rs in ranked:
        where = f"k = {k}" + (f", T = {_t(temp)}" if temp is not None else "")
        parts.append(f"**{metric}, {where}**" + (f" (run {run})" if multi else ""))
        body = [
            [
                str(r["bin"]),
                f"[{r['lo']:.3f}, {r['hi']:.3f}{']' if r['bin'] == len(rs) else ')'}",
                str(r["count"]),
                _num(r["min"]),
                _num(r["max"]),
                _num(r["mean"]),
            ]
            + [_ci(r, a) for a in aggs]
            for r in rs
        ]
        header = ["bin", "range", "count", "min", "max", "mean", *aggs]
        parts.append(_table(header, body, right=1))
    return "\n\n".join(parts)


def _pass_md(rows: list[Row]) -> str:
    """Rows by (run,) temperature; one column per k with pass@k and its CI."""
    ks = sorted({r["k"] for r in rows})
    multi = _multi_run(rows)
    groups: dict[tuple[Any, Any], dict[int, Row]] = {}
    for r in rows:
        groups.setdefault((r["run_id"], r["temperature"]), {})[r["k"]] = r
    header = (["run"] if multi else []) + ["T"] + [f"pass@{k}" for k in ks] + ["problems"]
    body = []
    for (run, t), by_k in groups.items():
        probs = sorted({str(r["n_problems"]) for r in by_k.values()})
        body.append(
            ([run] if multi else [])
            + [_t(t)]
            + [_ci(by_k[k], "pass_at_k") if k in by_k else "–" for k in ks]
            + ["/".join(probs)]
        )
    return _table(header, body, right=1 + multi)


def _pruning_md(rows: list[Row]) -> str:
    """One table per (run, N): rows by metric, weighting and m, medoids then random."""
    parts = []
    multi = _multi_run(rows)
    groups: dict[tuple[Any, Any], list[Row]] = {}
    for r in rows:
        groups.setdefault((r["run_id"], r["k"]), []).append(r)
    for (run, k), rs in groups.items():
        aggs = [a for a in OUTCOMES if any(a in r for r in rs)]
        emb = sorted({r["embedder"] for r in rs if r["embedder"]})
        sc = sorted({r["scorer"] for r in rs if r["scorer"]})
        parts.append(
            f"**N = {k}**"
            + (f" (run {run})" if multi else "")
            + (f"; embedder {', '.join(emb)}" if emb else "")
            + (f"; scorer {', '.join(sc)}" if sc else "")
        )
        body = [
            [
                r["metric"] or "–",
                r["selector"] + (" (weighted)" if r["weighted"] else ""),
                str(r["m"]),
            ]
            + [_ci(r, a) for a in aggs]
            + [str(r["n_draws"]), str(r["n_problems"])]
            for r in rs
        ]
        parts.append(_table(["metric", "kept", "m", *aggs, "draws", "problems"], body, right=3))
        diffs = [r for r in rs if any(f"{a}_minus_random" in r for a in aggs)]
        if diffs:
            parts.append("Paired difference medoids − random on the same draws:")
            body = [
                [r["metric"], "medoids" + (" (weighted)" if r["weighted"] else ""), str(r["m"])]
                + [_ci(r, f"{a}_minus_random", zero=True) for a in aggs]
                for r in diffs
            ]
            parts.append(_table(["metric", "kept", "m", *aggs], body, right=3))
    return "\n\n".join(parts)


def _scorers_md(rows: list[Row]) -> str:
    """One line per (run, scorer): samples, AUC, and bst accuracy at each k."""
    ks = sorted(
        {
            int(key[5:])
            for r in rows
            for key in r
            if key.startswith("bst_k") and not key.endswith(("_lo", "_hi"))
        }
    )
    multi = _multi_run(rows)
    header = (["run"] if multi else []) + ["scorer", "samples", "correct", "AUC (pooled)"]
    header += ["AUC (within pools)", "pools with both"]
    header += [f"bst k={k}" for k in ks]
    body = [
        ([r["run_id"]] if multi else [])
        + [r["scorer"], str(r["n_samples"]), str(r["n_correct"]), _ci(r, "auc")]
        + [_ci(r, "within_auc"), f"{r['n_informative_pools']}/{r['n_pools']}"]
        + [_ci(r, f"bst_k{k}") for k in ks]
        for r in rows
    ]
    return _table(header, body, right=1 + multi)


def to_markdown(report: dict[str, Any], db: str) -> str:
    """The report as Markdown: one section per table, like the research notes, each opened by
    its caption (engine.report.caption: what it pools over) and closed by its interval notes."""
    from divtui.engine.captions import caption

    meta, tables = report["meta"], report["tables"]
    aggs = meta["aggregators"]
    temps, sizes = meta["temperatures"], meta["sizes"]
    lines = [
        "# divtui report",
        "",
        f"Database `{db}`; runs {', '.join(meta['runs']) or '–'}; temperatures "
        f"{', '.join(_t(t) for t in temps) or '–'}; batch sizes k {', '.join(map(str, sizes)) or '–'}.",
        f"Intervals: {int(meta['ci_level'] * 100)}% bootstrap over problems "
        f"({meta['n_boot']} resamples, seed {meta['seed']}); [no CI]: withheld, see the "
        "table's notes; * : the interval excludes 0.",
    ]
    lines += [f"Note: {n}" for n in meta.get("notes", [])]
    empty = "_No rows (nothing of this kind is stored for the selection)._"
    control = meta.get("control") or "mean_logprob"
    pb = "Pearson r (point-biserial)"
    sections: dict[str, tuple[str, Callable[[list[Row]], str]]] = {
        "accuracy_by_k": ("Accuracy by k", lambda rs: _accuracy_md(rs, ["k"], aggs)),
        "accuracy_by_temperature": (
            "Accuracy by temperature",
            lambda rs: _accuracy_md(rs, ["temperature"], aggs),
        ),
        "accuracy_by_k_temperature": (
            "Accuracy by k and temperature",
            lambda rs: _accuracy_md(rs, ["k", "temperature"], aggs),
        ),
        "metric_correlations": (
            "Diversity vs aggregator correctness",
            lambda rs: (
                _grid_md(rs, "pearson", pb) + "\n\n" + _grid_md(rs, "spearman", "Spearman ρ")
            ),
        ),
        "partial_correlations": (
            f"Partial correlations, controlling for {control}",
            lambda rs: _grid_md(rs, "partial", "partial r"),
        ),
        "count_correlations": (
            "Diversity vs number of correct members",
            lambda rs: _long_md(
                rs, ["temperature", "k", "metric"], ["pearson", "spearman"], binary=False
            ),
        ),
        "buckets": (
            "Accuracy in "
            + ("quantile" if meta.get("bucket_scheme") == "quantile" else "equal-width")
            + " metric buckets",
            lambda rs: _buckets_md(rs, aggs),
        ),
        "coverage_correlations": (
            "Diversity vs coverage (any member correct)",
            lambda rs: _long_md(
                rs,
                ["k", "metric"],
                ["pearson", "spearman"] + (["partial"] if "partial" in rs[0] else []),
            ),
        ),
        "pass_at_k": (
            "pass@k (unbiased estimator over whole pools)",
            lambda rs: "Mean over problems of 1 - C(n-c, k)/C(n, k).\n\n" + _pass_md(rs),
        ),
        "pruning": (
            "Pruning: m medoids against m random members of draws of size N",
            lambda rs: (
                "Accuracy of each aggregator on the kept members (coverage: any kept member "
                "correct); medoids by PAM in the metric's space, random rows shared by every "
                "metric.\n\n" + _pruning_md(rs)
            ),
        ),
        "scorers": (
            "Scorers: AUC against correctness and best-of-k accuracy",
            lambda rs: (
                "AUC: Mann-Whitney probability that a correct sample outscores an incorrect "
                "one; bst: accuracy of the highest-scored member of stored draws.\n\n"
                + _scorers_md(rs)
            ),
        ),
        "within_correlations": (
            "Pooled, between-pool and within-pool correlations",
            _within_md,
        ),
        "fixed_effects": ("Fixed-effects slopes (linear probability, pool effects)", _fe_md),
        "neighbours": (
            "Neighbourhood quality of each pruning space",
            lambda rs: (
                "How often a sample's nearest other member of its pool has the same answer "
                "class and the same correctness, against a uniformly chosen other member "
                "(lift = rate / chance).\n\n" + neighbours_table(rs)
            ),
        ),
        "run_comparison": (
            "Run comparison: pass@k of two runs on their shared problems",
            lambda rs: (
                "Unbiased pass@k per pool, mean over the problems both runs have (per pair of "
                "temperatures, never pooled across them); B − A with a paired bootstrap over "
                "problems (one resample for both runs); cosine_sim and distinct_n: mean over "
                "those problems of each problem's mean over its draws of size k.\n\n"
                + comparison_md(rs)
            ),
        ),
        "run_problems": (
            "Problems solved by one run only",
            lambda rs: (
                "Solved: pass@K of the problem's pool >= 0.5. Answers: the pool's answer "
                "classes, largest first, with members and correct mark.\n\n" + problems_md(rs)
            ),
        ),
    }
    for name, rows in tables.items():
        title, render = sections[name]
        body = render(rows) + _notes_md(rows) if rows else empty
        lines += ["", f"## {title}", "", caption(name, meta), "", body]
    return "\n".join(lines) + "\n"


def neighbours_table(rows: list[dict[str, Any]]) -> str:
    """Neighbourhood quality as a Markdown table (rate, chance rate, lift per space)."""
    multi = len({r["run_id"] for r in rows}) > 1
    head = (["run"] if multi else []) + [
        "metric",
        "samples",
        "same class",
        "chance",
        "lift",
        "same correctness",
        "chance",
        "lift",
    ]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] * len(head)) + " |"]
    for r in rows:

        def f(v: Any) -> str:
            return "–" if v is None else f"{v:.3f}"

        cells = ([r["run_id"]] if multi else []) + [
            r["metric"],
            str(r["samples"]),
            f(r["same_class"]),
            f(r["same_class_chance"]),
            f(r["same_class_lift"]),
            f(r["same_correct"]),
            f(r["same_correct_chance"]),
            f(r["same_correct_lift"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
