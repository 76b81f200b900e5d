"""The draw stage: random k-subsets of every pool with all metrics and aggregators, in bulk.

Per pool the BLEU/cosine/n-gram matrices are computed once (engine.pool.precompute); per
(pool, k) every repetition is evaluated at once on gathered (reps, k, k) sub-matrices; a batch of
pools is written in one transaction (draws + draw_metrics + draw_outcomes), so an interrupted
run resumes where it stopped and a rerun adds nothing twice. Batches are evaluated in worker
processes (engine.workers) and written by this process, in order.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from divtui.store import catalog, stable_id
from divtui.store import draws as dq
from divtui.store import runs as rn
from divtui.store import vocabulary as vocab
from divtui.store.vocabulary import BOTH, LOGPROB, REWARD

from . import aggregators as ag
from . import metrics as mt
from .pool import Pool, PoolMatrices, embedding_lookup, load_pools, precompute, reward_lookup
from .specs import DrawSpec
from .workers import Ordered, ordered, problem_chunks, resolve_workers

Progress = Callable[[int, int, str], None]
LOG_Q_FLOOR = 1e-12
"""Rewards used as DPP quality are floored here before the log (a reward of 0 has no log)."""


def n_subsets(n: int, k: int) -> int:
    """How many distinct k-subsets a pool of n samples has: C(n, k)."""
    return math.comb(int(n), int(k))


def _stream_cap(n: int, k: int, total: int) -> int:
    """Rows of the random stream a pool's draws may read before the fallback: enough to meet
    every subset of a small pool (coupon collector, ``total (ln total + 5)``), bounded by 2^25
    random numbers; a function of (n, k) only, so it does not depend on reps."""
    work = max(64, 2**25 // max(n, 1))
    if total > 2**50:
        return work
    return int(min(total * (math.log(total) + 5.0) + 16, work))


def draw_indices(
    seed: int, run_id: str, problem_id: str, temperature: float, k: int, n: int, reps: int
) -> np.ndarray:
    """Positions (n_draws, k) of the draws of one pool: distinct k-subsets in random draw order.

    A pool's random stream is a sequence of uniform k-subsets in random order (row r: the first
    k positions of argsort of n uniforms); its draws are the first ``min(reps, C(n, k))``
    distinct subsets of that stream, a repeated subset skipped. So when C(n, k) <= reps every
    subset is drawn exactly once (k = n: one draw), otherwise ``reps`` distinct subsets; and
    without repeats the draws are the stream's first ``reps`` rows. Past a bounded part of the
    stream (see _stream_cap: only for huge pools with k near 1 or n) the missing subsets are
    the unseen ones in lexicographic order (every subset drawn) or a random choice of them,
    each in a random order from a second generator.

    The generator depends only on (seed, run_id, problem_id, temperature, k), so draws do not
    depend on which other pools exist or in which order pools are processed, and draw r is the
    same whatever the number of reps.
    """
    key = stable_id("draws", run_id, problem_id, float(temperature), int(k)) & (2**64 - 1)
    seq = [int(seed) & (2**64 - 1), key]
    rng = np.random.default_rng(np.random.SeedSequence(seq))
    total = n_subsets(n, k)
    want = min(int(reps), total)
    cap = _stream_cap(n, k, total)
    rows: list[np.ndarray] = []
    seen: set[bytes] = set()
    streamed = 0
    while len(rows) < want and streamed < cap:
        m = min(cap - streamed, want if not streamed else max(16, 2 * (want - len(rows))))
        pos = np.argsort(rng.random((m, n)), axis=1, kind="stable")[:, :k].astype(np.int64)
        streamed += m
        keys = np.sort(pos, axis=1)
        if not seen and len(_first_rows(keys)) == m and m <= want:
            rows.extend(pos)
            seen.update(r.tobytes() for r in keys)
            continue
        for row, sub in zip(pos, keys, strict=True):
            b = sub.tobytes()
            if b not in seen:
                seen.add(b)
                rows.append(row)
                if len(rows) == want:
                    break
    if len(rows) < want:
        extra = np.random.default_rng(np.random.SeedSequence([*seq, 1]))
        rest = [
            c
            for c in itertools.combinations(range(n), k)
            if np.array(c, np.int64).tobytes() not in seen
        ]
        order = extra.permutation(len(rest)) if total > reps else np.arange(len(rest))
        for i in order[: want - len(rows)]:
            rows.append(extra.permutation(np.array(rest[int(i)], np.int64)))
    return np.array(rows, dtype=np.int64).reshape(want, k)


def _first_rows(keys: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row of ``keys`` (sorted subsets)."""
    view = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1])))
    return np.unique(view.ravel(), return_index=True)[1]


