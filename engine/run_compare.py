"""Two runs side by side on the problems they share: pass@k curves, their paired difference and
where it changes sign, pool diversity, and the problems one run solves and the other does not.

A side is a run, optionally at one temperature (``RUN@T``). Pools are paired by problem: side A's
pool of a problem against side B's pool of the same problem, at the sides' temperatures (by
default each temperature both runs have, one comparison per temperature; temperatures are never
pooled). Only graded samples count, and only problems where both sides have a graded pool.

pass@k is the unbiased estimator per pool, averaged over the shared problems (each problem
weight 1). Intervals are percentile bootstraps over problems: one resample of problems is applied
to both runs at once (the pairing), so the interval of B - A reflects the per-problem
correlation of the two runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from divtui.store import run_pools as cq
from divtui.store.problems import problem_text
from divtui.store.vocabulary import METRIC_NEEDS

from . import stats
from .passk import pass_at_k_curve, pass_at_k_many

Row = dict[str, Any]
SOLVED_AT = 0.5
"""A problem counts as solved by a run's pass@K when pass@K >= SOLVED_AT."""
METRICS = ("cosine_sim", "distinct_n")
"""The diversity metrics the comparison reports per k: one of embeddings, one of n-grams."""
_ZERO = 1e-12
_TOL = 1e-9


class CompareError(ValueError):
    """A comparison that cannot be made (unknown run, no shared problem, bad K); one line."""


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a run, and the temperature of its pools (None: each shared one)."""

    run_id: str
    temperature: float | None = None

    def label(self) -> str:
        """``RUN`` or ``RUN@T``."""
        return self.run_id if self.temperature is None else f"{self.run_id}@{self.temperature:g}"


def _side(part: str, known: set[str]) -> Side | None:
    """``RUN`` or ``RUN@T`` when RUN is a known run (T a number >= 0), else None."""
    if part in known:
        return Side(part)
    if "@" in part:
        run, t = part.rsplit("@", 1)
        try:
            temp = float(t)
        except ValueError:
            return None
        if run in known and math.isfinite(temp) and temp >= 0:
            return Side(run, temp)
    return None


def parse_runs(text: str, known: Sequence[str]) -> tuple[Side, Side]:
    """``A,B`` (each ``RUN`` or ``RUN@T``) as two sides; run ids may hold commas or '@', so every
    split is tried against the runs the file holds and exactly one must fit."""
    names = set(known)
    text = text.strip()
    fits = []
    for i, ch in enumerate(text):
        if ch == ",":
            a, b = _side(text[:i].strip(), names), _side(text[i + 1 :].strip(), names)
            if a is not None and b is not None:
                fits.append((a, b))
    if len(fits) == 1:
        return fits[0]
    have = ", ".join(sorted(names)) or "none"
    if fits:
        raise CompareError(f"--runs {text!r} splits into two runs in several ways; runs: {have}")
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise CompareError(f"--runs expects two runs A,B (each RUN or RUN@T), got {text!r}")
    bad = next(p.strip() for p in parts if _side(p.strip(), names) is None)
    raise CompareError(f"--runs: unknown run {bad!r}; this database has: {have}")


def _stored_temperature(t: float, temps: Sequence[float], run_id: str) -> float:
    """The stored temperature equal to ``t`` (within 1e-9), or a CompareError naming the choices."""
    for s in temps:
        if abs(s - t) <= _TOL:
            return s
    have = ", ".join(f"{x:g}" for x in temps) or "none"
    raise CompareError(f"run {run_id!r} has no graded pools at T={t:g}; it has T = {have}")


def temperature_pairs(
    con: duckdb.DuckDBPyConnection, a: Side, b: Side, temperature: float | None = None
) -> list[tuple[float, float]]:
    """(T of side A, T of side B) of each comparison: the sides' own, else ``temperature``, else
    every temperature both runs have (one comparison each)."""
    pools = cq.run_pools(con)
    temps = {
        s.run_id: [float(p["temperature"]) for p in pools if p["run_id"] == s.run_id]
        for s in (a, b)
    }
    ta = a.temperature if a.temperature is not None else temperature
    tb = b.temperature if b.temperature is not None else temperature
    if ta is None and tb is None:
        shared = [t for t in temps[a.run_id] if any(abs(t - u) <= _TOL for u in temps[b.run_id])]
        if not shared:
            fa = ", ".join(f"{x:g}" for x in temps[a.run_id]) or "none"
            fb = ", ".join(f"{x:g}" for x in temps[b.run_id]) or "none"
            raise CompareError(
                f"runs {a.run_id!r} (T = {fa}) and {b.run_id!r} (T = {fb}) share no temperature; "
                "name one per run: --runs A@T,B@T"
            )
        return [(t, _stored_temperature(t, temps[b.run_id], b.run_id)) for t in shared]
    if ta is None or tb is None:
        raise CompareError("give both sides a temperature: --runs A@T,B@T, or --temperature T")
    pair = (
        _stored_temperature(ta, temps[a.run_id], a.run_id),
        _stored_temperature(tb, temps[b.run_id], b.run_id),
    )
    if a.run_id == b.run_id and pair[0] == pair[1]:
        raise CompareError(f"both sides are the same pools ({a.run_id!r} at T={pair[0]:g})")
    return [pair]


@dataclass
class Paired:
    """The shared problems of one comparison with both sides' pool counts, aligned by problem."""

    run_a: str
    temperature_a: float
    run_b: str
    temperature_b: float
    problems: list[str]
    n: tuple[np.ndarray, np.ndarray]
    c: tuple[np.ndarray, np.ndarray]
    n_classes: tuple[np.ndarray, np.ndarray]
    top: tuple[np.ndarray, np.ndarray]
    only_a: int
    only_b: int

    @property
    def k_max(self) -> int:
        """The smallest pool of either side: pass@k is defined for every shared problem up to it."""
        return int(min(self.n[0].min(), self.n[1].min()))

    def head(self) -> Row:
        """The fields naming this comparison, first in every row."""
        return {
            "run_a": self.run_a,
            "temperature_a": self.temperature_a,
            "run_b": self.run_b,
            "temperature_b": self.temperature_b,
        }


