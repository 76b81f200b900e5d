"""Benchmark of the draw stage: a MATH-500-scale study (1 worker against 2, and a naive per-draw
loop), or one large pool (against today's dense path), each figure measured in the same run.

    python -m bench.draws                        # 500 problems x 4 T x 64 samples, 800k draws,
                                                 # run_draws with 1 worker, then with 2
    python -m bench.draws --problems 50          # a tenth of it
    python -m bench.draws --db /tmp/study.duckdb # build the study there once; later runs reuse it
    python -m bench.draws --workers 1,2,1,2      # worker counts to time, in this order
    python -m bench.draws --pool-size 2048       # one pool of 2048 samples, k = 4..256,
                                                 # against the dense path (today's matrices)
    python -m bench.draws --pool-size 10000      # one pool of 10,000 (the dense path cannot run)

Every run_draws runs in a child process on a fresh copy of the built study (copying is not
timed) and reports its wall time and peak memory (its own, and its worker processes').
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from bench.synthetic import build_study
from divtui.engine.draws import run_draws
from divtui.engine.specs import DrawSpec
from divtui.store import open_db
from divtui.store import vocabulary as vocab

POOL_SIZES = "4,8,16,32,64,128,256"


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
        vocab.MBR_LEX: int(np.argmax(mbr)),
        vocab.MBR_SEM: int(np.argmax(cos.sum(axis=1))),
        vocab.WMAJ: max(counts, key=counts.get),
        vocab.BST: int(np.argmax(rewards)),
        vocab.COVERAGE: any(correct),
    }


def _draw_members(con: duckdb.DuckDBPyConnection, sids: list[int]) -> list[tuple]:
    """(sample_id, text, class, mean_logprob, correct, score, vec) of a draw's members, in order."""
    rows = con.execute(
        """SELECT s.sample_id, s.text, s.answer_class, s.mean_logprob, s.correct, c.value, e.vec
           FROM samples s JOIN scores c USING (sample_id) JOIN embeddings e USING (sample_id)
           WHERE list_contains(?, s.sample_id)""",
        [sids],
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    return [by_id[s] for s in sids]


def _naive_of(r: list[tuple]) -> dict:
    """:func:`naive_draw` of members from :func:`_draw_members`."""
    return naive_draw(
        [x[1] for x in r],
        np.array([x[6] for x in r]),
        [x[2] for x in r],
        [1 / (1 + np.exp(-x[5])) for x in r],
        [x[3] for x in r],
        [x[4] for x in r],
    )


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
            r = _draw_members(con, sids)
            t0 = time.perf_counter()
            _naive_of(r)
            spent += time.perf_counter() - t0
        out[k] = spent / max(1, len(draws))
    con.close()
    return out


def check_against_naive(db: Path, sizes: list[int], per_k: int) -> tuple[int, int]:
    """(draws checked, mismatches): stored mbr_lex, mbr_sem, distinct_n and cosine_sim of
    ``per_k`` draws of each size against :func:`naive_draw`."""
    con = open_db(db, read_only=True)
    checked = bad = 0
    for k in sizes:
        draws = con.execute(
            "SELECT draw_id, sample_ids FROM draws WHERE k = ? ORDER BY draw_id LIMIT ?",
            [k, per_k],
        ).fetchall()
        for did, sids in draws:
            want = _naive_of(_draw_members(con, sids))
            got = dict(
                con.execute(
                    "SELECT metric, value FROM draw_metrics WHERE draw_id = ? AND embedder IN "
                    "('', (SELECT min(embedder) FROM embeddings)) AND scorer = ''",
                    [did],
                ).fetchall()
            )
            picks = dict(
                con.execute(
                    "SELECT aggregator, sample_id FROM draw_outcomes WHERE draw_id = ?", [did]
                ).fetchall()
            )
            ok = picks[vocab.MBR_LEX] == sids[want[vocab.MBR_LEX]]
            ok &= picks[vocab.MBR_SEM] == sids[want[vocab.MBR_SEM]]
            ok &= abs(got["distinct_n"] - want["distinct_n"]) < 1e-12
            ok &= abs(got["cosine_sim"] - want["cosine_sim"]) < 1e-6
            checked += 1
            bad += not ok
    con.close()
    return checked, bad


def _tree(pid: int) -> dict[int, tuple[int, float]]:
    """(resident bytes, CPU seconds) of process ``pid`` and each of its descendants (/proc)."""
    out = {}
    todo = [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            rss = 1024 * int(status.split("VmRSS:")[1].split()[0]) if "VmRSS:" in status else 0
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (rss, (int(fields[11]) + int(fields[12])) / tick)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return out


class TreePeak:
    """Peak resident memory of this process and its descendants together (sampled every
    50 ms), and the CPU seconds they used."""

    def __init__(self) -> None:
        """Start sampling in a daemon thread."""
        import threading

        self.peak = 0
        self.cpu: dict[int, float] = {}
        self.start_cpu = _tree(os.getpid()).get(os.getpid(), (0, 0.0))[1]
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        tree = _tree(os.getpid())
        self.peak = max(self.peak, sum(rss for rss, _ in tree.values()))
        for p, (_, cpu) in tree.items():
            self.cpu[p] = max(self.cpu.get(p, 0.0), cpu)

    def _run(self) -> None:
        while self.running:
            self._sample()
            time.sleep(0.05)

    def stop(self) -> tuple[float, float]:
        """Stop; (peak GB, CPU seconds of the process tree since the start)."""
        self.running = False
        self.thread.join()
        self._sample()
        return self.peak / 1024**3, sum(self.cpu.values()) - self.start_cpu


def _draw_child(
    db: str, sizes: list[int], reps: int, workers: int, dense: bool, out: multiprocessing.Queue
) -> None:
    """Run the draw stage (with today's dense matrices when ``dense``) and report (seconds,
    stats, own peak RSS GB, peak GB of this process and its workers together, their CPU s)."""
    if dense:
        from divtui.engine import bleu, pool

        pool.LARGE_POOL = 10**9
        pool.pairwise_bleu = bleu.pairwise_bleu_dense
    con = open_db(db)
    con.execute("SET enable_progress_bar = false")
    tree = TreePeak()
    t0 = time.perf_counter()
    stats = run_draws(
        con,
        DrawSpec(sizes=sizes, reps=reps, seed=0, workers=workers),
        notice=lambda s: print("note:", s),
    )
    spent = time.perf_counter() - t0
    con.close()
    together, cpu = tree.stop()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    out.put((spent, stats, own, max(own, together), cpu))


def timed_draws(
    study: Path, work: Path, sizes: list[int], reps: int, workers: int, dense: bool = False
) -> tuple[float, dict, float, float, float]:
    """Copy ``study`` to ``work`` (not timed) and time run_draws on it in a child process."""
    shutil.copy(study, work)
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = ctx.Queue()
    child = ctx.Process(target=_draw_child, args=(str(work), sizes, reps, workers, dense, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def build(db: Path, problems: int, temperatures: int, n: int) -> None:
    """Build the synthetic study into ``db`` in a child process, unless it is there already."""
    if db.exists():
        print(f"synthetic study: reusing {db}")
        return
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=build_study, args=(db, problems, temperatures, n))
    child.start()
    child.join()
    if child.exitcode:
        raise SystemExit(f"building the study failed (exit code {child.exitcode})")
    samples = problems * temperatures * n
    print(f"synthetic study: {samples} samples built in {time.perf_counter() - t0:.1f} s")


def compare_tables(a: Path, b: Path) -> tuple[int, float, int]:
    """(metric rows, max |difference|, outcome rows that differ) between two drawn files."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    rows, diff = con.execute(
        """SELECT count(*), max(abs(x.value - y.value)) FROM a.draw_metrics x
           JOIN b.draw_metrics y USING (draw_id, metric, embedder, scorer)"""
    ).fetchone()
    differ = con.execute(
        """SELECT count(*) FROM (SELECT * FROM a.draw_outcomes EXCEPT ALL
           SELECT * FROM b.draw_outcomes)"""
    ).fetchone()[0]
    totals = [
        con.execute(f"SELECT count(*) FROM {s}.draw_metrics").fetchone()[0] for s in ("a", "b")
    ]
    con.close()
    if totals[0] != totals[1] or totals[0] != rows:
        differ += abs(totals[0] - totals[1]) + totals[0] - rows
    return rows, float(diff or 0.0), differ


def _load() -> str:
    """The load averages, as /proc/loadavg gives them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def study_mode(args: argparse.Namespace, db: Path, tmp: Path) -> None:
    """Time run_draws on the study per worker count, then the naive loop on a sample."""
    sizes = [int(s) for s in args.sizes.split(",")]
    build(db, args.problems, args.temperatures, args.n)
    times: dict[int, list[float]] = {}
    work = tmp / "work.duckdb"
    draws = 0
    for w in [int(x) for x in args.workers.split(",")]:
        spent, stats, own, kids, cpu = timed_draws(db, work, sizes, args.reps, w)
        draws = stats["draws_written"]
        times.setdefault(w, []).append(spent)
        print(
            f"run_draws, {w} worker(s): {draws} draws, {stats['metric_rows']} metric rows, "
            f"{stats['outcome_rows']} outcome rows in {spent:.1f} s (writes included): "
            f"{draws / spent:,.0f} draws/s; CPU {cpu:.1f} s; peak memory {own:.2f} GB "
            f"({kids:.2f} GB with workers); load {_load()}"
        )
    best = {w: min(t) for w, t in times.items()}
    if 1 in best and len(best) > 1:
        for w, t in sorted(best.items()):
            if w != 1:
                print(f"speed-up with {w} workers over 1 (best of each): {best[1] / t:.2f}x")
    per_draw = time_naive(work, sizes, args.naive_draws)
    pools = args.problems * args.temperatures
    naive_s = sum(per_draw[k] * pools * args.reps for k in sizes if k <= args.n)
    for k in sizes:
        print(f"naive k={k}: {per_draw[k] * 1000:.1f} ms per draw ({args.naive_draws} draws timed)")
    fastest = min(best.values())
    print(
        f"naive estimate for the same {draws} draws: {naive_s:,.0f} s (no database writes); "
        f"ratio naive / run_draws = {naive_s / fastest:,.0f}x"
    )


def pool_mode(args: argparse.Namespace, db: Path, tmp: Path) -> None:
    """One pool of ``--pool-size`` samples: the split/pairs path against the dense path."""
    n = args.pool_size
    sizes = [int(s) for s in (args.sizes if args.sizes_given else POOL_SIZES).split(",")]
    build(db, 1, 1, n)
    new = tmp / "new.duckdb"
    spent, stats, own, kids, _ = timed_draws(
        db, new, sizes, args.reps, int(args.workers.split(",")[0])
    )
    print(
        f"pool of {n}: {stats['draws_written']} draws (k = {','.join(map(str, sizes))}, "
        f"{args.reps} reps) in {spent:.1f} s; peak memory {own:.2f} GB "
        f"({kids:.2f} GB with workers); load {_load()}"
    )
    if n <= args.dense_max:
        dense = tmp / "dense.duckdb"
        d_spent, _, d_own, _, _ = timed_draws(db, dense, sizes, args.reps, 1, dense=True)
        rows, diff, differ = compare_tables(new, dense)
        print(
            f"dense path (today's n x n matrices and dense count matrices): {d_spent:.1f} s, "
            f"peak memory {d_own:.2f} GB; ratio dense / new = {d_spent / spent:.1f}x; "
            f"{rows} metric rows compared, max |difference| {diff:.2e}; "
            f"{differ} outcome rows differ"
        )
    else:
        print(
            f"dense path not run (pool of {n} > --dense-max {args.dense_max}; it needs n x distinct n-grams floats per order)"
        )
    small = [k for k in sizes if k <= 16]
    checked, bad = check_against_naive(new, small, args.naive_draws)
    print(
        f"naive check (sacrebleu per pair, numpy): {checked} stored draws of k = "
        f"{','.join(map(str, small))}, {bad} differ"
    )


def main() -> None:
    """Parse, build, draw, time, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--temperatures", type=int, default=4)
    ap.add_argument("--n", type=int, default=64, help="samples per pool")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--sizes", default=None, help="draw sizes (default 4,8,16,32; pools: 4..256)")
    ap.add_argument("--workers", default="1,2", help="worker counts to time, comma-separated")
    ap.add_argument("--naive-draws", type=int, default=6, help="naive draws timed per size")
    ap.add_argument("--pool-size", type=int, default=None, help="one pool of this many samples")
    ap.add_argument("--dense-max", type=int, default=2048, help="largest pool the dense path runs")
    ap.add_argument("--db", default=None, help="study file: built when absent, else reused")
    args = ap.parse_args()
    args.sizes_given = args.sizes is not None
    args.sizes = args.sizes or "4,8,16,32"
    print(f"machine: {os.cpu_count()} CPUs; load {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "study.duckdb"
        if args.pool_size:
            pool_mode(args, db, Path(tmp))
        else:
            study_mode(args, db, Path(tmp))


if __name__ == "__main__":
    main()
