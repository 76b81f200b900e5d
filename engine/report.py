"""The study's tables: accuracy by k and temperature, correlations (pooled, between and within
pools, fixed-effects slopes), buckets, pass@k, the pruning study and the scorers' comparison.

``build_report`` returns ``{"tables": {NAME: [row, ...]}, "meta": {...}}``; every row is a flat
dict of plain values (confidence intervals as ``<stat>_lo`` / ``<stat>_hi``), so the same rows
print as Markdown, JSON or CSV. Intervals are bootstraps over problems (engine.intervals: the
undefined resamples are counted in ``n_boot_valid`` and a withheld or Wilson interval is
explained in ``ci_note``); every table that counts draws gives ``n_draws``, ``n_pools`` and
``n_problems``; engine.captions says what each table pools over, for every front end.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict

import duckdb
import numpy as np
import pandas as pd

from divtui.store import catalog
from divtui.store import draw_tables as rq
from divtui.store import runs as rn
from divtui.store import vocabulary as vocab

from . import run_compare, stats
from .decompose import decompose
from .fixed_effects import bh_qvalues, fe_design, fe_fit, fe_slope, quartile_effect, quartile_masks
from .intervals import Interval
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
    "within_correlations",
    "fixed_effects",
)
OPT_IN = ("neighbours", "run_comparison", "run_problems")
"""Tables computed only when asked for by name: neighbours rebuilds every pool's matrices (17 s
for 2,000 pools of 64 on the 2-core dev box); run_comparison and run_problems need ``runs``."""
DRAWLESS = frozenset({"pass_at_k", "scorers", "neighbours", "run_comparison", "run_problems"})
PRUNE_KEYS = ["run_id", "k", "metric", "m", "selector", "weighted", "embedder", "scorer"]
CONTROL = "mean_logprob"
COUNT = "n_correct"
COVERAGE = vocab.COVERAGE
BUCKET_SCHEMES = ("width", "quantile")
POOL = "_pool"
ORDER = (*vocab.METRIC_ORDER, *vocab.OUTCOMES)
Row = dict[str, Any]


class _Boot(TypedDict):
    """The bootstrap settings every table builder takes as keywords."""

    n_boot: int
    seed: int


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


def _ci_fields(row: Row, key: str, value: float | None, iv: Interval | None) -> None:
    """Set ``key``, ``key_lo``, ``key_hi`` on a row (None where undefined); keep the row's
    smallest count of defined resamples in ``n_boot_valid`` and the reasons for a withheld
    or Wilson interval in ``ci_note``."""
    row[key] = None if value is None or math.isnan(value) else float(value)
    bounds = iv.bounds if iv is not None else None
    row[f"{key}_lo"], row[f"{key}_hi"] = bounds if bounds else (None, None)
    if iv is None or not iv.n_boot:
        return
    have = row.get("n_boot_valid")
    row["n_boot_valid"] = iv.n_valid if have is None else min(have, iv.n_valid)
    note = iv.note
    if note is None and iv.method.startswith("wilson") and row[key] is not None:
        n_eff = iv.method[len("wilson(n_eff=") : -1]
        note = f"Wilson interval on effective n {n_eff} (near 0 or 1)"
    if note and row[key] is not None:
        row["ci_note"] = "; ".join(x for x in (row.get("ci_note"), f"{key}: {note}") if x)


def _finish(row: Row, n_boot: int) -> Row:
    """Give every row the interval bookkeeping columns, last."""
    n_valid = row.pop("n_boot_valid", None)
    note = row.pop("ci_note", None)
    row["n_boot_valid"] = n_valid if n_boot else None
    row["ci_note"] = note
    return row


def _accuracy(
    con: duckdb.DuckDBPyConnection,
    where: str,
    params: list[Any],
    outcomes: list[rq.Column],
    by: Sequence[str],
    n_boot: int,
    seed: int,
) -> list[Row]:
    """Rows by (run, *by): each aggregator's mean correctness with CI, draws, pools, problems."""
    pa = rq.problem_accuracy(con, where, params, outcomes, by)
    rows: list[Row] = []
    keys = ["run_id", *by]
    for group, sub in pa.groupby(keys, sort=True):
        row: Row = dict(zip(keys, _plain(group), strict=True))
        problems = sorted(sub["problem_id"].unique())
        row["n_problems"] = len(problems)
        row["n_draws"] = int(sub.groupby("label")["n_draws"].sum().max())
        row["n_pools"] = int(sub.groupby("label").size().max())
        per_problem = sub.groupby(["label", "problem_id"])[["hits", "n"]].sum().reset_index()
        w = stats.resample_weights(len(problems), n_boot, seed) if n_boot else None
        for label, *_ in outcomes:
            s = per_problem[per_problem["label"] == label].set_index("problem_id").reindex(problems)
            hits, n = s["hits"].fillna(0).to_numpy(), s["n"].fillna(0).to_numpy()
            value, iv = stats.mean_interval(hits, n, n_boot=n_boot, seed=seed, weights=w)
            _ci_fields(row, label, value, iv)
        rows.append(_finish(row, n_boot))
    return rows