def pair_pools(
    con: duckdb.DuckDBPyConnection, run_a: str, ta: float, run_b: str, tb: float
) -> Paired:
    """Both sides' graded pools on the problems both have, in problem order."""
    frames = [cq.pool_summary(con, r, t) for r, t in ((run_a, ta), (run_b, tb))]
    graded = [f[f["n"] > 0].set_index("problem_id") for f in frames]
    shared = sorted(set(graded[0].index) & set(graded[1].index))
    if not shared:
        raise CompareError(
            f"{run_a!r} at T={ta:g} and {run_b!r} at T={tb:g} share no graded problem "
            "(problems match by problem_id; run `divtui grade` if samples are ungraded)"
        )
    al = [g.loc[shared] for g in graded]

    def col(name: str) -> tuple[np.ndarray, np.ndarray]:
        first, second = (a[name].to_numpy(dtype=np.int64) for a in al)
        return first, second

    return Paired(
        run_a,
        ta,
        run_b,
        tb,
        shared,
        col("n"),
        col("c"),
        col("n_classes"),
        col("top"),
        only_a=len(graded[0]) - len(shared),
        only_b=len(graded[1]) - len(shared),
    )


def first_crossing(diffs: np.ndarray) -> np.ndarray:
    """Per row of ``diffs`` (values of B - A at k = 1, 2, ...): the first k whose sign is opposite
    to the sign of the first non-zero value, 0 where there is none (|d| <= 1e-12 counts as 0)."""
    d = np.atleast_2d(np.asarray(diffs, dtype=np.float64))
    sign = np.where(np.abs(d) <= _ZERO, 0, np.sign(d)).astype(np.int8)
    nonzero = sign != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), 0)
    start = sign[np.arange(d.shape[0]), first]
    opposite = (sign == -start[:, None]) & (start != 0)[:, None]
    return np.where(opposite.any(axis=1), opposite.argmax(axis=1) + 1, 0)


