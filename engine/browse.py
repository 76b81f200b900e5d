"""The problems table's computation: filter parsing, draw masks, per-pool aggregates, sorting."""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from divtui.engine.passk import pass_at_k_many
from divtui.engine.stats import equal_width_buckets

AGGREGATORS = ("maj", "wmaj", "bst", "mbr_lex", "mbr_sem")
OUTCOME_WORDS = {"correct": True, "right": True, "wrong": False, "incorrect": False}


class FilterError(ValueError):
    """A filter expression the user typed that cannot be understood; str() is one line."""


@dataclass(frozen=True)
class Filters:
    """The problems screen's filters; ``None`` means "any"."""

    temperature: float | None = None
    k: int | None = None
    aggregator: str | None = None
    correct: bool | None = None
    coverage: bool | None = None
    metric: str | None = None
    n_buckets: int = 5
    bucket: int | None = None
    regex: str | None = None

    def draw_level(self) -> bool:
        """Whether any filter selects individual draws (not only pools)."""
        return any(v is not None for v in (self.k, self.aggregator, self.coverage, self.bucket))

    def is_empty(self) -> bool:
        """Whether no filter is set."""
        return self == Filters(n_buckets=self.n_buckets)


def _bool_word(value: str, field: str) -> bool:
    """'correct'/'wrong' (or 1/0, yes/no) as a bool, or a FilterError naming the field."""
    v = value.lower()
    if v in OUTCOME_WORDS:
        return OUTCOME_WORDS[v]
    if v in ("1", "yes", "true"):
        return True
    if v in ("0", "no", "false"):
        return False
    raise FilterError(f"field {field}: {value!r} is not correct/wrong")


def parse_filters(text: str, *, metrics: list[str] | None = None) -> Filters:
    """Parse ``T=0.7 k=8 maj=wrong coverage=1 bucket=dpp:5:2 /regex/`` into Filters.

    Terms are separated by spaces; a term between slashes (or ``re=...``) is a regex over the
    question and solution texts; ``bucket=METRIC:N:B`` picks bucket B (1..N) of N equal-width
    buckets of METRIC over the draws of each size k.
    """
    f = Filters()
    text = text.strip()
    m = re.search(r"(?:^|\s)/(.*)/(?:\s|$)", text)
    if m:
        f = replace(f, regex=m.group(1))
        text = (text[: m.start()] + " " + text[m.end() :]).strip()
    for term in text.split():
        if "=" not in term:
            raise FilterError(f"{term!r}: expected NAME=VALUE or /regex/")
        name, value = term.split("=", 1)
        name = name.lower()
        try:
            if name in ("t", "temp", "temperature"):
                f = replace(f, temperature=float(value))
            elif name == "k":
                f = replace(f, k=int(value))
            elif name in AGGREGATORS:
                f = replace(f, aggregator=name, correct=_bool_word(value, name))
            elif name in ("coverage", "cov"):
                f = replace(f, coverage=_bool_word(value, name))
            elif name in ("re", "regex"):
                f = replace(f, regex=value)
            elif name == "bucket":
                parts = value.split(":")
                if len(parts) != 3:
                    raise FilterError("field bucket: expected METRIC:N:B, e.g. dpp:5:2")
                metric, n, b = parts[0], int(parts[1]), int(parts[2])
                if metrics is not None and metric not in metrics:
                    raise FilterError(f"field bucket: no metric {metric!r} in this database")
                if n < 1 or not 1 <= b <= n:
                    raise FilterError(f"field bucket: bucket {b} is not in 1..{n}")
                f = replace(f, metric=metric, n_buckets=n, bucket=b - 1)
            else:
                raise FilterError(f"field {name}: unknown filter")
        except ValueError as e:
            if isinstance(e, FilterError):
                raise
            raise FilterError(f"field {name}: {value!r} is not a number") from None
    if f.regex is not None:
        try:
            re.compile(f.regex)
        except re.error as e:
            raise FilterError(f"field regex: {e}") from None
    return f