@dataclass
class Evaluation:
    """Every metric and aggregator pick of the draws ``idx`` of one pool (positions in draw)."""

    metrics: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    picks: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)


def evaluate(
    pool: Pool,
    mats: PoolMatrices,
    idx: np.ndarray,
    *,
    quality: str = LOGPROB,
    weighted: bool = True,
) -> Evaluation:
    """All metrics and picks for draws ``idx`` (reps, k); keys are (name, embedder, scorer).

    Draws go in chunks whose (draws, k, k) arrays stay under the pool's pair budget; every
    draw's values are computed on their own, so the chunking changes nothing.
    """
    step = mats.pairs.row_block(idx.shape[1])
    if len(idx) > step:
        parts = [
            evaluate(pool, mats, idx[a : a + step], quality=quality, weighted=weighted)
            for a in range(0, len(idx), step)
        ]
        return Evaluation(
            {key: np.concatenate([p.metrics[key] for p in parts]) for key in parts[0].metrics},
            {key: np.concatenate([p.picks[key] for p in parts]) for key in parts[0].picks},
        )
    ev = Evaluation()
    lp = pool.mean_logprob
    ev.metrics[(mt.distinct_name(mats.distinct_n), "", "")] = mats.distinct_of(idx)
    if lp is not None:
        ev.metrics[("mean_logprob", "", "")] = lp[idx].mean(axis=1)
    correct = pool.correct[idx]
    if pool.graded:
        ev.metrics[("n_correct", "", "")] = correct.sum(axis=1).astype(np.float64)
        ev.picks[(vocab.COVERAGE, "", "")] = ag.coverage(correct)[1]
    classes = pool.answer_class[idx]
    ev.picks[(vocab.MAJ, "", "")] = ag.vote(classes)
    ev.picks[(vocab.MBR_LEX, "", "")] = ag.mbr(mats.pairs.bleu_of(idx))
    for emb in mats.pairs.embedders:
        sub = mats.pairs.cosine_of(emb, idx)
        d = mt.dpp(sub)
        ev.metrics[("cosine_sim", emb, "")] = mt.cosine_sim(sub)
        ev.metrics[("dpp", emb, "")] = d
        ev.metrics[("near_dup_pairs", emb, "")] = mt.near_dup_pairs(sub).astype(np.float64)
        if lp is not None and quality in (LOGPROB, BOTH):
            ev.metrics[("qual_dpp", emb, "")] = mt.qual_dpp(d, lp[idx])
        if quality in (REWARD, BOTH):
            for sc, rew in pool.rewards.items():
                logq = np.log(np.maximum(rew[idx], LOG_Q_FLOOR))
                ev.metrics[("qual_dpp", emb, sc)] = mt.qual_dpp(d, logq)
        ev.picks[(vocab.MBR_SEM, emb, "")] = ag.mbr(sub)
    for sc, rew in pool.rewards.items():
        r = rew[idx]
        if weighted:
            ev.picks[(vocab.WMAJ, "", sc)] = ag.vote(classes, r)
        ev.picks[(vocab.BST, "", sc)] = ag.bst(r)
    return ev


def row_keys(
    pool: Pool,
    quality: str = LOGPROB,
    weighted: bool = True,
    distinct_n: int = mt.DISTINCT_N,
) -> set[tuple[str, str, str]]:
    """The (name, embedder, scorer) rows :func:`evaluate` gives for draws of ``pool`` (with
    matrices precomputed for ``distinct_n``), from what store.vocabulary says each name needs."""
    has_lp = pool.mean_logprob is not None
    keys: set[tuple[str, str, str]] = set()
    for name in (*vocab.METRICS, *vocab.OUTCOMES):
        need = vocab.needs(name)
        if (need.logprobs and not has_lp) or (need.graded and not pool.graded):
            continue
        if name == vocab.WMAJ and not weighted:
            continue
        scorers = list(pool.rewards) if need.scorer else [""]
        if need.quality:
            lp_row = [""] if has_lp and vocab.quality_reads(quality, "logprobs") else []
            scorers = lp_row + (
                list(pool.rewards) if vocab.quality_reads(quality, "scorer") else []
            )
        stored = mt.distinct_name(distinct_n) if name == "distinct_n" else name
        embedders = list(pool.embeddings) if need.embedder else [""]
        keys |= {(stored, e, s) for e in embedders for s in scorers}
    return keys


