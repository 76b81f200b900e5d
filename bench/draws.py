"""Benchmark of the draw stage at MATH-500 scale against a naive per-draw implementation.

    python -m bench.draws                 # 500 problems x 4 temperatures x 64 samples, 800k draws
    python -m bench.draws --problems 50   # a tenth of it

Builds a synthetic study (bench.synthetic) in a child process, runs ``run_draws`` for every size
and rep into the real DuckDB file, and times a naive implementation (sacrebleu per pair, numpy
per draw) on a sample of the same draws in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.synthetic import build_study
from divtui.engine.draws import run_draws
from divtui.store import open_db


def naive_draw(
    texts: list[str],
    vecs: np.ndarray,
    classes: list[int],
    rewards: list[float],
    logprobs: list[float],
    correct: list[bool],
) -> dict:
    """Every metric and aggregator of one draw, computed directly: sacrebleu per pair, numpy."""
    import sacrebleu

    k = len(texts)
    bleu = [
        [sacrebleu.sentence_bleu(texts[i], [texts[j]]).score for j in range(k)] for i in range(k)
    ]
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    cos = unit @ unit.T
    np.fill_diagonal(cos, 1.0)
    dpp = np.linalg.slogdet(cos + 1e-6 * np.eye(k))[1]
    grams = []
    for t in texts:
        toks = t.split()
        grams += [tuple(toks[i : i + 3]) for i in range(len(toks) - 2)]
    counts: dict[int, float] = {}
    for c, r in zip(classes, rewards, strict=True):
        counts[c] = counts.get(c, 0.0) + r
    mbr = [sum(bleu[i][j] for j in range(k) if j != i) for i in range(k)]
    return {
        "distinct_n": len(set(grams)) / max(1, len(grams)),
        "cosine_sim": float(np.mean([cos[i, j] for i, j in itertools.combinations(range(k), 2)])),
        "dpp": dpp,
        "qual_dpp": dpp + 2 * sum(logprobs),
        "mbr_lex": int(np.argmax(mbr)),
        "mbr_sem": int(np.argmax(cos.sum(axis=1))),
        "wmaj": max(counts, key=counts.get),
        "bst": int(np.argmax(rewards)),
        "coverage": any(correct),
    }


def time_naive(db: Path, sizes: list[int], per_k: int) -> dict[int, float]:
    """Mean seconds per draw of :func:`naive_draw` on ``per_k`` stored draws of each size."""
    con = open_db(db, read_only=True)
    out = {}
    for k in sizes:
        draws = con.execute(
            "SELECT sample_ids FROM draws WHERE k = ? ORDER BY draw_id LIMIT ?", [k, per_k]
        ).fetchall()
        spent = 0.0
        for (sids,) in draws:
            rows = con.execute(
                """SELECT s.sample_id, s.text, s.answer_class, s.mean_logprob, s.correct, c.value, e.vec
                   FROM samples s JOIN scores c USING (sample_id) JOIN embeddings e USING (sample_id)
                   WHERE list_contains(?, s.sample_id)""",
                [sids],
            ).fetchall()
            by_id = {r[0]: r for r in rows}
            r = [by_id[s] for s in sids]
            t0 = time.perf_counter()
            naive_draw(
                [x[1] for x in r],
                np.array([x[6] for x in r]),
                [x[2] for x in r],
                [1 / (1 + np.exp(-x[5])) for x in r],
                [x[3] for x in r],
                [x[4] for x in r],
            )
            spent += time.perf_counter() - t0
        out[k] = spent / max(1, len(draws))
    con.close()
    return out


def main() -> None:
    """Build, draw, time, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--temperatures", type=int, default=4)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--sizes", default="4,8,16,32")
    ap.add_argument("--naive-draws", type=int, default=6, help="naive draws timed per size")
    ap.add_argument("--db", default=None, help="database file (default: a temp file)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = tempfile.TemporaryDirectory()
    db = Path(args.db) if args.db else Path(tmp.name) / "study.duckdb"

    t0 = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(
        target=build_study, args=(db, args.problems, args.temperatures, args.n)
    )
    child.start()
    child.join()
    build_s = time.perf_counter() - t0
    samples = args.problems * args.temperatures * args.n
    print(f"synthetic study: {samples} samples built in {build_s:.1f} s (not counted)")

    con = open_db(db)
    t0 = time.perf_counter()
    stats = run_draws(con, sizes=sizes, reps=args.reps, seed=0, notice=lambda s: print("note:", s))
    fast_s = time.perf_counter() - t0
    con.close()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    draws = stats["draws_written"]
    print(
        f"run_draws: {draws} draws, {stats['metric_rows']} metric rows, "
        f"{stats['outcome_rows']} outcome rows in {fast_s:.1f} s (database writes included): "
        f"{draws / fast_s:,.0f} draws/s; peak memory {peak_gb:.2f} GB"
    )

    per_draw = time_naive(db, sizes, args.naive_draws)
    pools = args.problems * args.temperatures
    naive_s = sum(per_draw[k] * pools * args.reps for k in sizes if k <= args.n)
    for k in sizes:
        print(f"naive k={k}: {per_draw[k] * 1000:.1f} ms per draw ({args.naive_draws} draws timed)")
    print(
        f"naive estimate for the same {draws} draws: {naive_s:,.0f} s (no database writes); "
        f"ratio naive / run_draws = {naive_s / fast_s:,.0f}x"
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