def describe(f: Filters) -> str:
    """The filter state in the same syntax :func:`parse_filters` reads ('' when none)."""
    parts = []
    if f.temperature is not None:
        parts.append(f"T={f.temperature:g}")
    if f.k is not None:
        parts.append(f"k={f.k}")
    if f.aggregator is not None and f.correct is not None:
        parts.append(f"{f.aggregator}={'correct' if f.correct else 'wrong'}")
    if f.coverage is not None:
        parts.append(f"coverage={int(f.coverage)}")
    if f.metric is not None and f.bucket is not None:
        parts.append(f"bucket={f.metric}:{f.n_buckets}:{f.bucket + 1}")
    if f.regex is not None:
        parts.append(f"/{f.regex}/")
    return " ".join(parts)


def bucket_index(values: np.ndarray, ks: np.ndarray, n_buckets: int) -> np.ndarray:
    """Each draw's bucket (0..n-1) among equal-width bins of its metric over draws of its size k.

    The bins are the report's (engine.stats.equal_width_buckets over the finite values of one
    k); NaN gives -1.
    """
    out = np.full(values.shape, -1, dtype=np.int64)
    for k in np.unique(ks):
        sel = np.flatnonzero((ks == k) & np.isfinite(values))
        if sel.size:
            out[sel] = equal_width_buckets(values[sel], n_buckets)[1]
    return out


def bucket_range(
    values: np.ndarray, ks: np.ndarray, k: int, n_buckets: int, bucket: int
) -> tuple[float, float] | None:
    """The [low, high] edges of one bucket of a metric over the draws of size k."""
    v = values[(ks == k) & np.isfinite(values)]
    if v.size == 0:
        return None
    edges = equal_width_buckets(v, n_buckets)[0]
    return float(edges[bucket]), float(edges[bucket + 1])


def draw_mask(
    frame: dict[str, np.ndarray], f: Filters, regex_pools: np.ndarray | None = None
) -> np.ndarray:
    """Which draws of the frame pass every filter (``regex_pools``: pools the regex matched)."""
    mask = np.ones(frame["draw_id"].shape, dtype=bool)
    if f.temperature is not None:
        mask &= np.isclose(frame["temperature"], f.temperature)
    if f.k is not None:
        mask &= frame["k"] == f.k
    if f.aggregator is not None and f.correct is not None:
        mask &= frame[f.aggregator] == int(f.correct)
    if f.coverage is not None:
        mask &= frame["coverage"] == int(f.coverage)
    if f.metric is not None and f.bucket is not None:
        values = frame.get(f"metric:{f.metric}")
        if values is None:
            mask[:] = False
        else:
            mask &= bucket_index(values, frame["k"], f.n_buckets) == f.bucket
    if f.regex is not None and regex_pools is not None:
        mask &= np.isin(frame["pool"], regex_pools)
    return mask


