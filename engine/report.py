"""The study's tables: accuracy by k and temperature, correlations, buckets, pass@k, the
pruning study and the scorers' comparison.

``build_report`` returns ``{"tables": {NAME: [row, ...]}, "meta": {...}}``; every row is a flat
dict of plain values (confidence intervals as ``<stat>_lo`` / ``<stat>_hi``), so the same rows
print as Markdown, JSON or CSV. Intervals are percentile bootstraps over problems.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from divtui.store import prune_queries as pq
from divtui.store import report_queries as rq

from . import run_compare, stats
from .passk import pass_at_k_many
from .prune import neighbourhood_quality

TABLES = (
    "accuracy_by_k",
    "accuracy_by_temperature",
    "accuracy_by_k_temperature",
    "metric_correlations",
    "partial_correlations",
    "count_correlations",
    "buckets",
    "coverage_correlations",
    "pass_at_k",
    "pruning",
    "scorers",
)
OPT_IN = ("neighbours", "run_comparison", "run_problems")
"""Tables computed only when asked for by name: neighbours rebuilds every pool's matrices (17 s
for 2,000 pools of 64 on the 2-core dev box); run_comparison and run_problems need ``runs``."""
DRAWLESS = frozenset({"pass_at_k", "scorers", "neighbours", "run_comparison", "run_problems"})
PRUNE_AGGREGATORS = ("maj", "wmaj", "bst", "mbr_lex", "mbr_sem", "coverage")
PRUNE_KEYS = ["run_id", "k", "metric", "m", "selector", "weighted", "embedder", "scorer"]
CONTROL = "mean_logprob"
COUNT = "n_correct"
COVERAGE = "coverage"
ORDER = (
    "cosine_sim",
    "distinct_n",
    "dpp",
    "qual_dpp",
    "near_dup_pairs",
    "mean_logprob",
    "n_correct",
    "maj",
    "wmaj",
    "bst",
    "mbr_lex",
    "mbr_sem",
    "coverage",
)
Row = dict[str, Any]


class ReportError(ValueError):
    """A report request that cannot be answered (unknown table or run, no draws); one line."""


def _labels(found: Iterable[tuple[str, str, str]]) -> list[rq.Column]:
    """(label, name, embedder, scorer): the name, plus the embedder/scorer where several exist."""
    by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, emb, sc in found:
        by_name[name].append((emb, sc))
    out = []
    for name, pairs in by_name.items():
        multi_emb = len({e for e, _ in pairs}) > 1
        multi_sc = len({s for _, s in pairs}) > 1
        for emb, sc in pairs:
            parts = ([emb] if multi_emb and emb else []) + ([sc] if multi_sc and sc else [])
            out.append((f"{name}[{','.join(parts)}]" if parts else name, name, emb, sc))
    rank = {n: i for i, n in enumerate(ORDER)}

    def place(name: str) -> int:
        """Position in ORDER; distinct_<n> of another n sits with distinct_n."""
        return rank.get("distinct_n" if name.startswith("distinct_") else name, len(ORDER))

    return sorted(out, key=lambda c: (place(c[1]), c[1], c[0]))


def _select(
    found: list[tuple[str, str, str]], scorer: str | None, embedder: str | None
) -> list[tuple[str, str, str]]:
    """Variants that use no scorer/embedder or the selected one."""
    return [
        (n, e, s)
        for n, e, s in found
        if (scorer is None or s in ("", scorer)) and (embedder is None or e in ("", embedder))
    ]


def _check_choice(kind: str, value: str | None, known: set[str]) -> None:
    """Raise a ReportError when ``value`` is not one of ``known``."""
    if value is not None and value not in known:
        choices = ", ".join(sorted(known)) or "none"
        raise ReportError(f"unknown {kind} {value!r}; this database has: {choices}")


def _fmt_filters(run_id: str | None, temperature: float | None, k: int | None) -> str:
    """The active filters as text, for messages."""
    parts = [f"{n}={v}" for n, v in (("run", run_id), ("temperature", temperature), ("k", k))]
    return ", ".join(p for p in parts if not p.endswith("=None")) or "no filter"


def _ci_fields(row: Row, key: str, value: float | None, ci: tuple[float, float] | None) -> None:
    """Set ``key``, ``key_lo``, ``key_hi`` on a row (None where undefined)."""
    row[key] = None if value is None or math.isnan(value) else float(value)
    row[f"{key}_lo"], row[f"{key}_hi"] = ci if ci else (None, None)


def _accuracy(
    con: duckdb.DuckDBPyConnection,
    where: str,
    params: list[Any],
    outcomes: list[rq.Column],
    by: Sequence[str],
    n_boot: int,
    seed: int,
) -> list[Row]:
    """Rows by (run, *by): each aggregator's mean correctness with CI, draws and problems."""
    pa = rq.problem_accuracy(con, where, params, outcomes, by)
    rows: list[Row] = []
    keys = ["run_id", *by]
    for group, sub in pa.groupby(keys, sort=True):
        row: Row = dict(zip(keys, _plain(group), strict=True))
        problems = sorted(sub["problem_id"].unique())
        row["n_problems"] = len(problems)
        row["n_draws"] = int(sub.groupby("label")["n_draws"].sum().max())
        for label, *_ in outcomes:
            s = sub[sub["label"] == label].set_index("problem_id").reindex(problems)
            hits, n = s["hits"].fillna(0).to_numpy(), s["n"].fillna(0).to_numpy()
            value, ci = stats.mean_with_ci(hits, n, n_boot=n_boot, seed=seed)
            _ci_fields(row, label, value, ci)
        rows.append(row)
    return rows