def _all_done(
    pool: Pool,
    ids: np.ndarray,
    quality: str,
    done_draws: np.ndarray,
    done_rows: dict[tuple[str, str, str], np.ndarray],
    distinct_n: int,
) -> bool:
    """True when the draws ``ids`` of a pool and every row they would get are stored already."""
    if not _stored(done_draws, ids).all():
        return False
    keys = row_keys(pool, quality, distinct_n=distinct_n)
    return all(_stored(done_rows.get(key), ids).all() for key in keys)


def _stored(sorted_ids: np.ndarray | None, ids: np.ndarray) -> np.ndarray:
    """Mask of ``ids`` present in the sorted array ``sorted_ids``."""
    if sorted_ids is None or len(sorted_ids) == 0:
        return np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[pos] == ids


class _Rows:
    """Column buffers of one write batch, turned into Arrow tables with dictionary strings."""

    def __init__(self) -> None:
        """Empty buffers."""
        self.names: dict[str, int] = {}
        self.answers: list[str | None] = []
        self.d_cols: dict[str, list] = {
            k: [] for k in ("draw_id", "pool", "k", "rep", "seed", "off", "ids")
        }
        self.d_keys: list[tuple[str, str, float]] = []
        self.stale: list[tuple[str, str, float, int, int]] = []
        self.sets: list[tuple[str, str, float, int, int, int, int | None, int, bool]] = []
        self.m_cols: dict[str, list] = {
            k: [] for k in ("draw_id", "metric", "embedder", "scorer", "value")
        }
        self.o_cols: dict[str, list] = {
            k: []
            for k in (
                "draw_id",
                "aggregator",
                "embedder",
                "scorer",
                "sample_id",
                "answer",
                "correct",
            )
        }

    def code(self, s: str) -> int:
        """Dictionary code of a string."""
        return self.names.setdefault(s, len(self.names))

    def _dict(self, codes: list[np.ndarray]) -> pa.DictionaryArray:
        """A dictionary-encoded string column from code chunks."""
        names = sorted(self.names, key=self.names.__getitem__)
        idx = np.concatenate(codes) if codes else np.zeros(0, np.int32)
        return pa.DictionaryArray.from_arrays(
            pa.array(idx.astype(np.int32)), pa.array(names, pa.string())
        )

    def stale_table(self) -> pa.Table:
        """The (run, problem, temperature, k, seed) whose stored draws this batch replaces."""
        cols = list(zip(*self.stale, strict=True)) or [()] * 5
        return pa.table(dict(zip(dq.STALE_SCHEMA.names, cols, strict=True)), dq.STALE_SCHEMA)

    def sets_table(self) -> pa.Table:
        """The draw_sets rows of this batch: per (pool, k, seed) its size and distinct subsets."""
        cols = list(zip(*self.sets, strict=True)) or [()] * len(dq.SETS_SCHEMA)
        return pa.table(dict(zip(dq.SETS_SCHEMA.names, cols, strict=True)), dq.SETS_SCHEMA)

    def tables(self) -> tuple[pa.Table, pa.Table, pa.Table]:
        """(draws, draw_metrics, draw_outcomes) as Arrow tables."""
        d = self.d_cols
        if d["draw_id"]:
            ids = np.concatenate(d["ids"])
            kk = np.concatenate(d["k"])
            offsets = np.zeros(len(kk) + 1, dtype=np.int32)
            np.cumsum(kk, out=offsets[1:])
            pool_of = np.concatenate(d["pool"])
            keys = pa.array(
                self.d_keys,
                pa.struct([("r", pa.string()), ("p", pa.string()), ("t", pa.float64())]),
            )
            take = pa.array(pool_of)
            draws = pa.table(
                {
                    "draw_id": np.concatenate(d["draw_id"]),
                    "run_id": keys.field("r").take(take),
                    "problem_id": keys.field("p").take(take),
                    "temperature": keys.field("t").take(take),
                    "k": kk.astype(np.int32),
                    "rep": np.concatenate(d["rep"]).astype(np.int32),
                    "seed": np.concatenate(d["seed"]).astype(np.int64),
                    "sample_ids": pa.ListArray.from_arrays(pa.array(offsets), pa.array(ids)),
                }
            )
        else:
            draws = pa.table({"draw_id": pa.array([], pa.int64())})
        m = self.m_cols
        metrics = pa.table(
            {
                "draw_id": np.concatenate(m["draw_id"]) if m["draw_id"] else np.zeros(0, np.int64),
                "metric": self._dict(m["metric"]),
                "embedder": self._dict(m["embedder"]),
                "scorer": self._dict(m["scorer"]),
                "value": pa.array(
                    np.concatenate(m["value"]) if m["value"] else np.zeros(0), from_pandas=True
                ),
            }
        )
        o = self.o_cols
        ans_idx = np.concatenate(o["answer"]) if o["answer"] else np.zeros(0, np.int64)
        sid = np.concatenate(o["sample_id"]) if o["sample_id"] else np.zeros(0, np.int64)
        corr = np.concatenate(o["correct"]) if o["correct"] else np.zeros(0, np.int8)
        outcomes = pa.table(
            {
                "draw_id": np.concatenate(o["draw_id"]) if o["draw_id"] else np.zeros(0, np.int64),
                "aggregator": self._dict(o["aggregator"]),
                "embedder": self._dict(o["embedder"]),
                "scorer": self._dict(o["scorer"]),
                "sample_id": pa.array(sid, mask=sid == np.iinfo(np.int64).min),
                "answer": pa.DictionaryArray.from_arrays(
                    pa.array(np.maximum(ans_idx, 0).astype(np.int32), mask=ans_idx < 0),
                    pa.array(self.answers or [""], pa.string()),
                ),
                "correct": pa.array(corr == 1, mask=corr < 0),
            }
        )
        return draws, metrics, outcomes


