"""Benchmark of `divtui prune` over the N = 32 draws of the synthetic study, all m, three spaces.

    python -m bench.prune                 # 500 problems x 4 temperatures x 64 samples, 200k draws
    python -m bench.prune --problems 50   # a tenth of it

Builds the synthetic study (bench.synthetic) and its N = 32 draws (not timed), copies its vectors
under an ``orm-hidden:`` name so the orm space exists too, then times ``run_prune`` (sbert, bleu,
orm; m = 1, 2, 4, 8, 16; database writes included) in a child process that reports its peak
memory, and a naive per-draw loop (sacrebleu per pair, per-draw PAM loops, plain aggregators) on
a sample of the same draws.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.synthetic import EMBEDDER, build_study
from divtui.engine.draws import run_draws
from divtui.engine.specs import DrawSpec, PruneSpec
from divtui.store import open_db

KEEP = [1, 2, 4, 8, 16]
METRICS = ["sbert", "bleu", "orm"]


def _prune_child(db: str, n: int, workers: int | None, out: multiprocessing.Queue) -> None:
    """Run the pruning stage and report (seconds, stats, peak RSS in GB of this process)."""
    from divtui.engine.prune import run_prune

    con = open_db(db)
    t0 = time.perf_counter()
    stats = run_prune(
        con,
        PruneSpec(metrics=METRICS, sizes=[n], keep=KEEP, workers=workers),
        notice=lambda s: None,
    )
    spent = time.perf_counter() - t0
    con.close()
    stats.pop("neighbours")
    out.put((spent, stats, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2))


def _cost(d: np.ndarray, med: list[int]) -> float:
    """Total distance of every point to its nearest medoid."""
    return float(d[med].min(axis=0).sum())


def naive_pam(d: np.ndarray, m: int) -> list[int]:
    """PAM on one matrix as loops over candidates (BUILD, then best-improvement SWAP)."""
    n = len(d)
    med: list[int] = []
    for _ in range(m):
        med.append(min((c for c in range(n) if c not in med), key=lambda c: _cost(d, [*med, c])))
    while True:
        cur = _cost(d, med)
        best, move = cur - 1e-9, None
        for slot in range(m):
            for h in range(n):
                if h not in med:
                    trial = med.copy()
                    trial[slot] = h
                    c = _cost(d, trial)
                    if c < best:
                        best, move = c, (slot, h)
        if move is None:
            return med
        med[move[0]] = move[1]


def naive_draw(
    texts: list[str], vecs: np.ndarray, classes: list[int], reward: list[float], correct: list[bool]
) -> None:
    """Every space, every m, medoids and random: sacrebleu per pair, loops, plain aggregators."""
    import sacrebleu

    k = len(texts)
    bleu = np.array(
        [[sacrebleu.sentence_bleu(texts[i], [texts[j]]).score for j in range(k)] for i in range(k)]
    )
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    cos = unit @ unit.T
    spaces = {"sbert": 1 - cos, "bleu": 1 - (bleu + bleu.T) / 200, "orm": 1 - cos}
    rng = np.random.default_rng(0)
    for d in spaces.values():
        np.fill_diagonal(d, 0)
        for m in KEEP:
            for kept in (sorted(naive_pam(d, m)), sorted(rng.choice(k, m, replace=False))):
                votes: dict[int, int] = {}
                for i in kept:
                    votes[classes[i]] = votes.get(classes[i], 0) + 1
                max(votes, key=votes.get)
                max(kept, key=lambda i: reward[i])
                max(kept, key=lambda i: sum(bleu[i, j] for j in kept if j != i))
                max(kept, key=lambda i: sum(cos[i, j] for j in kept if j != i))
                any(correct[i] for i in kept)


def time_naive(db: Path, n: int, count: int) -> float:
    """Mean seconds per draw of :func:`naive_draw` on ``count`` stored draws of size n."""
    con = open_db(db, read_only=True)
    draws = con.execute(
        "SELECT sample_ids FROM draws WHERE k = ? ORDER BY draw_id LIMIT ?", [n, count]
    ).fetchall()
    spent = 0.0
    for (sids,) in draws:
        rows = con.execute(
            """SELECT s.sample_id, s.text, coalesce(s.answer_class, -1), s.correct, c.value, e.vec
               FROM samples s JOIN scores c USING (sample_id) JOIN embeddings e USING (sample_id)
               WHERE list_contains(?, s.sample_id) AND e.embedder = ?""",
            [sids, EMBEDDER],
        ).fetchall()
        by = {r[0]: r for r in rows}
        r = [by[s] for s in sids]
        t0 = time.perf_counter()
        naive_draw(
            [x[1] for x in r],
            np.array([x[5] for x in r]),
            [x[2] for x in r],
            [x[4] for x in r],
            [x[3] for x in r],
        )
        spent += time.perf_counter() - t0
    con.close()
    return spent / max(1, len(draws))


def main() -> None:
    """Build, draw, prune, time, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--temperatures", type=int, default=4)
    ap.add_argument("--n", type=int, default=64, help="samples per pool")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--size", type=int, default=32, help="draw size N to prune")
    ap.add_argument("--naive-draws", type=int, default=2, help="naive draws timed")
    ap.add_argument("--db", default=None, help="database file (default: a temp file)")
    ap.add_argument("--workers", type=int, default=None, help="prune workers (default: CPUs)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    db = Path(args.db) if args.db else Path(tmp.name) / "study.duckdb"
    ctx = multiprocessing.get_context("spawn")

    t0 = time.perf_counter()
    child = ctx.Process(target=build_study, args=(db, args.problems, args.temperatures, args.n))
    child.start()
    child.join()
    con = open_db(db)
    con.execute("SET enable_progress_bar = false")
    run_draws(con, DrawSpec(sizes=[args.size], reps=args.reps, seed=0), notice=lambda s: None)
    con.execute(
        """INSERT INTO embeddings SELECT sample_id, 'orm-hidden:synthetic', vec FROM embeddings
           WHERE embedder = ?""",
        [EMBEDDER],
    )
    con.close()
    print(f"study and draws built in {time.perf_counter() - t0:.1f} s (not counted)")

    queue: multiprocessing.Queue = ctx.Queue()
    child = ctx.Process(target=_prune_child, args=(str(db), args.size, args.workers, queue))
    child.start()
    fast_s, stats, peak_gb = queue.get()
    child.join()
    draws = stats["draws"]
    print(
        f"run_prune N={args.size}, m={','.join(map(str, KEEP))}, metrics {','.join(METRICS)}: "
        f"{draws} draws, {stats['rows_written']} rows in {fast_s:.1f} s (writes included): "
        f"{draws / fast_s:,.0f} draws/s; peak memory {peak_gb:.2f} GB"
    )
    per_draw = time_naive(db, args.size, args.naive_draws)
    naive_s = per_draw * draws
    print(
        f"naive: {per_draw:.2f} s per draw ({args.naive_draws} draws timed); estimate for "
        f"{draws} draws {naive_s:,.0f} s; ratio naive / run_prune = {naive_s / fast_s:,.0f}x"
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