def _plain(value: Any) -> tuple[Any, ...]:
    """A pandas group key as a tuple of plain Python values."""
    values = value if isinstance(value, tuple) else (value,)
    return tuple(v.item() if hasattr(v, "item") else v for v in values)


def _groups(df: pd.DataFrame, keys: list[str]) -> Iterable[tuple[Row, pd.DataFrame]]:
    """(key values as a row prefix, sub-frame) for each group of the draw frame."""
    for group, sub in df.groupby(keys, sort=True):
        yield dict(zip(keys, _plain(group), strict=True)), sub


def _correlations(
    df: pd.DataFrame,
    keys: list[str],
    metrics: list[str],
    targets: list[str],
    *,
    partial: bool,
    rank: bool,
    n_boot: int,
    seed: int,
    target_key: str = "aggregator",
) -> list[Row]:
    """Rows (keys, metric, target) of correlations of each metric against each target column."""
    rows = []
    pairs = [(m, t) for m in metrics for t in targets]
    for prefix, sub in _groups(df, keys):
        cols = {c: sub[c].to_numpy(float) for c in dict.fromkeys(metrics + targets)}
        res = stats.correlate_many(
            cols,
            pairs,
            pd.factorize(sub["problem_id"])[0],
            z=sub[CONTROL].to_numpy(float) if partial else None,
            rank=rank,
            n_boot=n_boot,
            seed=seed,
        )
        for m, t in pairs:
            r = res[(m, t)]
            row = {**prefix, "metric": m, target_key: t, "n": r["n"], "n_problems": r["n_problems"]}
            for key in ("pearson", "spearman", "partial"):
                if key in r:
                    _ci_fields(row, key, r[key], r[f"{key}_ci"])  # type: ignore[arg-type]
            rows.append(row)
    return rows


def _buckets(df: pd.DataFrame, metrics: list[str], aggs: list[str], n_bins: int) -> list[Row]:
    """Equal-width bins of each metric per (run, k): bin range, count, min/max/mean, accuracy."""
    rows = []
    for prefix, sub in _groups(df, ["run_id", "k"]):
        for m in metrics:
            x = sub[m].to_numpy(float)
            keep = np.isfinite(x)
            if not keep.any():
                continue
            edges, idx = stats.equal_width_buckets(x[keep], n_bins)
            for b in range(n_bins):
                inside = idx == b
                xs = x[keep][inside]
                row: Row = {**prefix, "metric": m, "bin": b + 1}
                row["lo"], row["hi"] = float(edges[b]), float(edges[b + 1])
                row["count"] = int(inside.sum())
                row["min"] = float(xs.min()) if xs.size else None
                row["max"] = float(xs.max()) if xs.size else None
                row["mean"] = float(xs.mean()) if xs.size else None
                for a in aggs:
                    ys = sub[a].to_numpy(float)[keep][inside]
                    ys = ys[np.isfinite(ys)]
                    row[a] = float(ys.mean()) if ys.size else None
                rows.append(row)
    return rows