def _add(
    rows: _Rows,
    pool: Pool,
    pool_code: int,
    ans_base: int,
    ids: np.ndarray,
    idx: np.ndarray,
    k: int,
    seed: int,
    ev: Evaluation,
    done: dict[tuple[str, str, str], np.ndarray],
) -> tuple[int, int]:
    """Append the rows of one (pool, k) that are not stored yet; returns (metric, outcome) rows."""
    n_m = n_o = 0
    new_draw = ~done[("", "", "")]
    if new_draw.any():
        rows.d_cols["draw_id"].append(ids[new_draw])
        rows.d_cols["pool"].append(np.full(int(new_draw.sum()), pool_code, np.int64))
        rows.d_cols["k"].append(np.full(int(new_draw.sum()), k, np.int64))
        rows.d_cols["rep"].append(np.arange(len(ids))[new_draw])
        rows.d_cols["seed"].append(np.full(int(new_draw.sum()), seed, np.int64))
        rows.d_cols["ids"].append(pool.sample_ids[idx[new_draw]].ravel())
    for (name, emb, sc), values in ev.metrics.items():
        keep = ~done[(name, emb, sc)]
        cnt = int(keep.sum())
        if not cnt:
            continue
        rows.m_cols["draw_id"].append(ids[keep])
        rows.m_cols["metric"].append(np.full(cnt, rows.code(name), np.int32))
        rows.m_cols["embedder"].append(np.full(cnt, rows.code(emb), np.int32))
        rows.m_cols["scorer"].append(np.full(cnt, rows.code(sc), np.int32))
        rows.m_cols["value"].append(values[keep].astype(np.float64))
        n_m += cnt
    ans_pos = np.array([i if a is not None else -1 for i, a in enumerate(pool.answers)], np.int64)
    for (name, emb, sc), pos in ev.picks.items():
        keep = ~done[(name, emb, sc)]
        cnt = int(keep.sum())
        if not cnt:
            continue
        p = pos[keep]
        member = np.where(p >= 0, idx[keep][np.arange(cnt), np.maximum(p, 0)], -1)
        has = member >= 0
        sid = np.where(has, pool.sample_ids[np.maximum(member, 0)], np.iinfo(np.int64).min)
        a = np.where(has, ans_pos[np.maximum(member, 0)], -1)
        corr = np.where(has, pool.correct[np.maximum(member, 0)], False).astype(np.int8)
        rows.o_cols["draw_id"].append(ids[keep])
        rows.o_cols["aggregator"].append(np.full(cnt, rows.code(name), np.int32))
        rows.o_cols["embedder"].append(np.full(cnt, rows.code(emb), np.int32))
        rows.o_cols["scorer"].append(np.full(cnt, rows.code(sc), np.int32))
        rows.o_cols["sample_id"].append(sid)
        rows.o_cols["answer"].append(np.where(a >= 0, a + ans_base, -1))
        rows.o_cols["correct"].append(corr)
        n_o += cnt
    return n_m, n_o


