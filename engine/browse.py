"""The problems table's computation (per-pool aggregates, natural sorting), the batch view's
context (metric percentiles, filter terms met), exports; the filter language is in browse_filters."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from divtui.engine.browse_filters import (
    FilterError,
    Filters,
    allowed_pools,
    bucket_index,
    bucket_of,
    bucket_range,
    describe,
    describe_terms,
    draw_mask,
    parse_filters,
    term_matches,
    terms,
)
from divtui.engine.passk import pass_at_k_many
from divtui.store.vocabulary import OUTCOMES

if TYPE_CHECKING:
    from divtui.engine.batch_detail import BatchView

__all__ = [
    "FilterError",
    "Filters",
    "allowed_pools",
    "bucket_index",
    "bucket_of",
    "bucket_range",
    "describe",
    "describe_terms",
    "draw_mask",
    "parse_filters",
    "term_matches",
    "terms",
]


def _group_mean(pool: np.ndarray, values: np.ndarray, n_pools: int) -> np.ndarray:
    """Mean of ``values`` per pool, ignoring NaN; NaN where a pool has none."""
    ok = np.isfinite(values)
    s = np.bincount(pool[ok], weights=values[ok], minlength=n_pools)
    n = np.bincount(pool[ok], minlength=n_pools)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _group_accuracy(pool: np.ndarray, correct: np.ndarray, n_pools: int) -> np.ndarray:
    """Share of 1s per pool among the 0/1 values of ``correct`` (-1: absent, left out); NaN
    where a pool has none. Counting 1s and non-negatives is the mean of the non-negatives."""
    hits = np.bincount(pool, weights=correct == 1, minlength=n_pools)
    n = np.bincount(pool, weights=correct >= 0, minlength=n_pools)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hits / np.maximum(n, 1), np.nan)


def metric_k(frame: dict[str, np.ndarray], f: Filters) -> int:
    """The draw size the problems table's pass@k and metric columns are for: the filter's k,
    else the largest size drawn (1 when there are no draws)."""
    ks = frame["k"]
    return f.k if f.k is not None else (int(ks.max()) if ks.size else 1)


def problem_table(
    frame: dict[str, np.ndarray],
    pools: dict[str, np.ndarray],
    f: Filters,
    *,
    pools_kept: np.ndarray | None = None,
    metrics: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Per pool over its draws passing ``f``: draw count, each aggregator's accuracy and
    coverage (over those draws, every size unless ``k=``), pass@K and the mean metrics over
    those draws of size K = :func:`metric_k` only (a metric's scale depends on k).

    ``pools_kept`` are the pools the pool-level filters keep (:func:`allowed_pools`): the
    other pools' rows are dropped at the end, so the draws are masked once, without them.
    Pools with no passing draw are left out when a draw-level filter is set.
    """
    n_pools = len(pools["n"])
    rows = np.flatnonzero(draw_mask(frame, f))
    pool = frame["pool"][rows]
    out: dict[str, np.ndarray] = {"pool": np.arange(n_pools)}
    out["draws"] = np.bincount(pool, minlength=n_pools)
    k = metric_k(frame, f)
    out["pass@k"] = pass_at_k_many(pools["n"], pools["c"], k)
    for a in OUTCOMES:
        out[a] = _group_accuracy(pool, frame[a][rows], n_pools)
    rows_k = rows if f.k == k else rows[frame["k"][rows] == k]
    pool_k = pool if f.k == k else frame["pool"][rows_k]
    for name in metrics or []:
        out[name] = _group_mean(pool_k, frame[f"metric:{name}"][rows_k], n_pools)
    if f.draw_level():
        keep = out["draws"] > 0
        out = {name: col[keep] for name, col in out.items()}
    return keep_pools(out, pools_kept)


def keep_pools(
    table: dict[str, np.ndarray], pools_kept: np.ndarray | None
) -> dict[str, np.ndarray]:
    """The rows of a :func:`problem_table` whose pool is in ``pools_kept`` (all when None), so
    a table computed while the text search ran can be restricted once the search is done."""
    if pools_kept is None:
        return table
    keep = np.isin(table["pool"], np.asarray(pools_kept, dtype=np.int64))
    return {name: col[keep] for name, col in table.items()}


_DIGITS = re.compile(r"(\d+)")