def _pass_at_k_rows(
    con: duckdb.DuckDBPyConnection,
    run_id: str | None,
    temperature: float | None,
    ks: list[int],
    n_boot: int,
    seed: int,
) -> list[Row]:
    """pass@k per (run, temperature, k): mean over problems whose pool has at least k samples."""
    pools = rq.pool_counts(con, run_id=run_id, temperature=temperature)
    rows = []
    for prefix, sub in _groups(pools, ["run_id", "temperature"]):
        n, c = sub["n"].to_numpy(int), sub["c"].to_numpy(int)
        for k in ks:
            ok = n >= k
            if not ok.any():
                continue
            values = pass_at_k_many(n[ok], c[ok], k)
            mean, ci = stats.mean_with_ci(values, np.ones(values.size), n_boot=n_boot, seed=seed)
            row: Row = {**prefix, "k": k}
            _ci_fields(row, "pass_at_k", mean, ci)
            row["n_problems"] = int(ok.sum())
            row["pool_size_min"], row["pool_size_max"] = int(n[ok].min()), int(n[ok].max())
            rows.append(row)
    return rows


def _pruning(
    con: duckdb.DuckDBPyConnection,
    where: str,
    params: list[Any],
    scorer: str | None,
    embedder: str | None,
    n_boot: int,
    seed: int,
) -> list[Row]:
    """Rows by (run, N, metric, m, selector, weighted, embedder, scorer): each aggregator's
    accuracy on the kept set with a bootstrap CI over problems, draws and problems."""
    df = pq.prune_problem_accuracy(con, where, params)
    if scorer is not None:
        df = df[df["scorer"] == scorer]
    if embedder is not None:
        df = df[df["embedder"] == embedder]
    rows = []
    for prefix, sub in _groups(df, PRUNE_KEYS):
        problems = sorted(sub["problem_id"].unique())
        row: Row = {**prefix, "weighted": bool(prefix["weighted"])}
        row["n_problems"] = len(problems)
        row["n_draws"] = int(sub.groupby("aggregator")["n_draws"].sum().max())
        for a in PRUNE_AGGREGATORS:
            s = sub[sub["aggregator"] == a].set_index("problem_id").reindex(problems)
            if s["n"].isna().all():
                continue
            hits, n = s["hits"].fillna(0).to_numpy(), s["n"].fillna(0).to_numpy()
            value, ci = stats.mean_with_ci(hits, n, n_boot=n_boot, seed=seed)
            _ci_fields(row, a, value, ci)
        rows.append(row)
    return sorted(
        rows,
        key=lambda r: (r["run_id"], r["k"], r["metric"] == "", r["metric"], r["weighted"], r["m"]),
    )


def _scorers(
    con: duckdb.DuckDBPyConnection,
    run_id: str | None,
    temperature: float | None,
    where: str,
    params: list[Any],
    scorer: str | None,
    n_boot: int,
    seed: int,
) -> list[Row]:
    """Per (run, scorer): graded samples, AUC of the score against correctness (Mann-Whitney,
    with a bootstrap interval over problems), and the accuracy of ``bst`` under that scorer at
    each stored k (``bst_k<k>`` with CI)."""
    df = rq.scored_samples(con, run_id=run_id, temperature=temperature)
    if scorer is not None:
        df = df[df["scorer"] == scorer]
    names = sorted(df["scorer"].unique())
    bst = _accuracy(con, where, params, [(s, "bst", "", s) for s in names], ["k"], n_boot, seed)
    rows = []
    for prefix, sub in _groups(df, ["run_id", "scorer"]):
        correct = sub["correct"].to_numpy(bool)
        row: Row = {**prefix, "n_samples": len(sub), "n_correct": int(correct.sum())}
        row["n_problems"] = int(sub["problem_id"].nunique())
        value, ci = stats.auc_with_ci(
            sub["value"].to_numpy(float),
            correct,
            sub["problem_id"].to_numpy(),
            n_boot=n_boot,
            seed=seed,
        )
        _ci_fields(row, "auc", value, ci)
        for b in bst:
            if b["run_id"] == prefix["run_id"] and b.get(prefix["scorer"]) is not None:
                key = f"bst_k{b['k']}"
                _ci_fields(
                    row,
                    key,
                    b[prefix["scorer"]],
                    (b[f"{prefix['scorer']}_lo"], b[f"{prefix['scorer']}_hi"])
                    if b[f"{prefix['scorer']}_lo"] is not None
                    else None,
                )
        rows.append(row)
    return rows