def _group_mean(pool: np.ndarray, values: np.ndarray, n_pools: int) -> np.ndarray:
    """Mean of ``values`` per pool, ignoring NaN; NaN where a pool has none."""
    ok = np.isfinite(values)
    s = np.bincount(pool[ok], weights=values[ok], minlength=n_pools)
    n = np.bincount(pool[ok], minlength=n_pools)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def problem_table(
    frame: dict[str, np.ndarray],
    pools: dict[str, np.ndarray],
    f: Filters,
    *,
    regex_pools: np.ndarray | None = None,
    metrics: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Per pool over its draws passing ``f``: draw count, pass@k, each aggregator's accuracy,
    coverage and mean metrics. Pools with no passing draw are left out when a draw-level filter
    is set; ``k`` for pass@k is ``f.k`` or the largest draw size.
    """
    n_pools = len(pools["n"])
    mask = draw_mask(frame, f, regex_pools)
    pool = frame["pool"][mask]
    out: dict[str, np.ndarray] = {"pool": np.arange(n_pools)}
    out["draws"] = np.bincount(pool, minlength=n_pools)
    ks = frame["k"]
    k = f.k if f.k is not None else (int(ks.max()) if ks.size else 1)
    out["pass@k"] = pass_at_k_many(pools["n"], pools["c"], k)
    for a in (*AGGREGATORS, "coverage"):
        v = frame[a][mask].astype(np.float64)
        v[v < 0] = np.nan
        out[a] = _group_mean(pool, v, n_pools)
    for name in metrics or []:
        out[name] = _group_mean(pool, frame[f"metric:{name}"][mask], n_pools)
    keep = np.ones(n_pools, dtype=bool)
    if f.temperature is not None:
        keep &= np.isclose(pools["temperature"], f.temperature)
    if f.regex is not None and regex_pools is not None:
        keep &= np.isin(np.arange(n_pools), regex_pools)
    if f.draw_level():
        keep &= out["draws"] > 0
    return {name: col[keep] for name, col in out.items()}


def sort_order(values: np.ndarray, direction: int) -> np.ndarray:
    """Row order for a column: 0 original, 1 ascending, -1 descending (NaN last, stable)."""
    idx = np.arange(len(values))
    if direction == 0:
        return idx
    if values.dtype.kind in "OUS":
        keys = np.array([str(v) for v in values], dtype=object)
        order = sorted(idx.tolist(), key=lambda i: keys[i], reverse=direction < 0)
        return np.array(order, dtype=np.int64)
    v = values.astype(np.float64)
    nan = np.isnan(v)
    fin = idx[~nan]
    order = fin[np.argsort(v[~nan] * direction, kind="stable")]
    return np.concatenate([order, idx[nan]])


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
    "dpp_contribution",
    "near_dup",
)


def batch_detail(
    con: Any,
    *,
    draw_id: int | None = None,
    sample_ids: list[int] | None = None,
    scorer: str | None = None,
    embedder: str | None = None,
    weighted: bool = True,
) -> dict[str, Any]:
    """A batch for the batch view: its members (MEMBER_FIELDS) and each aggregator's pick.

    A stored draw (``draw_id``) is read with engine.inspect.draw_detail, its picks being the
    stored outcomes under the scorer/embedder; a fresh or rerun batch (``sample_ids``) goes
    through engine.inspect.batch_detail, which computes its members' figures (DPP contribution,
    near-duplicates) and picks the same way. ``scorer``/``embedder`` in the result are the ones
    used (the first present when not given).
    """
    from divtui.engine import inspect as ins
    from divtui.store import browse_queries as bq

    info: dict[str, Any] = {}
    if draw_id is not None:
        info = bq.draw_info(con, draw_id) or {}
        detail = ins.draw_detail(con, draw_id, scorer=scorer, embedder=embedder)
    else:
        ids = [int(s) for s in sample_ids or []]
        if not ids:
            raise ValueError("an empty batch has no members")
        detail = ins.batch_detail(con, ids, scorer=scorer, embedder=embedder, weighted=weighted)
    sc, em = detail.get("scorer") or "", detail.get("embedder") or ""
    picks = [o for o in detail["outcomes"] if o["scorer"] in ("", sc) and o["embedder"] in ("", em)]
    return {
        "info": info,
        "members": [_member(m) for m in detail["members"]],
        "picks": sorted(picks, key=_agg_order),
        "scorer": sc,
        "embedder": em,
    }


def pool_draw_ids(
    frame: dict[str, np.ndarray], f: Filters, pool: int, regex_pools: np.ndarray | None = None
) -> list[int]:
    """draw_ids of one pool's draws that pass ``f``, in frame order (pool, k, rep).

    The frame is sorted by pool, so only that pool's slice is masked; a bucket filter needs
    the bins of all draws of a size, so it masks the whole frame.
    """
    if f.metric is not None and f.bucket is not None:
        mask = draw_mask(frame, f, regex_pools) & (frame["pool"] == pool)
        return [int(d) for d in frame["draw_id"][mask]]
    lo, hi = np.searchsorted(frame["pool"], [pool, pool + 1])
    part = {name: col[lo:hi] for name, col in frame.items()}
    return [int(d) for d in part["draw_id"][draw_mask(part, f, regex_pools)]]


def _agg_order(pick: dict[str, Any]) -> tuple[int, str]:
    """Aggregators in the DESIGN order, unknown ones after."""
    order = (*AGGREGATORS, "coverage")
    name = str(pick["aggregator"])
    return (order.index(name) if name in order else len(order), name)


def _member(m: dict[str, Any]) -> dict[str, Any]:
    """A member row restricted to MEMBER_FIELDS (engine.inspect calls near_dup near_duplicate)."""
    out = {key: m.get(key) for key in MEMBER_FIELDS}
    if out["near_dup"] is None:
        out["near_dup"] = m.get("near_duplicate")
    return out


def fresh_sample_ids(
    con: Any, run_id: str, problem_id: str, temperature: float, size: int, seed: int
) -> list[int]:
    """A fresh random batch of ``size`` from one pool (engine.inspect.redraw under ``seed``)."""
    from divtui.engine import inspect as ins

    return ins.redraw(con, run_id, problem_id, float(temperature), int(size), int(seed))