def natural_key(value: object) -> tuple[Any, ...]:
    """A sort key that orders digit runs by number: ``gsm8k:2`` before ``gsm8k:10``.

    The text is split into alternating text and digit runs (always starting with text, maybe
    empty), so keys compare text with text and numbers with numbers; the string itself breaks
    ties (``7`` and ``007``).
    """
    s = str(value)
    parts = _DIGITS.split(s)
    return (*(int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)), s)


def natural_order(values: np.ndarray) -> np.ndarray:
    """Indices of ``values`` in natural order (stable)."""
    keys = [natural_key(v) for v in values]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)


def pool_order(pools: dict[str, np.ndarray]) -> np.ndarray:
    """Each pool's rank in the problems table's default order: run, problem id (natural), T."""
    keys = [
        (natural_key(r), natural_key(p), float(t))
        for r, p, t in zip(pools["run_id"], pools["problem_id"], pools["temperature"], strict=True)
    ]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    return rank


def sort_order(values: np.ndarray, direction: int) -> np.ndarray:
    """Row order for a column: 0 original, 1 ascending, -1 descending (NaN last, stable);
    text sorts naturally (digit runs by number)."""
    idx = np.arange(len(values))
    if direction == 0:
        return idx
    if values.dtype.kind in "OUS":
        order = natural_order(values)
        return order[::-1].copy() if direction < 0 else order
    v = values.astype(np.float64)
    nan = np.isnan(v)
    fin = idx[~nan]
    order = fin[np.argsort(v[~nan] * direction, kind="stable")]
    return np.concatenate([order, idx[nan]])


def percentile_of(values: np.ndarray, x: float) -> float:
    """Percentile rank of ``x`` among the finite ``values``: the share below plus half the
    share equal, times 100 (scipy's percentileofscore kind="mean"); NaN without values."""
    return percentile_in_sorted(np.sort(values[np.isfinite(values)]), x)


def fmt_value(value: Any) -> str:
    """A table cell: floats to 3 decimals, NaN/None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float | np.floating):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def export_rows(path: str | Path, rows: list[dict[str, Any]]) -> int:
    """Write rows to ``path`` as CSV or JSONL (by extension: .csv, .jsonl/.json); returns count."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json"):
        raise ValueError(f"{path}: export format must be .csv or .jsonl")
    clean = [{k: _plain(v) for k, v in r.items()} for r in rows]
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        if suffix == ".csv":
            fields = list(clean[0]) if clean else []
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(clean)
        else:
            for r in clean:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return len(clean)


