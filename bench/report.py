"""Benchmark of `divtui report` at MATH-500 scale: 1,000 resamples against none, same run.

    python -m bench.report                          # builds the 800k-draw study once, reuses it
    python -m bench.report --db /tmp/study800k.duckdb --boot 1000

The study is bench.synthetic's 500 problems x 4 temperatures x 64 samples drawn at k = 4, 8,
16, 32 with 100 reps (800,000 draws), written once to ``--db`` (default
``$DIVTUI_BENCH_DIR/study800k.duckdb``, else ``~/.cache/divtui-bench``) and reused by later
runs. It times the full report (every default table) with no resampling and with ``--boot``
resamples, the two new tables (within_correlations, fixed_effects) alone with ``--boot``, and
prints the ratios, the machine load before and after, and a check that the rank-count
Spearman path gives the same intervals as the replicate-by-replicate one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

from divtui.engine.specs import DrawSpec


def _build(db: Path, problems: int) -> None:
    """The synthetic study with its draws (a child process, so its memory is given back)."""
    from bench.synthetic import build_study
    from divtui.engine.draws import run_draws
    from divtui.store import open_db

    build_study(db, problems=problems)
    con = open_db(db)
    run_draws(con, DrawSpec(sizes=[4, 8, 16, 32], reps=100, seed=0), notice=lambda _: None)
    con.close()


def _load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(db: Path, **kw: object) -> tuple[float, float, dict]:
    """Wall seconds and CPU seconds (this process, every thread) of one build_report on a
    read-only connection, and the report. On a shared machine the CPU seconds move less with
    the load than the wall time."""
    from divtui.engine.report import build_report
    from divtui.store import open_db

    con = open_db(db, read_only=True)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        rep = build_report(con, **kw)  # type: ignore[arg-type]
        return time.perf_counter() - t0, time.process_time() - c0, rep
    finally:
        con.close()


def _same_spearman(db: Path, k: int, n_boot: int) -> float:
    """Largest difference between the rank-count and the per-replicate Spearman replicates of
    every metric against maj at one k (the same resamples)."""
    from divtui.engine import stats
    from divtui.engine.report import _labels, _select
    from divtui.store import draw_tables as rq
    from divtui.store import open_db
    from divtui.store.vocabulary import MAJ

    con = open_db(db, read_only=True)
    try:
        where, params = rq.draw_filter(k=k)
        metrics = _labels(_select(rq.variants(con, "draw_metrics", where, params), None, None))
        outcomes = [c for c in _labels(rq.variants(con, "draw_outcomes", where, params))]
        outcomes = [c for c in outcomes if c[1] == MAJ]
        df = rq.draw_frame(con, where, params, metrics, outcomes)
    finally:
        con.close()
    names = [c[0] for c in metrics if c[1] != "n_correct"]
    cols = np.stack([df[n].to_numpy(float) for n in names] + [df[MAJ].to_numpy(float)])
    ok = np.isfinite(cols).all(axis=0)
    cols = cols[:, ok]
    g, n_groups = stats.dense_codes(df["problem_id"].astype("category").cat.codes.to_numpy()[ok])
    w = stats.resample_weights(n_groups, n_boot, 0)
    pairs = [(i, len(names)) for i in range(len(names))]
    fast = stats.boot_spearman_many(cols, pairs, g, w)
    slow = stats.boot_spearman_pairs(cols, pairs, g, w)
    return float(np.nanmax(np.abs(fast - slow)))


def main() -> None:
    """Build (once), time, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(os.environ.get("DIVTUI_BENCH_DIR", Path.home() / ".cache" / "divtui-bench"))
    ap.add_argument("--db", type=Path, default=default_dir / "study800k.duckdb")
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--check-k", type=int, default=8, help="k of the Spearman identity check")
    ap.add_argument("--check-boot", type=int, default=100)
    args = ap.parse_args()
    if not args.db.exists():
        args.db.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(
            target=_build, args=(args.db, args.problems)
        )
        child.start()
        child.join()
        print(f"built {args.db} in {time.perf_counter() - t0:.0f} s (not counted)")
    import statsmodels.api  # noqa: F401  (imported before timing: not part of either run)

    from divtui.engine.report import TABLES

    print(f"study {args.db}; load before: {_load()}")
    none_s, none_cpu, rep = _timed(args.db, n_boot=0)
    draws = sum(r["n_draws"] for r in rep["tables"]["accuracy_by_k"])
    print(
        f"full report ({len(TABLES)} tables), {draws:,} draws, no resampling: {none_s:.1f} s "
        f"({none_cpu:.1f} s CPU); load {_load()}"
    )
    boot_s, boot_cpu, rep = _timed(args.db, n_boot=args.boot)
    print(
        f"full report, {args.boot} resamples: {boot_s:.1f} s ({boot_cpu:.1f} s CPU); load "
        f"{_load()}; ratio {boot_s / none_s:.2f}x the report without resampling "
        f"({boot_cpu / none_cpu:.2f}x in CPU time)"
    )
    new = ["within_correlations", "fixed_effects"]
    new_s, new_cpu, rep = _timed(args.db, n_boot=args.boot, tables=new)
    rows = sum(len(rep["tables"][t]) for t in new)
    print(
        f"within_correlations + fixed_effects, {args.boot} resamples: {new_s:.1f} s "
        f"({new_cpu:.1f} s CPU, {rows} rows)"
    )
    diff = _same_spearman(args.db, args.check_k, args.check_boot)
    print(
        f"Spearman replicates, rank-count path vs per-replicate path (k = {args.check_k}, "
        f"{args.check_boot} resamples): largest difference {diff:.1e}"
    )
    print(f"load after: {_load()}")


if __name__ == "__main__":
    main()