def paired_bootstrap(
    pa: np.ndarray, pb: np.ndarray, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Replicates (n_boot, K) of mean pass@k of A and of B, both over the same resample of
    problems (rows of ``pa``/``pb``); resamples from ``stats.resample_weights``."""
    w = stats.resample_weights(pa.shape[0], n_boot, seed)
    total = w.sum(axis=1, keepdims=True)
    return (w @ pa) / total, (w @ pb) / total


def k_grid(k_max: int, extra: Sequence[int] = ()) -> list[int]:
    """1, 2, 4, ... up to k_max, k_max itself, and the extra k (drawn sizes, crossing) <= k_max."""
    powers = [2**i for i in range(int(math.log2(k_max)) + 1)] if k_max >= 1 else []
    return sorted({*powers, k_max, *(k for k in extra if 1 <= k <= k_max)})


def _metric_means(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    temperature: float,
    problems: list[str],
    metric: str,
    embedder: str,
) -> dict[int, tuple[float, int]]:
    """k -> (mean over the shared problems of each problem's mean ``metric``, draws)."""
    df = cq.metric_means(con, run_id, temperature, metric, embedder)
    df = df[df["problem_id"].isin(set(problems))]
    return {
        int(k): (float(sub["value"].mean()), int(sub["draws"].sum()))
        for k, sub in df.groupby("k", sort=True)
    }


def pick_embedder(
    con: duckdb.DuckDBPyConnection, run_ids: Sequence[str], embedder: str | None
) -> str | None:
    """The embedder of the cosine_sim columns: the asked one, else the first one stored."""
    names = [e for e in cq.metric_names(con, run_ids, "cosine_sim") if e]
    if embedder is not None:
        return embedder
    return names[0] if names else None


def _ci(row: Row, key: str, value: float, boots: np.ndarray | None) -> None:
    """``key`` with ``key_lo``/``key_hi`` from the bootstrap replicates (None without)."""
    row[key] = float(value)
    ci = stats.percentile_ci(boots) if boots is not None else None
    row[f"{key}_lo"], row[f"{key}_hi"] = ci if ci else (None, None)


def compare_pair(
    con: duckdb.DuckDBPyConnection,
    paired: Paired,
    *,
    embedder: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[Row]:
    """The run_comparison rows of one paired comparison, one per k of :func:`k_grid`."""
    k_max = paired.k_max
    pa = pass_at_k_curve(paired.n[0], paired.c[0], k_max)
    pb = pass_at_k_curve(paired.n[1], paired.c[1], k_max)
    mean_a, mean_b = pa.mean(axis=0), pb.mean(axis=0)
    crossing = int(first_crossing(mean_b - mean_a)[0])
    boot_a = boot_b = None
    if n_boot:
        boot_a, boot_b = paired_bootstrap(pa, pb, n_boot, seed)
        crosses = first_crossing(boot_b - boot_a)
    sides = ((paired.run_a, paired.temperature_a), (paired.run_b, paired.temperature_b))
    emb = pick_embedder(con, [paired.run_a, paired.run_b], embedder)
    means: dict[tuple[str, int], dict[int, tuple[float, int]]] = {}
    for metric in METRICS:
        name = emb if METRIC_NEEDS[metric].embedder else ""
        for i, (run, t) in enumerate(sides):
            means[(metric, i)] = (
                {} if name is None else _metric_means(con, run, t, paired.problems, metric, name)
            )
    drawn = {k for m in means.values() for k in m}
    group: Row = {
        "n_problems": len(paired.problems),
        "only_a": paired.only_a,
        "only_b": paired.only_b,
        "pool_size_min": k_max,
        "crossing_k": crossing or None,
    }
    if n_boot:
        hit = crosses[crosses > 0].astype(float)
        group["crossing_share"] = float(hit.size / crosses.size)
        ci = stats.percentile_ci(hit) if hit.size else None
        group["crossing_k_lo"], group["crossing_k_hi"] = ci if ci else (None, None)
    else:
        group["crossing_share"] = group["crossing_k_lo"] = group["crossing_k_hi"] = None
    for i, s in enumerate("ab"):
        n = paired.n[i].astype(float)
        group[f"classes_{s}"] = float(paired.n_classes[i].mean())
        group[f"top_share_{s}"] = float((paired.top[i] / n).mean())
    rows = []
    for k in k_grid(k_max, [*drawn, crossing]):
        j = k - 1
        row: Row = {**paired.head(), "k": k}
        _ci(row, "pass_at_k_a", mean_a[j], None if boot_a is None else boot_a[:, j])
        _ci(row, "pass_at_k_b", mean_b[j], None if boot_b is None else boot_b[:, j])
        diff = None if boot_a is None or boot_b is None else boot_b[:, j] - boot_a[:, j]
        _ci(row, "diff", mean_b[j] - mean_a[j], diff)
        row.update(group)
        for metric in METRICS:
            for i, s in enumerate("ab"):
                got = means[(metric, i)].get(k)
                row[f"{metric}_{s}"] = got[0] if got else None
        for i, s in enumerate("ab"):
            got = means[("distinct_n", i)].get(k) or means[("cosine_sim", i)].get(k)
            row[f"n_draws_{s}"] = got[1] if got else 0
        row["embedder"] = emb
        rows.append(row)
    return rows


def compare_sides(
    con: duckdb.DuckDBPyConnection,
    a: Side,
    b: Side,
    *,
    temperature: float | None = None,
    embedder: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[Row]:
    """run_comparison rows of side A against side B, per temperature pair, by k."""
    rows: list[Row] = []
    for ta, tb in temperature_pairs(con, a, b, temperature):
        paired = pair_pools(con, a.run_id, ta, b.run_id, tb)
        rows += compare_pair(con, paired, embedder=embedder, n_boot=n_boot, seed=seed)
    return rows


def _known_runs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Runs with graded pools."""
    return sorted({str(p["run_id"]) for p in cq.run_pools(con)})


def comparison_table(
    con: duckdb.DuckDBPyConnection,
    runs: str,
    *,
    temperature: float | None = None,
    embedder: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[Row]:
    """The run_comparison table for ``--runs A,B``."""
    a, b = parse_runs(runs, _known_runs(con))
    return compare_sides(
        con, a, b, temperature=temperature, embedder=embedder, n_boot=n_boot, seed=seed
    )


def class_list(classes: pd.DataFrame) -> list[Row]:
    """One pool's answer classes, largest first: answer (None: no answer), count, correct."""
    return [
        {
            "answer": None if pd.isna(r.answer_class) else r.answer,
            "count": int(r.count),
            "correct": bool(r.correct) if not pd.isna(r.correct) else None,
            "first_idx": int(r.first_idx),
        }
        for r in classes.itertuples()
    ]


def classes_text(classes: list[Row]) -> str:
    """Answer classes as one line: ``18 ×5 ✓; 26 ×2 ✗; (no answer) ×1 ✗``."""
    parts = []
    for cl in classes:
        answer = "(no answer)" if cl["answer"] is None else str(cl["answer"])
        mark = {True: "✓", False: "✗"}.get(cl["correct"], "?")
        parts.append(f"{answer} ×{cl['count']} {mark}")
    return "; ".join(parts)


def problem_rows(con: duckdb.DuckDBPyConnection, paired: Paired, k: int | None = None) -> list[Row]:
    """The run_problems rows of one comparison: problems one side solves at pass@K and the other
    does not (solved: pass@K >= SOLVED_AT); K defaults to the smallest pool (pass@n: any
    correct sample). Ordered by the side that solves it, then the gap, then problem id."""
    big_k = paired.k_max if k is None else int(k)
    if not 1 <= big_k <= paired.k_max:
        raise CompareError(
            f"--k {big_k} must be between 1 and the smallest shared pool ({paired.k_max} samples)"
        )
    pk = [pass_at_k_many(paired.n[i], paired.c[i], big_k) for i in range(2)]
    solved = [p >= SOLVED_AT for p in pk]
    picked = np.flatnonzero(solved[0] != solved[1])
    ids = [paired.problems[i] for i in picked]
    classes = []
    for run, t in ((paired.run_a, paired.temperature_a), (paired.run_b, paired.temperature_b)):
        df = cq.pool_classes(con, run, t, ids)
        classes.append({pid: class_list(sub) for pid, sub in df.groupby("problem_id", sort=False)})
    rows = []
    for i in picked:
        pid = paired.problems[i]
        row: Row = {**paired.head(), "k": big_k, "problem_id": pid}
        row["solved_by"] = "a" if solved[0][i] else "b"
        for s, side in enumerate("ab"):
            row[f"pass_at_k_{side}"] = float(pk[s][i])
        for s, side in enumerate("ab"):
            row[f"n_{side}"], row[f"c_{side}"] = int(paired.n[s][i]), int(paired.c[s][i])
        for s, side in enumerate("ab"):
            found = classes[s].get(pid, [])
            row[f"n_classes_{side}"] = sum(1 for cl in found if cl["answer"] is not None)
            row[f"answers_{side}"] = classes_text(found)
        rows.append(row)
    rows.sort(
        key=lambda r: (r["solved_by"], -abs(r["pass_at_k_b"] - r["pass_at_k_a"]), r["problem_id"])
    )
    return rows


def problems_table(
    con: duckdb.DuckDBPyConnection,
    runs: str,
    *,
    k: int | None = None,
    temperature: float | None = None,
) -> list[Row]:
    """The run_problems table for ``--runs A,B --k K``."""
    a, b = parse_runs(runs, _known_runs(con))
    rows: list[Row] = []
    for ta, tb in temperature_pairs(con, a, b, temperature):
        rows += problem_rows(con, pair_pools(con, a.run_id, ta, b.run_id, tb), k)
    return rows


def sides_available(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Every (run, temperature) with graded pools: run_id, temperature, pools, smallest pool."""
    return cq.run_pools(con)


def pool_detail(
    con: duckdb.DuckDBPyConnection, run_id: str, temperature: float, problem_id: str, k: int
) -> Row:
    """One pool for the side-by-side view: n, c, pass@k, its answer classes, its stored draws."""
    summary = cq.pool_summary(con, run_id, temperature)
    mine = summary[summary["problem_id"] == problem_id]
    n = int(mine["n"].iloc[0]) if len(mine) else 0
    c = int(mine["c"].iloc[0]) if len(mine) else 0
    pk = float(pass_at_k_many(np.array([n]), np.array([c]), k)[0]) if n >= k >= 1 else None
    classes = class_list(cq.pool_classes(con, run_id, temperature, [problem_id]))
    return {
        "run_id": run_id,
        "temperature": temperature,
        "problem_id": problem_id,
        "n": n,
        "c": c,
        "k": k,
        "pass_at_k": pk,
        "classes": classes,
        "draws": cq.pool_draws(con, run_id, problem_id, temperature),
    }


def pool_batch(
    con: duckdb.DuckDBPyConnection,
    detail: Row,
    index: int = 0,
) -> Row:
    """A batch of the pool of ``detail``: its ``index``-th stored draw of size k (cycling), else
    a fresh random draw of size min(k, n) (engine.batch_detail.redraw with seed ``index``)."""
    from .batch_detail import redraw

    k = int(detail["k"])
    same = [d for d in detail["draws"] if d["k"] == k]
    if same:
        d = same[index % len(same)]
        ids = d["sample_ids"]
        label = f"stored draw {index % len(same) + 1} of {len(same)} (k={k}, rep {d['rep']})"
    else:
        size = min(k, detail["n"])
        if size < 1:
            return {"label": "no graded samples", "members": []}
        ids = redraw(
            con, detail["run_id"], detail["problem_id"], detail["temperature"], size, index
        )
        label = f"fresh random batch of {size} (seed {index}; no stored draw of size {k})"
    return {"label": label, "members": cq.batch_members(con, ids)}


def problem_info(con: duckdb.DuckDBPyConnection, problem_id: str) -> Row:
    """A problem's question and gold answer."""
    return problem_text(con, problem_id)