PRELOAD = [__name__]
"""Modules a worker's forkserver imports once."""

Done = dict[tuple[str, str, str], np.ndarray]


@dataclass
class _Job:
    """One pool's draws to evaluate: per size, (k, positions, draw ids, rows stored already)."""

    pool: Pool
    code: int
    ans_base: int
    sizes: list[tuple[int, np.ndarray, np.ndarray, Done]] = field(default_factory=list)


@dataclass
class _Task:
    """A batch of pools for one worker, with the batch's row buffers (stale draws, pool keys)."""

    rows: _Rows
    jobs: list[_Job]
    seed: int
    quality: str
    distinct_n: int
    pools_done: int


@dataclass
class _Filled:
    """A batch's rows, ready for one write, and its counts."""

    draws: pa.Table
    metrics: pa.Table
    outcomes: pa.Table
    stale: pa.Table
    sets: pa.Table
    counts: dict[str, int]
    pools_done: int


def _fill(task: _Task) -> _Filled:
    """Evaluate every draw of a batch and build its rows (in a worker process, or in-process)."""
    rows = task.rows
    counts = dict.fromkeys(("draws_written", "draws_existing", "metric_rows", "outcome_rows"), 0)
    for job in task.jobs:
        mats = precompute(job.pool, distinct_n=task.distinct_n)
        for k, idx, ids, done in job.sizes:
            ev = evaluate(job.pool, mats, idx, quality=task.quality)
            n_m, n_o = _add(
                rows, job.pool, job.code, job.ans_base, ids, idx, k, task.seed, ev, done
            )
            new = int((~done[("", "", "")]).sum())
            counts["draws_written"] += new
            counts["draws_existing"] += len(ids) - new
            counts["metric_rows"] += n_m
            counts["outcome_rows"] += n_o
    draws, metrics, outcomes = rows.tables()
    return _Filled(
        draws, metrics, outcomes, rows.stale_table(), rows.sets_table(), counts, task.pools_done
    )


def _write(
    con: duckdb.DuckDBPyConnection,
    out: _Filled,
    stats: dict,
    progress: Progress | None,
    total: int,
) -> None:
    """Store one evaluated batch in one transaction, add its counts, report progress."""
    dq.write_draw_batch(con, out.draws, out.metrics, out.outcomes, stale=out.stale, sets=out.sets)
    for key, value in out.counts.items():
        stats[key] += value
    if progress is not None:
        progress(out.pools_done, total, "pools")


def _resolve(requested: Sequence[str] | None, present: list[str], what: str) -> list[str]:
    """Requested names (all present ones when None); an unknown name is a one-line ValueError."""
    if requested is None:
        return present
    unknown = [r for r in requested if r not in present]
    if unknown:
        have = ", ".join(present) or "none"
        raise ValueError(f"{what} {unknown[0]!r} is not in the database (present: {have})")
    return list(dict.fromkeys(requested))