def _pass_ks(draw_sizes: list[int], pools: pd.DataFrame, k: int | None) -> list[int]:
    """The k values for pass@k: the chosen one, else 1 and every draw size, else powers of 2."""
    if k is not None:
        return [k]
    if draw_sizes:
        return sorted({1, *draw_sizes})
    biggest = int(pools["n"].max()) if len(pools) else 1
    return [2**i for i in range(int(math.log2(max(biggest, 1))) + 1)]


def build_report(
    con: duckdb.DuckDBPyConnection,
    *,
    tables: Sequence[str] | None = None,
    run_id: str | None = None,
    temperature: float | None = None,
    k: int | None = None,
    scorer: str | None = None,
    embedder: str | None = None,
    metrics: Sequence[str] | None = None,
    n_buckets: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
    runs: str | None = None,
) -> dict[str, Any]:
    """Compute the requested tables (default: all) as ``{"tables": {...}, "meta": {...}}``."""
    names = list(tables) if tables else list(TABLES)
    for name in names:
        if name not in TABLES + OPT_IN:
            raise ReportError(f"unknown table {name!r}; choose from {', '.join(TABLES + OPT_IN)}")
    if n_buckets < 1:
        raise ReportError(f"--buckets must be at least 1, got {n_buckets}")
    if n_boot < 0:
        raise ReportError(f"--boot must be 0 or more, got {n_boot}")
    _check_choice("run", run_id, set(rq.run_ids(con)))
    where, params = rq.draw_filter(run_id=run_id, temperature=temperature, k=k)
    need_draws = any(n not in DRAWLESS for n in names)
    if need_draws and rq.count_draws(con, where, params) == 0:
        if rq.count_draws(con) == 0:
            raise ReportError("no draws yet; run `divtui draw` first")
        have = rq.draw_values(con, "TRUE", [])
        raise ReportError(
            f"no draws match {_fmt_filters(run_id, temperature, k)}; draws exist for "
            f"runs {have['run_id']}, temperatures {have['temperature']}, k {have['k']}"
        )
    found_m = rq.variants(con, "draw_metrics", where, params)
    found_o = rq.variants(con, "draw_outcomes", where, params)
    _check_choice("scorer", scorer, {s for *_, s in found_m + found_o if s})
    _check_choice("embedder", embedder, {e for _, e, _ in found_m + found_o if e})
    metric_cols = _labels(_select(found_m, scorer, embedder))
    if metrics:
        _check_choice_all(metrics, {c[1] for c in metric_cols} | {c[0] for c in metric_cols})
        metric_cols = [c for c in metric_cols if c[0] in metrics or c[1] in metrics]
    outcome_cols = _labels(_select(found_o, scorer, embedder))
    values = rq.draw_values(con, where, params)

    aggs = [c[0] for c in outcome_cols if c[1] != COVERAGE]
    cover = [c[0] for c in outcome_cols if c[1] == COVERAGE]
    diversity = [c[0] for c in metric_cols if c[1] != COUNT]
    control = any(n == CONTROL for n, _, _ in found_m)
    count_present = any(n == COUNT for n, _, _ in found_m)
    need_frame = any(
        n not in DRAWLESS and n != "pruning" and not n.startswith("accuracy") for n in names
    )
    have = {c[0] for c in metric_cols}
    extra = [(x, x, "", "") for x, ok in ((CONTROL, control), (COUNT, count_present)) if ok]
    frame_metrics = metric_cols + [c for c in extra if c[0] not in have]
    df = rq.draw_frame(con, where, params, frame_metrics, outcome_cols) if need_frame else None
    partial_metrics = [m for m in diversity if m != CONTROL]
    corr = {"n_boot": n_boot, "seed": seed}

    builders: dict[str, Callable[[], list[Row]]] = {
        "accuracy_by_k": lambda: _accuracy(con, where, params, outcome_cols, ["k"], **corr),
        "accuracy_by_temperature": lambda: _accuracy(
            con, where, params, outcome_cols, ["temperature"], **corr
        ),
        "accuracy_by_k_temperature": lambda: _accuracy(
            con, where, params, outcome_cols, ["k", "temperature"], **corr
        ),
        "metric_correlations": lambda: _correlations(
            df, ["run_id", "k"], diversity, aggs, partial=False, rank=True, **corr
        ),
        "partial_correlations": lambda: (
            _correlations(
                df, ["run_id", "k"], partial_metrics, aggs, partial=True, rank=False, **corr
            )
            if control
            else []
        ),
        "count_correlations": lambda: (
            _correlations(
                df,
                ["run_id", "temperature", "k"],
                diversity,
                [COUNT],
                partial=False,
                rank=True,
                target_key="target",
                **corr,
            )
            if count_present
            else []
        ),
        "buckets": lambda: _buckets(df, diversity, aggs + cover, n_buckets),
        "coverage_correlations": lambda: _correlations(
            df,
            ["run_id", "k"],
            partial_metrics if control else diversity,
            cover,
            partial=control,
            rank=True,
            **corr,
        ),
        "pass_at_k": lambda: _pass_at_k_rows(
            con,
            run_id,
            temperature,
            _pass_ks(
                rq.draw_values(con, *rq.draw_filter(run_id=run_id, temperature=temperature))["k"],
                rq.pool_counts(con, run_id=run_id, temperature=temperature),
                k,
            ),
            **corr,
        ),
        "pruning": lambda: _pruning(con, where, params, scorer, embedder, **corr),
        "scorers": lambda: _scorers(
            con, run_id, temperature, where, params, scorer, n_boot=n_boot, seed=seed
        ),
        "neighbours": lambda: neighbourhood_quality(
            con, run_id=run_id, embedder=embedder, scorer=scorer, temperature=temperature
        ),
        "run_comparison": lambda: _run_compare(
            run_compare.comparison_table,
            con,
            runs,
            temperature=temperature,
            embedder=embedder,
            n_boot=n_boot,
            seed=seed,
        ),
        "run_problems": lambda: _run_compare(
            run_compare.problems_table, con, runs, k=k, temperature=temperature
        ),
    }
    out: dict[str, list[Row]] = {}
    for i, name in enumerate(names):
        if progress:
            progress(i, len(names), name)
        out[name] = builders[name]()
    if progress:
        progress(len(names), len(names), "done")
    meta = {
        "filters": {
            "run_id": run_id,
            "temperature": temperature,
            "k": k,
            "scorer": scorer,
            "embedder": embedder,
            "metrics": list(metrics) if metrics else None,
            "runs": runs,
        },
        "runs": values["run_id"],
        "temperatures": values["temperature"],
        "sizes": values["k"],
        "metrics": diversity,
        "aggregators": aggs + cover,
        "columns": {
            label: {"name": n, "embedder": e, "scorer": s}
            for label, n, e, s in metric_cols + outcome_cols
        },
        "control": CONTROL if control else None,
        "n_boot": n_boot,
        "seed": seed,
        "ci_level": stats.CI_LEVEL,
        "n_buckets": n_buckets,
    }
    return {"tables": out, "meta": meta}


def _check_choice_all(asked: Sequence[str], known: set[str]) -> None:
    """Raise a ReportError naming the first asked metric that is not known."""
    for m in asked:
        _check_choice("metric", m, known)


def _run_compare(
    table: Callable[..., list[Row]], con: duckdb.DuckDBPyConnection, runs: str | None, **kw: Any
) -> list[Row]:
    """A run comparison table (engine.run_compare) for ``runs``; its errors as ReportErrors."""
    if not runs:
        raise ReportError("the run comparison tables need two runs: --runs A,B")
    try:
        return table(con, runs, **kw)
    except run_compare.CompareError as e:
        raise ReportError(str(e)) from None