def _plain(value: Any) -> Any:
    """A JSON/CSV-friendly version of a numpy scalar (NaN becomes None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


MEMBER_FIELDS = (
    "sample_id",
    "idx",
    "text",
    "answer",
    "correct",
    "reward",
    "mean_logprob",
    "sum_logprob",
    "n_tokens",
    "finish_reason",
    "dpp_contribution",
    "near_dup",
)
CONTEXT_METRICS = ("cosine_sim", "distinct_n", "dpp", "qual_dpp", "mean_logprob")


def batch_view(
    con: Any,
    *,
    draw_id: int | None = None,
    sample_ids: list[int] | None = None,
    scorer: str | None = None,
    embedder: str | None = None,
    weighted: bool = True,
) -> BatchView:
    """A batch for the batch view: its members (MEMBER_FIELDS) and each aggregator's pick.

    A stored draw (``draw_id``) is read with engine.batch_detail.draw_detail, its picks being
    the stored outcomes under the scorer/embedder; a fresh or rerun batch (``sample_ids``) goes
    through engine.batch_detail.samples_detail, which computes its members' figures (DPP
    contribution, near-duplicates) and picks the same way. ``scorer``/``embedder`` in the result are the ones
    used (the first present when not given).
    """
    from divtui.engine import batch_detail as ins
    from divtui.store import pool_columns as bq

    info: dict[str, Any] = {}
    if draw_id is not None:
        detail = ins.draw_detail(con, draw_id, scorer=scorer, embedder=embedder)
        ids = [int(m["sample_id"]) for m in detail["members"]]
        info = bq.with_problem(con, {**detail["draw"], "sample_ids": ids})
    else:
        ids = [int(s) for s in sample_ids or []]
        if not ids:
            raise ValueError("an empty batch has no members")
        detail = ins.samples_detail(con, ids, scorer=scorer, embedder=embedder, weighted=weighted)
    sc, em = detail.get("scorer") or "", detail.get("embedder") or ""
    picks = [o for o in detail["outcomes"] if o["scorer"] in ("", sc) and o["embedder"] in ("", em)]
    extra = {
        int(r["sample_id"]): r for r in bq.members(con, [m["sample_id"] for m in detail["members"]])
    }
    members = [
        {**_member(m), **_extra(extra.get(int(m["sample_id"]), {}))} for m in detail["members"]
    ]
    metrics = {
        r["metric"]: r["value"]
        for r in detail.get("metrics", [])
        if r["embedder"] in ("", em) and r["scorer"] == ""
    }
    return {
        "info": info,
        "members": members,
        "picks": sorted(picks, key=_agg_order),
        "metrics": metrics,
        "scorer": sc,
        "embedder": em,
    }


def _extra(row: dict[str, Any]) -> dict[str, Any]:
    """The member fields engine.batch_detail does not give: sum of log-probs, tokens, finish."""
    return {key: row.get(key) for key in ("sum_logprob", "n_tokens", "finish_reason")}


def reference_values(
    frame: dict[str, np.ndarray], reference: np.ndarray, names: tuple[str, ...] = CONTEXT_METRICS
) -> dict[str, np.ndarray]:
    """Each named metric's finite values among the frame draws selected by the boolean
    ``reference``, sorted: what :func:`metric_context` ranks a batch against (the UI keeps
    them per run and size k, so the next batch of that size is two binary searches)."""
    out = {}
    for name in names:
        col = frame.get(f"metric:{name}")
        ref = col[reference] if col is not None else np.array([])
        out[name] = np.sort(ref[np.isfinite(ref)])
    return out


def percentile_in_sorted(ordered: np.ndarray, x: float) -> float:
    """:func:`percentile_of` for values already finite and sorted (two binary searches)."""
    if ordered.size == 0 or not math.isfinite(x):
        return math.nan
    below = int(np.searchsorted(ordered, x, side="left"))
    equal = int(np.searchsorted(ordered, x, side="right")) - below
    return 100.0 * (below + 0.5 * equal) / ordered.size


def metric_context(
    refs: dict[str, np.ndarray],
    values: dict[str, float | None],
    names: tuple[str, ...] = CONTEXT_METRICS,
) -> list[dict[str, Any]]:
    """Each named metric of a batch with its percentile (:func:`percentile_of`) among the
    reference draws (the same run and size k), given as :func:`reference_values`; ``n`` counts
    the reference draws with a value. Metrics the batch lacks are left out."""
    out = []
    for name in names:
        v = values.get(name)
        if v is None or not math.isfinite(float(v)):
            continue
        ref = refs.get(name, np.array([]))
        pct = percentile_in_sorted(ref, float(v))
        out.append({"metric": name, "value": float(v), "pct": pct, "n": int(ref.size)})
    return out


def pool_draw_ids(
    frame: dict[str, np.ndarray], f: Filters, pool: int, pools_kept: np.ndarray | None = None
) -> list[int]:
    """draw_ids of one pool's draws that pass ``f``, in frame order (pool, k, rep).

    The frame is sorted by pool, so only that pool's slice is masked; a bucket filter needs
    the bins of all draws of a size, so it masks the whole frame.
    """
    if f.metric is not None and f.bucket is not None:
        mask = draw_mask(frame, f, pools_kept) & (frame["pool"] == pool)
        return [int(d) for d in frame["draw_id"][mask]]
    lo, hi = np.searchsorted(frame["pool"], [pool, pool + 1])
    part = {name: col[lo:hi] for name, col in frame.items()}
    return [int(d) for d in part["draw_id"][draw_mask(part, f, pools_kept)]]


def _agg_order(pick: dict[str, Any]) -> tuple[int, str]:
    """Aggregators in the DESIGN order, unknown ones after."""
    name = str(pick["aggregator"])
    return (OUTCOMES.index(name) if name in OUTCOMES else len(OUTCOMES), name)


def _member(m: dict[str, Any]) -> dict[str, Any]:
    """A member row restricted to MEMBER_FIELDS (engine.batch_detail names near_dup
    near_duplicate)."""
    out = {key: m.get(key) for key in MEMBER_FIELDS}
    if out["near_dup"] is None:
        out["near_dup"] = m.get("near_duplicate")
    return out


def fresh_sample_ids(
    con: Any, run_id: str, problem_id: str, temperature: float, size: int, seed: int
) -> list[int]:
    """A fresh random batch of ``size`` from one pool (engine.batch_detail.redraw, ``seed``)."""
    from divtui.engine import batch_detail as ins

    return ins.redraw(con, run_id, problem_id, float(temperature), int(size), int(seed))