def run_draws(
    con: duckdb.DuckDBPyConnection,
    spec: DrawSpec,
    *,
    progress: Progress | None = None,
    notice: Callable[[str], None] = print,
    batch_pools: int = 100,
) -> dict:
    """Draw ``spec.reps`` distinct random k-subsets of every pool for each k in ``spec.sizes``
    (every subset once when the pool has at most ``reps``) and store all metrics.

    Batches of pools are evaluated in ``spec.workers`` processes (default: the CPU count; 1
    runs in-process) and written here in order, one transaction per batch, so the stored rows
    are the same whatever the number of workers. The spec was checked when it was made.
    Returns counts: draws written and already present, pools, pools skipped as too small per
    k, ungraded pools skipped, metric and outcome rows written.
    """
    n_workers = resolve_workers(spec.workers)
    sizes, reps, seed, run_id = list(spec.sizes), spec.reps, spec.seed, spec.run_id
    distinct_n, quality = spec.distinct_n, spec.quality
    scorers = _resolve(spec.scorers, catalog.scorer_names(con), "scorer")
    embedders = _resolve(spec.embedders, catalog.embedder_names(con), "embedder")
    runs = rn.sampled_run_ids(con) if run_id is None else [run_id]
    if run_id is not None and run_id not in rn.sampled_run_ids(con):
        raise ValueError(f"run {run_id!r} has no samples in the database")
    if not scorers:
        notice("no scorer in the database: wmaj and bst left out (run `divtui score`)")
    if not embedders:
        notice(
            "no embeddings in the database: cosine_sim, dpp, qual_dpp, near_dup_pairs and "
            "mbr_sem left out (run `divtui embed`)"
        )
    many = sum(len(dq.pool_keys(con, r)) for r in runs) > batch_pools
    with ordered(_fill, n_workers, PRELOAD, many=many) as runner:
        return _draw_runs(
            con,
            runner,
            runs=runs,
            sizes=sizes,
            reps=reps,
            seed=seed,
            scorers=scorers,
            embedders=embedders,
            distinct_n=distinct_n,
            quality=quality,
            progress=progress,
            notice=notice,
            batch_pools=batch_pools,
        )


def _draw_runs(
    con: duckdb.DuckDBPyConnection,
    runner: Ordered,
    *,
    runs: list[str],
    sizes: list[int],
    reps: int,
    seed: int,
    scorers: list[str],
    embedders: list[str],
    distinct_n: int,
    quality: str,
    progress: Progress | None,
    notice: Callable[[str], None],
    batch_pools: int,
) -> dict:
    """The draw stage's loop over runs and batches of pools (see :func:`run_draws`)."""
    all_pools = {r: dq.pool_keys(con, r) for r in runs}
    total = sum(len(v) for v in all_pools.values())
    stats: dict = {
        "draws_written": 0,
        "draws_existing": 0,
        "pools": total,
        "skipped_small": {k: 0 for k in sizes},
        "skipped_ungraded": 0,
        "metric_rows": 0,
        "outcome_rows": 0,
        "redrawn": 0,
    }
    lacking: Counter[str] = Counter()
    done_pools = 0
    for run in runs:
        rewards = {s: reward_lookup(con, s, run_id=run) for s in scorers}
        embeds = {e: embedding_lookup(con, e, run_id=run) for e in embedders}
        have = dq.stored_draws(con, run, seed, sizes)
        done_draws = have[0]
        done_rows = dq.done_rows(con, run, seed, sizes)
        for chunk in problem_chunks(all_pools[run], batch_pools):
            rows = _Rows()
            jobs: list[_Job] = []
            for pool in load_pools(con, run, chunk, rewards, embeds):
                done_pools += 1
                if not pool.graded:
                    stats["skipped_ungraded"] += 1
                    continue
                _note_lacking(pool, scorers, embedders, quality, lacking)
                fits = [k for k in sizes if k <= pool.n]
                for k in sizes:
                    if k > pool.n:
                        stats["skipped_small"][k] += 1
                if not fits:
                    continue
                idx_of = {
                    k: draw_indices(
                        seed, pool.run_id, pool.problem_id, pool.temperature, k, pool.n, reps
                    )
                    for k in fits
                }
                all_ids = {
                    k: dq.draw_ids_for_reps(
                        pool.run_id, pool.problem_id, pool.temperature, k, reps, seed
                    )
                    for k in fits
                }
                ids_of = {k: all_ids[k][: len(idx_of[k])] for k in fits}
                changed = {
                    k
                    for k in fits
                    if _changed(pool, have, ids_of[k], idx_of[k])
                    or _stored(done_draws, all_ids[k][len(idx_of[k]) :]).any()
                }
                rows.sets.extend(_draw_set(pool, k, seed, len(idx_of[k]), reps) for k in fits)
                todo = [
                    k
                    for k in fits
                    if k in changed
                    or not _all_done(pool, ids_of[k], quality, done_draws, done_rows, distinct_n)
                ]
                rows.stale.extend(
                    (pool.run_id, pool.problem_id, pool.temperature, k, seed) for k in changed
                )
                stats["redrawn"] += len(changed)
                stats["draws_existing"] += sum(len(ids_of[k]) for k in fits if k not in todo)
                if not todo:
                    continue
                code = len(rows.d_keys)
                rows.d_keys.append((pool.run_id, pool.problem_id, pool.temperature))
                ans_base = len(rows.answers)
                rows.answers.extend(pool.answers)
                job = _Job(pool, code, ans_base)
                for k in todo:
                    idx, ids = idx_of[k], ids_of[k]
                    # a changed pool's stored draws are deleted with this batch: nothing is done
                    rows_of = {} if k in changed else done_rows
                    keys = row_keys(pool, quality, distinct_n=distinct_n)
                    done = {key: _stored(rows_of.get(key), ids) for key in keys}
                    done[("", "", "")] = _stored(None if k in changed else done_draws, ids)
                    job.sizes.append((k, idx, ids, done))
                jobs.append(job)
            task = _Task(rows, jobs, seed, quality, distinct_n, done_pools)
            for out in runner.submit(task):
                _write(con, out, stats, progress, total)
    for out in runner.drain():
        _write(con, out, stats, progress, total)
    _emit_notices(stats, lacking, notice)
    return stats