def _plain(value: Any) -> tuple[Any, ...]:
    """A pandas group key as a tuple of plain Python values."""
    values = value if isinstance(value, tuple) else (value,)
    return tuple(v.item() if hasattr(v, "item") else v for v in values)


def _groups(df: pd.DataFrame, keys: list[str]) -> Iterable[tuple[Row, pd.DataFrame]]:
    """(key values as a row prefix, sub-frame) for each group of the draw frame."""
    for group, sub in df.groupby(keys, sort=True):
        yield dict(zip(keys, _plain(group), strict=True)), sub


def _pools_in(sub: pd.DataFrame, keep: np.ndarray) -> int:
    """Pools with at least one of the kept draws."""
    codes = sub[POOL].to_numpy()[keep]
    return int(np.count_nonzero(np.bincount(codes))) if codes.size else 0


def _correlations(
    df: pd.DataFrame,
    keys: list[str],
    metrics: list[str],
    targets: list[str],
    *,
    control: str | None,
    rank: bool,
    n_boot: int,
    seed: int,
    target_key: str = "aggregator",
    fixed: Row | None = None,
    memo: dict[tuple, dict] | None = None,
    also: Sequence[str] = (),
) -> list[Row]:
    """Rows (keys, metric, target) of correlations of each metric against each target column
    (and partial on the ``control`` column, if given); ``fixed`` fields go after the keys.
    ``memo`` shares Spearman replicates between tables grouped by the same ``keys`` (the same
    rows); ``also`` names further target columns to compute into it (another table's)."""
    rows = []
    pairs = [(m, t) for m in metrics for t in targets]
    for prefix, sub in _groups(df, keys):
        extra = [c for c in also if c in sub]
        cols = {c: sub[c].to_numpy(float) for c in dict.fromkeys(metrics + targets + extra)}
        z = sub[control].to_numpy(float) if control else None
        shared = None if memo is None else memo.setdefault((*keys, *prefix.values()), {})
        res = stats.correlate_many(
            cols,
            pairs,
            pd.factorize(sub["problem_id"])[0],
            z=z,
            rank=rank,
            n_boot=n_boot,
            seed=seed,
            memo=shared,
            also=[(m, t) for m in metrics for t in extra],
        )
        for m, t in pairs:
            r = res[(m, t)]
            keep = np.isfinite(cols[m]) & np.isfinite(cols[t])
            if z is not None:
                keep &= np.isfinite(z)
            row = {**prefix, **(fixed or {}), "metric": m, target_key: t, "n": r["n"]}
            row["n_draws"] = r["n"]
            row["n_pools"] = _pools_in(sub, keep)
            row["n_problems"] = r["n_problems"]
            row["n_dropped"] = len(sub) - int(r["n"])
            if control:
                row["control"] = control
            for key in ("pearson", "spearman", "partial"):
                if key in r:
                    _ci_fields(row, key, r[key], r[f"{key}_ci"])
            rows.append(_finish(row, n_boot))
    return rows