def _draw_set(
    pool: Pool, k: int, seed: int, n_draws: int, reps: int
) -> tuple[str, str, float, int, int, int, int | None, int, bool]:
    """The draw_sets row of one (pool, k): C(n, k) (None past BIGINT) and whether every subset
    is drawn."""
    total = n_subsets(pool.n, k)
    big = None if total >= 2**63 else total
    return (
        pool.run_id,
        pool.problem_id,
        pool.temperature,
        k,
        seed,
        pool.n,
        big,
        n_draws,
        total <= reps,
    )


def _changed(
    pool: Pool, have: tuple[np.ndarray, np.ndarray, np.ndarray], ids: np.ndarray, idx: np.ndarray
) -> bool:
    """Whether a stored draw among ``ids`` (the pool's draws of one size, at positions ``idx``
    now) has other members: samples were added to or removed from the pool since it was drawn.

    ``have`` is dq.stored_draws: sorted draw_ids, member starts, flat members.
    """
    stored_ids, starts, flat = have
    if not len(stored_ids):
        return False
    pos = np.minimum(np.searchsorted(stored_ids, ids), len(stored_ids) - 1)
    present = stored_ids[pos] == ids
    if not present.any():
        return False
    want = pool.sample_ids[idx[present]]
    got = flat[starts[pos[present]][:, None] + np.arange(idx.shape[1])]
    return not np.array_equal(got, want)


def _note_lacking(
    pool: Pool, scorers: list[str], embedders: list[str], quality: str, lacking: Counter[str]
) -> None:
    """Count what a pool lacks, for one notice per missing input at the end."""
    if pool.mean_logprob is None:
        lacking["logprobs"] += 1
    for s in scorers:
        if s not in pool.rewards:
            lacking[f"scorer\x00{s}"] += 1
    for e in embedders:
        if e not in pool.embeddings:
            lacking[f"embedder\x00{e}"] += 1


def _emit_notices(stats: dict, lacking: Counter[str], notice: Callable[[str], None]) -> None:
    """One line per missing input, and one for redrawn pools."""
    if stats["redrawn"]:
        notice(
            f"{stats['redrawn']} (pool, k) had draws of an earlier state of the pool (samples "
            "added or removed since) or repeated subsets (drawn by an older divtui): redrawn, "
            "with their metric, outcome and pruning rows"
        )
    if stats["skipped_ungraded"]:
        notice(
            f"{stats['skipped_ungraded']} pools have ungraded samples and were skipped "
            "(run `divtui grade`)"
        )
    if lacking["logprobs"]:
        notice(
            f"{lacking['logprobs']} pools lack log-probs: mean_logprob and qual_dpp "
            "(log-prob quality) left out there"
        )
    for key, cnt in sorted(lacking.items()):
        if key.startswith("scorer\x00"):
            notice(
                f"scorer {key.split(chr(0))[1]}: {cnt} pools lack scores, "
                f"{'/'.join(vocab.needing(vocab.OUTCOMES, 'scorer'))} left out there"
            )
        elif key.startswith("embedder\x00"):
            notice(
                f"embedder {key.split(chr(0))[1]}: {cnt} pools lack embeddings, "
                f"embedding metrics and {' and '.join(vocab.needing(vocab.OUTCOMES, 'embedder'))} "
                "left out there"
            )