def _partial_rows(
    df: pd.DataFrame,
    metrics: list[str],
    aggs: list[str],
    control: str | None,
    pooled: bool,
    n_boot: int,
    seed: int,
) -> list[Row]:
    """partial_correlations: per (run, temperature, k) by default, so the linear fit on the
    control never mixes temperatures; pooled over temperatures (``temperature`` None,
    ``pooled_temperatures`` True) only when asked."""
    if control is None:
        return []
    if pooled:
        rows = _correlations(
            df,
            ["run_id", "k"],
            metrics,
            aggs,
            control=control,
            rank=False,
            n_boot=n_boot,
            seed=seed,
            fixed={"temperature": None, "pooled_temperatures": True},
        )
        return [{"run_id": r.pop("run_id"), "temperature": r.pop("temperature"), **r} for r in rows]
    return _correlations(
        df,
        ["run_id", "temperature", "k"],
        metrics,
        aggs,
        control=control,
        rank=False,
        n_boot=n_boot,
        seed=seed,
        fixed={"pooled_temperatures": False},
    )


def _buckets(
    df: pd.DataFrame,
    metrics: list[str],
    aggs: list[str],
    n_bins: int,
    *,
    scheme: str,
    by_temperature: bool,
    n_boot: int,
    seed: int,
) -> list[Row]:
    """Bins of each metric per (run, k) (and temperature): bin range, count, min/max/mean, and
    per aggregator its accuracy in the bin (interval over problems) and graded draws."""
    rows = []
    keys = ["run_id", "k"] + (["temperature"] if by_temperature else [])
    for prefix, sub in _groups(df, keys):
        g, problems = pd.factorize(sub["problem_id"])
        n_p = len(problems)
        w = stats.resample_weights(n_p, n_boot, seed) if n_boot else None
        pool = sub[POOL].to_numpy()
        for m in metrics:
            x = sub[m].to_numpy(float)
            keep = np.isfinite(x)
            if not keep.any():
                continue
            bucket = stats.quantile_buckets if scheme == "quantile" else stats.equal_width_buckets
            edges, idx = bucket(x[keep], n_bins)
            nb = len(edges) - 1
            cells = g[keep] * nb + idx
            acc = {}
            for a in aggs:
                y = sub[a].to_numpy(float)[keep]
                ok = np.isfinite(y)
                hits = np.bincount(cells[ok], weights=y[ok], minlength=n_p * nb).reshape(n_p, nb)
                cnt = np.bincount(cells[ok], minlength=n_p * nb).reshape(n_p, nb).astype(float)
                with np.errstate(invalid="ignore", divide="ignore"):
                    reps = (w @ hits) / (w @ cnt) if w is not None else None
                acc[a] = (hits, cnt, reps)
            for b in range(nb):
                inside = idx == b
                xs = x[keep][inside]
                row: Row = {**prefix, "metric": m, "bin": b + 1, "scheme": scheme}
                row["lo"], row["hi"] = float(edges[b]), float(edges[b + 1])
                row["count"] = int(inside.sum())
                row["n_draws"] = row["count"]
                row["n_pools"] = int(np.count_nonzero(np.bincount(pool[keep][inside])))
                row["n_problems"] = int(np.count_nonzero(np.bincount(g[keep][inside])))
                row["min"] = float(xs.min()) if xs.size else None
                row["max"] = float(xs.max()) if xs.size else None
                row["mean"] = float(xs.mean()) if xs.size else None
                for a in aggs:
                    hits, cnt, reps = acc[a]
                    total = float(cnt[:, b].sum())
                    row[f"n_{a}"] = int(total)
                    if not total:
                        _ci_fields(row, a, None, None)
                        continue
                    point = float(hits[:, b].sum() / total)
                    iv = stats.proportion_interval(
                        point,
                        reps[:, b] if reps is not None else None,
                        n_problems=int((cnt[:, b] > 0).sum()),
                        n_draws=int(total),
                    )
                    _ci_fields(row, a, point, iv)
                rows.append(_finish(row, n_boot))
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
            mean, iv = stats.mean_interval(
                values, np.ones(values.size), n_boot=n_boot, seed=seed, n_draws=int(ok.sum())
            )
            row: Row = {**prefix, "k": k}
            _ci_fields(row, "pass_at_k", mean, iv)
            row["n_problems"] = int(ok.sum())
            row["n_pools"] = int(ok.sum())
            row["pool_size_min"], row["pool_size_max"] = int(n[ok].min()), int(n[ok].max())
            rows.append(_finish(row, n_boot))
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
    accuracy on the kept set with a bootstrap CI over problems, draws, pools and problems; on
    medoid rows also ``<agg>_minus_random``, the paired difference from the random subset of
    the same draws, with its interval."""
    df = rq.prune_accuracy(con, where, params)
    paired = rq.prune_paired(con, where, params)
    for frame in (df, paired):
        if scorer is not None:
            frame.drop(frame.index[frame["scorer"] != scorer], inplace=True)
        if embedder is not None:
            frame.drop(frame.index[frame["embedder"] != embedder], inplace=True)
    pair_keys = ["run_id", "k", "metric", "m", "weighted", "embedder", "scorer"]
    by_pair = {tuple(_plain(k)): sub for k, sub in paired.groupby(pair_keys, sort=False)}
    rows = []
    for prefix, sub in _groups(df, PRUNE_KEYS):
        problems = sorted(sub["problem_id"].unique())
        row: Row = {**prefix, "weighted": bool(prefix["weighted"])}
        row["n_problems"] = len(problems)
        row["n_draws"] = int(sub.groupby("aggregator")["n_draws"].sum().max())
        row["n_pools"] = int(sub.groupby("aggregator").size().max())
        per_problem = sub.groupby(["aggregator", "problem_id"])[["hits", "n"]].sum().reset_index()
        w = stats.resample_weights(len(problems), n_boot, seed) if n_boot else None
        for a in vocab.OUTCOMES:
            s = (
                per_problem[per_problem["aggregator"] == a]
                .set_index("problem_id")
                .reindex(problems)
            )
            if s["n"].isna().all():
                continue
            hits, n = s["hits"].fillna(0).to_numpy(), s["n"].fillna(0).to_numpy()
            value, iv = stats.mean_interval(hits, n, n_boot=n_boot, seed=seed, weights=w)
            _ci_fields(row, a, value, iv)
        pair = by_pair.get(tuple(prefix[k] for k in pair_keys))
        if prefix["selector"] == "medoids" and pair is not None:
            for a in vocab.OUTCOMES:
                s = pair[pair["aggregator"] == a].set_index("problem_id").reindex(problems)
                if s["n"].isna().all():
                    continue
                diff, n = s["diff"].fillna(0).to_numpy(), s["n"].fillna(0).to_numpy()
                point = float(diff.sum() / n.sum())
                reps = stats.boot_ratio(diff, n, w) if w is not None else None
                why = "a resample without paired draws"
                diff_iv = stats.boot_interval(point, reps, why=why) if reps is not None else None
                _ci_fields(row, f"{a}_minus_random", point, diff_iv)
        rows.append(_finish(row, n_boot))
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
    """Per (run, scorer): graded samples, AUC of the score against correctness pooled over
    pools (Mann-Whitney) and within pools (the mean over pools with both classes: what bst
    sees), each with a bootstrap interval over problems, and the accuracy of ``bst`` under
    that scorer at each stored k (``bst_k<k>`` with CI)."""
    df = rq.scored_samples(con, run_id=run_id, temperature=temperature)
    if scorer is not None:
        df = df[df["scorer"] == scorer]
    names = sorted(df["scorer"].unique())
    bst = _accuracy(con, where, params, [(s, vocab.BST, "", s) for s in names], ["k"], n_boot, seed)
    rows = []
    for prefix, sub in _groups(df, ["run_id", "scorer"]):
        correct = sub["correct"].to_numpy(bool)
        row: Row = {**prefix, "n_samples": len(sub), "n_correct": int(correct.sum())}
        row["n_problems"] = int(sub["problem_id"].nunique())
        value, iv = stats.auc_interval(
            sub["value"].to_numpy(float),
            correct,
            sub["problem_id"].to_numpy(),
            n_boot=n_boot,
            seed=seed,
        )
        _ci_fields(row, "auc", value, iv)
        within = stats.within_auc(
            sub["value"].to_numpy(float),
            correct,
            pd.factorize(pd.MultiIndex.from_frame(sub[["problem_id", "temperature"]]))[0],
            pd.factorize(sub["problem_id"])[0],
            n_boot=n_boot,
            seed=seed,
        )
        _ci_fields(row, "within_auc", within["within_auc"], within["interval"])
        row["n_pools"] = within["n_pools"]
        row["n_informative_pools"] = within["n_informative_pools"]
        label = prefix["scorer"]
        for b in bst:
            if b["run_id"] == prefix["run_id"] and b.get(label) is not None:
                key = f"bst_k{b['k']}"
                # the accuracy row's interval for this scorer, with its note under the new key
                notes = [n for n in (b["ci_note"] or "").split("; ") if n.startswith(f"{label}: ")]
                note = notes[0][len(label) + 2 :] if notes else None
                valid = b["n_boot_valid"] if b["n_boot_valid"] is not None else 0
                lo, hi = b[f"{label}_lo"], b[f"{label}_hi"]
                iv_b = Interval(lo, hi, n_boot, valid, "copied", note)
                _ci_fields(row, key, b[label], iv_b)
        rows.append(_finish(row, n_boot))
    return rows


def _within_rows(
    df: pd.DataFrame, metrics: list[str], outcomes: list[str], n_boot: int, seed: int
) -> list[Row]:
    """within_correlations: per (run, k, metric, outcome) the pooled, between-pool and
    within-pool Pearson r (engine.decompose), each with an interval over problems."""
    rows = []
    for prefix, sub in _groups(df, ["run_id", "k"]):
        pools = sub[POOL].to_numpy()
        problems = pd.factorize(sub["problem_id"])[0]
        for m in metrics:
            x = sub[m].to_numpy(float)
            for t in outcomes:
                r = decompose(x, sub[t].to_numpy(float), pools, problems, n_boot=n_boot, seed=seed)
                row: Row = {**prefix, "metric": m, "outcome": t}
                for key in ("pooled_r", "between_r", "within_r"):
                    _ci_fields(row, key, r[key], r[f"{key}_ci"])
                for key in ("n_pools", "n_draws", "n_problems", "n_events", "n_informative_pools"):
                    row[key] = r[key]
                rows.append(_finish(row, n_boot))
    return rows


def _fixed_effect_rows(
    df: pd.DataFrame,
    metrics: list[str],
    targets: list[str],
    control: str | None,
    n_boot: int,
    seed: int,
) -> list[Row]:
    """fixed_effects: per (run, k, metric, aggregator) the LPM slope with pool fixed effects
    and cluster-robust SE by problem (engine.fixed_effects, statsmodels), BH q-values over
    the table, and the top-minus-bottom quartile accuracy difference within pools."""
    rows = []
    for prefix, sub in _groups(df, ["run_id", "k"]):
        pools = sub[POOL].to_numpy()
        problems = pd.factorize(sub["problem_id"])[0]
        ctl = [sub[control].to_numpy(float)] if control else []
        for m in metrics:
            x = sub[m].to_numpy(float)
            keep = np.isfinite(x)
            for c in ctl:
                keep &= np.isfinite(c)
            design = fe_design(x, pools, problems, ctl, keep)
            x_only = np.isfinite(x)
            pool_x, n_pools_x = stats.dense_codes(pools, x_only)
            masks = quartile_masks(x[x_only], pool_x, n_pools_x)
            for t in targets:
                y = sub[t].to_numpy(float)
                same = bool(np.isfinite(y[keep]).all())
                fit = fe_fit(design, y) if same else fe_slope(y, x, pools, problems, ctl)
                row: Row = {**prefix, "metric": m, "aggregator": t, "control": control}
                for key in ("slope", "slope_lo", "slope_hi", "p_value"):
                    row[key] = fit[key]
                row["q_value"] = None
                for key in ("n_pools", "n_draws", "n_problems", "sd_within"):
                    row[key] = fit[key]
                shared = masks if bool(np.isfinite(y[x_only]).all()) else None
                point, iv, used = quartile_effect(
                    y, x, pools, problems, n_boot=n_boot, seed=seed, masks=shared
                )
                _ci_fields(row, "top_minus_bottom", point, iv)
                row["n_quartile_pools"] = used
                rows.append(_finish(row, n_boot))
    for row, q in zip(rows, bh_qvalues([r["p_value"] for r in rows]), strict=True):
        row["q_value"] = q
    return rows


def _pass_ks(draw_sizes: list[int], pools: pd.DataFrame, k: int | None) -> list[int]:
    """The k values for pass@k: the chosen one, else 1 and every draw size, else powers of 2."""
    if k is not None:
        return [k]
    if draw_sizes:
        return sorted({1, *draw_sizes})
    biggest = int(pools["n"].max()) if len(pools) else 1
    return [2**i for i in range(int(math.log2(max(biggest, 1))) + 1)]


def _resolve_control(
    control: str, found_m: list[tuple[str, str, str]], scorers: list[str], notes: list[str]
) -> tuple[str | None, str | None]:
    """(the control's column label, the scorer of a reward control) for ``--control``; a
    missing mean_logprob gives a note that offers the reward instead."""
    if control == "none":
        return None, None
    if control == CONTROL:
        if any(n == CONTROL for n, _, _ in found_m):
            return CONTROL, None
        offer = (
            f"; try --control reward:{scorers[0]}"
            + (f" (scorers: {', '.join(scorers)})" if len(scorers) > 1 else "")
            if scorers
            else "; no scorer is stored either (run `divtui score`)"
        )
        notes.append(
            "mean_logprob is missing for these draws (a file imported without log-probs?): "
            f"partial correlations and the fixed-effects control left out{offer}"
        )
        return None, None
    if control.startswith("reward:"):
        name = control[len("reward:") :]
        _check_choice("scorer", name, set(scorers))
        return control, name
    raise ReportError(f"--control must be mean_logprob, reward:SCORER or none, got {control!r}")


def _add_pools(df: pd.DataFrame) -> pd.DataFrame:
    """The draw frame with an integer pool code (run x problem x temperature)."""
    df[POOL] = pd.factorize(pd.MultiIndex.from_frame(df[["run_id", "problem_id", "temperature"]]))[
        0
    ]
    return df


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
    bucket_scheme: str = "width",
    by_temperature: bool = False,
    control: str = CONTROL,
    partial_pooled: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
    runs: str | None = None,
) -> dict[str, Any]:
    """Compute the requested tables (default: all) as ``{"tables": {...}, "meta": {...}}``.

    ``control``: the partial correlations' and fixed-effects' control, ``mean_logprob``,
    ``reward:SCORER`` (the draw's mean reward) or ``none``; ``partial_pooled`` fits it across
    temperatures (default: per temperature). ``bucket_scheme``: ``width`` or ``quantile`` bins,
    per (run, k) or also per temperature with ``by_temperature``.
    """
    names = list(tables) if tables else list(TABLES)
    for name in names:
        if name not in TABLES + OPT_IN:
            raise ReportError(f"unknown table {name!r}; choose from {', '.join(TABLES + OPT_IN)}")
    if n_buckets < 1:
        raise ReportError(f"--buckets must be at least 1, got {n_buckets}")
    if bucket_scheme not in BUCKET_SCHEMES:
        raise ReportError(
            f"--bucket-scheme must be one of {', '.join(BUCKET_SCHEMES)}, got {bucket_scheme!r}"
        )
    if n_boot < 0:
        raise ReportError(f"--boot must be 0 or more, got {n_boot}")
    _check_choice("run", run_id, set(rn.run_ids(con)))
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
    notes: list[str] = []
    ctl, ctl_scorer = _resolve_control(control, found_m, catalog.scorer_names(con), notes)
    metric_cols = _labels(_select(found_m, scorer, embedder))
    if metrics:
        _check_choice_all(metrics, {c[1] for c in metric_cols} | {c[0] for c in metric_cols})
        metric_cols = [c for c in metric_cols if c[0] in metrics or c[1] in metrics]
    outcome_cols = _labels(_select(found_o, scorer, embedder))
    values = rq.draw_values(con, where, params)

    aggs = [c[0] for c in outcome_cols if c[1] != COVERAGE]
    cover = [c[0] for c in outcome_cols if c[1] == COVERAGE]
    diversity = [c[0] for c in metric_cols if c[1] != COUNT]
    count_present = any(n == COUNT for n, _, _ in found_m)
    need_frame = any(
        n not in DRAWLESS and n != "pruning" and not n.startswith("accuracy") for n in names
    )
    present = {c[0] for c in metric_cols}
    extra = [(x, x, "", "") for x, ok in ((CONTROL, ctl == CONTROL), (COUNT, count_present)) if ok]
    frame_metrics = metric_cols + [c for c in extra if c[0] not in present]
    df = None
    if need_frame:
        df = _add_pools(rq.draw_frame(con, where, params, frame_metrics, outcome_cols))
        if ctl_scorer is not None:
            rew = rq.draw_mean_reward(con, where, params, ctl_scorer)
            df[ctl] = df["draw_id"].map(rew.set_index("draw_id")["reward"]).astype(float)
    partial_metrics = [m for m in diversity if m != CONTROL]
    if ctl == CONTROL and any(c[1] == "qual_dpp" and not c[3] for c in metric_cols):
        notes.append(
            "qual_dpp with log-prob quality is dpp + 2 k mean_logprob, a linear function of "
            "the control: its partial correlations equal dpp's exactly"
        )
    corr: _Boot = {"n_boot": n_boot, "seed": seed}
    spearman_memo: dict[tuple, dict] = {}

    builders: dict[str, Callable[[], list[Row]]] = {
        "accuracy_by_k": lambda: _accuracy(con, where, params, outcome_cols, ["k"], **corr),
        "accuracy_by_temperature": lambda: _accuracy(
            con, where, params, outcome_cols, ["temperature"], **corr
        ),
        "accuracy_by_k_temperature": lambda: _accuracy(
            con, where, params, outcome_cols, ["k", "temperature"], **corr
        ),
        "metric_correlations": lambda: _correlations(
            df,
            ["run_id", "k"],
            diversity,
            aggs,
            control=None,
            rank=True,
            memo=spearman_memo,
            also=cover if "coverage_correlations" in names else (),
            **corr,
        ),
        "partial_correlations": lambda: _partial_rows(
            df, partial_metrics, aggs, ctl, partial_pooled, **corr
        ),
        "count_correlations": lambda: (
            _correlations(
                df,
                ["run_id", "temperature", "k"],
                diversity,
                [COUNT],
                control=None,
                rank=True,
                target_key="target",
                **corr,
            )
            if count_present
            else []
        ),
        "buckets": lambda: _buckets(
            df,
            diversity,
            aggs + cover,
            n_buckets,
            scheme=bucket_scheme,
            by_temperature=by_temperature,
            **corr,
        ),
        "coverage_correlations": lambda: _correlations(
            df,
            ["run_id", "k"],
            partial_metrics if ctl else diversity,
            cover,
            control=ctl,
            rank=True,
            memo=spearman_memo,
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
        "within_correlations": lambda: _within_rows(
            df, diversity, aggs + cover + ([COUNT] if count_present else []), **corr
        ),
        "fixed_effects": lambda: _fixed_effect_rows(
            df, [m for m in diversity if m != ctl], aggs + cover, ctl, **corr
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
        "control": ctl,
        "partial_pooled": partial_pooled,
        "n_boot": n_boot,
        "seed": seed,
        "ci_level": stats.CI_LEVEL,
        "n_buckets": n_buckets,
        "bucket_scheme": bucket_scheme,
        "by_temperature": by_temperature,
        "notes": notes,
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
