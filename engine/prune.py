"""The pruning study: keep m medoids of a draw in a metric space, or m random members, and
run the aggregators on the kept set.

Spaces (distances between the members of a draw):
- ``sbert``: 1 - cosine of the chosen embedder's L2-normalised vectors;
- ``bleu``: 1 - symmetric sentence-BLEU on the 0..1 scale, 1 - (B + B^T) / 200 (B as sacrebleu
  gives it, 0..100);
- ``orm``: 1 - cosine of a reward model's final hidden states (embedder ``orm-hidden:<model>``,
  stored by ``divtui score --store-hidden``); unavailable where none is stored.

Medoids are PAM (engine.kmedoids) on the draw's distance matrix; the kept set is the medoids in
draw order, each member of the draw belonging to its nearest medoid (ties to the earliest). With
``weighted`` each medoid counts for its cluster's size: ``maj`` weighs a class by the summed
cluster sizes of its medoids, ``wmaj`` by reward x cluster size, ``mbr_lex``/``mbr_sem`` use the
size-weighted mean utility to the other kept members; ``bst`` and ``coverage`` are unchanged.
The random selector keeps m members drawn uniformly without replacement (seeded by the pruning
seed, the pool, k, m and the draw's seed and rep, so reruns give the same sets); it is never
weighted and does not depend on the space, so its rows carry metric ``''``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from divtui.store import catalog, stable_id
from divtui.store import draws as dq
from divtui.store import pruning as pq
from divtui.store import runs as rn
from divtui.store import vocabulary as vocab

from . import aggregators as ag
from .kmedoids import pam_many
from .metrics import TIE_DECIMALS
from .neighbours import NeighbourTally, nearest_other
from .pool import (
    PairMatrices,
    Pool,
    embedding_lookup,
    load_pools,
    load_samples,
    pair_matrices,
    reward_lookup,
)
from .specs import PruneSpec
from .workers import ordered, problem_chunks, resolve_workers

Progress = Callable[[int, int, str], None]
SPACES = ("sbert", "bleu", "orm")
SELECTORS = ("medoids", "random")
RANDOM_METRIC = ""
ORM_PREFIX = "orm-hidden:"
_MASK = 2**64 - 1


class PruneError(ValueError):
    """A pruning request that cannot be answered; one line."""


@dataclass
class Spaces:
    """The resolved inputs of a pruning run: which spaces, embedders and scorer it uses."""

    metrics: list[str]
    embedder: str | None
    scorer: str | None
    orm_embedder: str | None
    unavailable: dict[str, str]


def resolve_spaces(
    con: duckdb.DuckDBPyConnection,
    metrics: Sequence[str],
    *,
    scorer: str | None = None,
    embedder: str | None = None,
) -> Spaces:
    """Check the requested spaces against what the file holds; say why any is unavailable.

    The SBERT embedder defaults to the first stored one that is not ``orm-hidden:*``; the scorer
    (for wmaj/bst) to the first stored one. The orm space uses ``orm-hidden:<model>`` of the
    scorer ``orm:<model>`` when stored, else the first ``orm-hidden:*`` embedder.
    """
    unknown = [m for m in metrics if m not in SPACES]
    if unknown:
        raise PruneError(f"unknown metric {unknown[0]!r}; choose from {', '.join(SPACES)}")
    if not metrics:
        raise PruneError(f"no metric given; choose from {', '.join(SPACES)}")
    embedders = catalog.embedder_names(con)
    scorers = catalog.scorer_names(con)
    plain = [e for e in embedders if not e.startswith(ORM_PREFIX)]
    hidden = [e for e in embedders if e.startswith(ORM_PREFIX)]
    if embedder is not None and embedder not in embedders:
        raise PruneError(
            f"embedder {embedder!r} is not in the database (present: {', '.join(embedders) or 'none'})"
        )
    if scorer is not None and scorer not in scorers:
        raise PruneError(
            f"scorer {scorer!r} is not in the database (present: {', '.join(scorers) or 'none'})"
        )
    emb = embedder if embedder is not None else (plain[0] if plain else None)
    sc = scorer if scorer is not None else (scorers[0] if scorers else None)
    orm = None
    if hidden:
        own = f"{ORM_PREFIX}{sc.split(':', 1)[1]}" if sc and sc.startswith("orm:") else None
        orm = own if own in hidden else hidden[0]
    unavailable = {}
    if "sbert" in metrics and emb is None:
        unavailable["sbert"] = "no SBERT embeddings stored (run `divtui embed`)"
    if "orm" in metrics and orm is None:
        unavailable["orm"] = (
            "no reward-model hidden states stored "
            "(run `divtui score --scorer orm:MODEL --store-hidden`)"
        )
    chosen = [m for m in dict.fromkeys(metrics) if m not in unavailable]
    return Spaces(chosen, emb, sc, orm, unavailable)


def bleu_distance(bleu: np.ndarray) -> np.ndarray:
    """1 - symmetric sentence-BLEU on the 0..1 scale for BLEU matrices (..., n, n) in 0..100."""
    d = 1.0 - (bleu + np.swapaxes(bleu, -1, -2)) / 200.0
    n = d.shape[-1]
    d[..., np.arange(n), np.arange(n)] = 0.0
    return np.clip(d, 0.0, 1.0)


def cosine_distance(cos: np.ndarray) -> np.ndarray:
    """1 - cosine, zero diagonal, never negative (float noise of near-duplicates)."""
    d = 1.0 - cos
    n = d.shape[-1]
    d[..., np.arange(n), np.arange(n)] = 0.0
    return np.maximum(d, 0.0)


@dataclass
class DrawBatch:
    """Draws of one size k gathered for vectorised pruning: every per-member input, (B, k)."""

    draw_ids: np.ndarray
    members: np.ndarray
    classes: np.ndarray
    correct: np.ndarray
    reward: np.ndarray | None
    bleu: np.ndarray
    cos: np.ndarray | None
    orm_cos: np.ndarray | None
    random: dict[int, np.ndarray]

    def distances(self, metric: str) -> np.ndarray:
        """(B, k, k) distances of each draw in one space."""
        if metric == "bleu":
            return bleu_distance(self.bleu)
        mat = self.cos if metric == "sbert" else self.orm_cos
        if mat is None:
            raise PruneError(f"metric {metric!r} is unavailable for these draws")
        return cosine_distance(mat)


def random_subsets(
    seed: int,
    run_id: str,
    problem_id: str,
    temperature: float,
    k: int,
    m: int,
    draw_seed: int,
    reps: np.ndarray,
) -> np.ndarray:
    """Positions (len(reps), m) in draw order of the random m-subset of each rep's draw.

    Row r of the generator belongs to rep r whatever the other reps, so the UI's single draw
    gets the same subset as the bulk run.
    """
    key = stable_id("prune-random", run_id, problem_id, float(temperature), k, m, draw_seed)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & _MASK, key & _MASK]))
    u = rng.random((int(reps.max()) + 1, k))
    return np.sort(np.argsort(u, axis=1, kind="stable")[:, :m], axis=1)[reps]


def medoid_sets(d: np.ndarray, ms: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per m: (kept positions (B, m) in draw order, cluster label of each member (B, k)).

    Labels index the kept positions; every medoid labels itself, other members go to their
    nearest medoid (ties to the earliest in draw order).
    """
    out = {}
    rows = np.arange(d.shape[0])[:, None]
    for m, med in pam_many(d, list(ms), dtype=np.float32).items():
        kept = np.sort(med, axis=1)
        labels = d[rows, kept].argmin(axis=1)
        labels[rows, kept] = np.arange(m)[None, :]
        out[m] = (kept, labels)
    return out


def cluster_sizes(labels: np.ndarray, m: int) -> np.ndarray:
    """Members per cluster (B, m) from labels (B, k)."""
    return (labels[:, :, None] == np.arange(m)[None, None, :]).sum(axis=1)


def weighted_mbr(sub: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """MBR pick on (B, m, m) utilities: highest (weighted) mean utility to the other members.

    With weights w the score of i is sum_{j != i} w_j U_ij / sum_{j != i} w_j (0 when m == 1);
    unit weights give ``aggregators.mbr``. Ties to the earliest.
    """
    if weights is None:
        return ag.mbr(sub)
    m = sub.shape[-1]
    if m < 2:
        return np.zeros(sub.shape[0], dtype=np.int64)
    w = weights.astype(np.float64)
    diag = np.diagonal(sub, axis1=-2, axis2=-1)
    num = (sub * w[:, None, :]).sum(axis=-1) - diag * w
    den = w.sum(axis=-1, keepdims=True) - w
    score = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return np.argmax(np.round(score, TIE_DECIMALS), axis=1)


def aggregate_kept(
    batch: DrawBatch, kept: np.ndarray, weights: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Each aggregator's pick on the kept members, as a position in the draw (B,), -1 for none."""
    rows = np.arange(kept.shape[0])[:, None]
    classes = batch.classes[rows, kept]
    picks: dict[str, np.ndarray] = {}
    w = None if weights is None else weights.astype(np.float64)
    picks[vocab.MAJ] = ag.vote(classes, w)
    if batch.reward is not None:
        r = batch.reward[rows, kept]
        picks[vocab.WMAJ] = ag.vote(classes, r if w is None else r * w)
        picks[vocab.BST] = ag.bst(r)
    sub_rows = rows[:, :, None]
    picks[vocab.MBR_LEX] = weighted_mbr(batch.bleu[sub_rows, kept[:, :, None], kept[:, None, :]], w)
    if batch.cos is not None:
        picks[vocab.MBR_SEM] = weighted_mbr(
            batch.cos[sub_rows, kept[:, :, None], kept[:, None, :]], w
        )
    picks[vocab.COVERAGE] = ag.coverage(batch.correct[rows, kept])[1]
    return {
        name: np.where(p >= 0, kept[np.arange(len(p)), np.maximum(p, 0)], -1)
        for name, p in picks.items()
    }


GroupPicks = dict[tuple[str, int, bool, str], dict[str, np.ndarray]]


def prune_batch(
    batch: DrawBatch, metrics: Sequence[str], ms: Sequence[int], weighted: bool
) -> tuple[GroupPicks, dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]]:
    """Picks per (metric, m, weighted, selector) and the medoid sets per (metric, m)."""
    out: GroupPicks = {}
    sets = {}
    for metric in metrics:
        for m, (kept, labels) in medoid_sets(batch.distances(metric), ms).items():
            sets[(metric, m)] = (kept, labels)
            w = cluster_sizes(labels, m) if weighted else None
            out[(metric, m, weighted, "medoids")] = aggregate_kept(batch, kept, w)
    for m in ms:
        out[(RANDOM_METRIC, m, False, "random")] = aggregate_kept(batch, batch.random[m], None)
    return out, sets


@dataclass
class PoolInputs:
    """One pool's per-sample inputs and pair matrices for pruning and neighbourhood quality.

    ``pairs`` holds BLEU and the cosines of ``embedder`` (sbert) and ``orm_embedder`` (orm)
    where the pool has them: full matrices, or pairs computed on demand for a large pool.
    """

    pool: Pool
    pairs: PairMatrices
    embedder: str | None
    orm_embedder: str | None
    reward: np.ndarray | None

    def embedder_of(self, metric: str) -> str | None:
        """The embedder behind a cosine space (sbert or orm) when this pool has its vectors."""
        name = self.embedder if metric == "sbert" else self.orm_embedder
        return name if name is not None and name in self.pairs.embedders else None


def pool_inputs(pool: Pool, spaces: Spaces) -> PoolInputs:
    """BLEU and cosines of a pool for the chosen embedder, orm embedder and scorer."""
    wanted = [e for e in (spaces.embedder, spaces.orm_embedder) if e is not None]
    return PoolInputs(
        pool=pool,
        pairs=pair_matrices(pool, wanted),
        embedder=spaces.embedder,
        orm_embedder=spaces.orm_embedder,
        reward=pool.rewards.get(spaces.scorer) if spaces.scorer else None,
    )


def space_matrix(inp: PoolInputs, metric: str) -> np.ndarray | None:
    """The pool's (n, n) distance matrix in one space, or None when its input is missing
    (or the pool is too large for full matrices: see :func:`nearest_in_space`)."""
    pairs = inp.pairs
    if metric == "bleu":
        return None if pairs.bleu is None else bleu_distance(pairs.bleu)
    emb = inp.embedder_of(metric)
    return None if emb is None or emb not in pairs.cosine else cosine_distance(pairs.cosine[emb])


def nearest_in_space(inp: PoolInputs, metric: str) -> np.ndarray | None:
    """Each sample's nearest other sample of the pool in one space (ties to the lowest idx),
    or None when the space's input is missing; row blocks for a pool without full matrices."""
    if not space_matrix_available(inp, metric):
        return None
    full = space_matrix(inp, metric)
    if full is not None:
        return nearest_other(full)
    pairs, n = inp.pairs, inp.pool.n
    out = np.empty(n, dtype=np.int64)
    step = pairs.row_block()
    for a in range(0, n, step):
        rows = np.arange(a, min(n, a + step))
        if metric == "bleu":
            as_hyp, as_ref = pairs.bleu_rows(rows)
            d = np.clip(1.0 - (as_hyp + as_ref) / 200.0, 0.0, 1.0)
        else:
            d = np.maximum(1.0 - pairs.cosine_rows(str(inp.embedder_of(metric)), rows), 0.0)
        d[np.arange(len(rows)), rows] = np.inf
        out[rows] = d.argmin(axis=1)
    return out


def gather_batch(
    inp: PoolInputs, pos: np.ndarray, draw_ids: np.ndarray, random: dict[int, np.ndarray]
) -> DrawBatch:
    """A DrawBatch of draws ``pos`` (B, k) (positions in the pool) of one pool."""
    emb, orm = inp.embedder_of("sbert"), inp.embedder_of("orm")
    return DrawBatch(
        draw_ids=draw_ids,
        members=pos,
        classes=inp.pool.answer_class[pos],
        correct=inp.pool.correct[pos],
        reward=None if inp.reward is None else inp.reward[pos],
        bleu=inp.pairs.bleu_of(pos),
        cos=None if emb is None else inp.pairs.cosine_of(emb, pos),
        orm_cos=None if orm is None else inp.pairs.cosine_of(orm, pos),
        random=random,
    )


def concat_batches(batches: list[DrawBatch], base: list[int]) -> DrawBatch:
    """Stack batches of one k (same inputs present); members become global positions."""

    def cat(name: str) -> np.ndarray | None:
        parts = [getattr(b, name) for b in batches]
        return None if parts[0] is None else np.concatenate(parts)

    def cat_all(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in batches])

    ms = batches[0].random.keys()
    return DrawBatch(
        draw_ids=np.concatenate([b.draw_ids for b in batches]),
        members=np.concatenate([b.members + o for b, o in zip(batches, base, strict=True)]),
        classes=cat_all("classes"),
        correct=cat_all("correct"),
        reward=cat("reward"),
        bleu=cat_all("bleu"),
        cos=cat("cos"),
        orm_cos=cat("orm_cos"),
        random={m: np.concatenate([b.random[m] for b in batches]) for m in ms},
    )


class _Rows:
    """Column buffers of prune_outcomes rows for one write, with dictionary-coded strings."""

    def __init__(self, embedder: str, scorer: str) -> None:
        """Empty buffers; every row carries this run's embedder and scorer names."""
        self.embedder, self.scorer = embedder, scorer
        self.cols: dict[str, list[np.ndarray]] = defaultdict(list)
        self.names: dict[str, int] = {}
        self.sample_ids: list[np.ndarray] = []
        self.answers: list[str | None] = []
        self.correct: list[np.ndarray] = []
        self.n = 0

    def code(self, s: str) -> int:
        """Dictionary code of a string."""
        return self.names.setdefault(s, len(self.names))

    def pools(self, pools: list[Pool]) -> None:
        """Register the pools whose global positions the picks refer to (concatenated order)."""
        self.sample_ids = [p.sample_ids for p in pools]
        self.answers = [a for p in pools for a in p.answers]
        self.correct = [p.correct for p in pools]

    def add(
        self,
        key: tuple[str, int, bool, str],
        draw_ids: np.ndarray,
        members: np.ndarray,
        picks: dict,
    ) -> None:
        """Rows of one group for draws ``draw_ids`` (already filtered) and their picks."""
        metric, m, weighted, selector = key
        cnt = len(draw_ids)
        if not cnt:
            return
        rows = np.arange(cnt)
        for agg, pos in picks.items():
            g = np.where(pos >= 0, members[rows, np.maximum(pos, 0)], -1)
            c = self.cols
            c["draw_id"].append(draw_ids)
            c["metric"].append(np.full(cnt, self.code(metric), np.int32))
            c["m"].append(np.full(cnt, m, np.int32))
            c["weighted"].append(np.full(cnt, weighted))
            c["selector"].append(np.full(cnt, self.code(selector), np.int32))
            c["aggregator"].append(np.full(cnt, self.code(agg), np.int32))
            c["pick"].append(g)
            self.n += cnt

    def table(self) -> pa.Table:
        """The buffered rows as an Arrow table in prune_outcomes' columns."""
        names = pa.array(sorted(self.names, key=self.names.__getitem__), pa.string())

        def dict_col(key: str) -> pa.DictionaryArray:
            return pa.DictionaryArray.from_arrays(pa.array(np.concatenate(self.cols[key])), names)

        pick = np.concatenate(self.cols["pick"])
        has = pick >= 0
        safe = np.maximum(pick, 0)
        sids = np.concatenate(self.sample_ids)
        corr = np.concatenate(self.correct)
        n = len(pick)
        answers = pa.array(self.answers, pa.string())
        no_answer = ~has | np.asarray(answers.is_null().to_numpy(zero_copy_only=False))[safe]
        return pa.table(
            {
                "draw_id": np.concatenate(self.cols["draw_id"]),
                "metric": dict_col("metric"),
                "m": np.concatenate(self.cols["m"]),
                "weighted": np.concatenate(self.cols["weighted"]),
                "selector": dict_col("selector"),
                "aggregator": dict_col("aggregator"),
                "embedder": _constant(self.embedder, n),
                "scorer": _constant(self.scorer, n),
                "sample_id": pa.array(sids[safe], mask=~has),
                "answer": pa.DictionaryArray.from_arrays(
                    pa.array(safe.astype(np.int32), mask=no_answer), answers
                ),
                "correct": np.where(has, corr[safe], False),
            }
        )


def _constant(value: str, n: int) -> pa.DictionaryArray:
    """A string column of n copies of one value, dictionary-coded."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value]))


def _positions(pool: Pool, sample_ids: pa.ListArray) -> np.ndarray:
    """Pool positions (B, k) of the draws' sample_ids (equal-size lists)."""
    k = len(sample_ids[0])
    flat = sample_ids.flatten().to_numpy().astype(np.int64)
    order = np.argsort(pool.sample_ids)
    pos = order[np.searchsorted(pool.sample_ids[order], flat)]
    return pos.reshape(-1, k)


def _missing(done: dict, keys: list, draw_ids: np.ndarray) -> dict:
    """Per group key: mask of draws that lack stored rows."""
    out = {}
    for key in keys:
        have = done.get(key)
        if have is None or not len(have):
            out[key] = np.ones(len(draw_ids), bool)
            continue
        p = np.minimum(np.searchsorted(have, draw_ids), len(have) - 1)
        out[key] = have[p] != draw_ids
    return out


def run_prune(
    con: duckdb.DuckDBPyConnection,
    spec: PruneSpec,
    *,
    progress: Progress | None = None,
    notice: Callable[[str], None] = print,
    batch_pools: int = 200,
) -> dict[str, Any]:
    """Prune every stored draw of the spec's sizes to m medoids and m random members, all m.

    Also tallies each space's neighbourhood quality over every graded pool. Rows already stored
    are skipped, so an interrupted run resumes and a rerun adds nothing. Chunks of pools are
    pruned in ``spec.workers`` processes (default: the CPU count; 1 runs in-process) and
    written here in order, so the rows and tallies are the same whatever the number of
    workers. The spec was checked when it was made. Returns counts and the neighbourhood rows.
    """
    sizes, keep, weighted, seed = list(spec.sizes), list(spec.keep), spec.weighted, spec.seed
    run_id, workers = spec.run_id, spec.workers
    metrics, scorer, embedder = list(spec.metrics), spec.scorer, spec.embedder
    spaces = resolve_spaces(con, metrics, scorer=scorer, embedder=embedder)
    for metric, why in spaces.unavailable.items():
        notice(f"metric {metric} unavailable: {why}")
    if not spaces.metrics:
        raise PruneError("none of the requested metrics is available")
    runs = rn.sampled_run_ids(con) if run_id is None else [run_id]
    if run_id is not None and run_id not in rn.sampled_run_ids(con):
        raise PruneError(f"run {run_id!r} has no samples in the database")
    if pq.count_draws(con, run_id, sizes) == 0:
        raise PruneError(
            f"no draws of size {','.join(map(str, sizes))}; run `divtui draw --sizes ...` first"
        )
    big = [m for m in keep if m > max(sizes)]
    if big:
        notice(f"m={big[0]} exceeds every draw size; such m are left out")
    emb_name, sc_name = spaces.embedder or "", spaces.scorer or ""
    if spaces.scorer is None:
        needed = vocab.needing(vocab.AGGREGATORS, "scorer")
        notice(f"no scorer in the database: {vocab.listed(needed)} left out")
    if spaces.embedder is None:
        needed = vocab.needing(vocab.AGGREGATORS, "embedder")
        notice(f"no SBERT embedder in the database: {vocab.listed(needed)} left out")
    stats: dict[str, Any] = {
        "draws": 0,
        "draws_skipped": 0,
        "rows_written": 0,
        "pools": 0,
        "skipped_ungraded": 0,
        "metrics": spaces.metrics,
        "unavailable": spaces.unavailable,
        "embedder": spaces.embedder,
        "scorer": spaces.scorer,
        "orm_embedder": spaces.orm_embedder,
        "lacking": 0,
    }
    tally = NeighbourTally()
    total = sum(len(dq.pool_keys(con, r)) for r in runs)
    done_pools = 0

    def store(out: _PruneDone) -> None:
        """Write one chunk's rows (one transaction), add its tallies and counts in order."""
        if out.n:
            pq.write_prune_rows(con, out.table)
            stats["rows_written"] += out.n
        for run_id, metric, nn, classes, correct in out.nearest:
            tally.add_nearest(run_id, metric, nn, classes, correct)
        for key, value in out.counts.items():
            stats[key] += value
        if progress is not None:
            progress(out.pools_done, total, "pools")

    many = total > batch_pools
    with ordered(_prune_task, resolve_workers(workers), PRELOAD, many=many) as runner:
        for run in runs:
            rewards = (
                {spaces.scorer: reward_lookup(con, spaces.scorer, run_id=run)}
                if spaces.scorer
                else {}
            )
            embeds = {
                e: embedding_lookup(con, e, run_id=run)
                for e in (spaces.embedder, spaces.orm_embedder)
                if e is not None
            }
            done = pq.done_groups(con, run, sizes, emb_name, sc_name)
            for chunk in problem_chunks(dq.pool_keys(con, run), batch_pools):
                pools = load_pools(con, run, chunk, rewards, embeds)
                draws = pq.draws_of_pools(con, run, chunk, sizes)
                done_pools += len(pools)
                task = _PruneTask(
                    pools,
                    draws,
                    spaces,
                    keep,
                    weighted,
                    seed,
                    _done_among(done, draws),
                    emb_name,
                    sc_name,
                    done_pools,
                )
                for out in runner.submit(task):
                    store(out)
        for out in runner.drain():
            store(out)
    if stats["lacking"]:
        notice(
            f"{stats['lacking']} pools lack the scorer or an embedder for some samples: "
            "their missing aggregators and spaces are left out there"
        )
    if stats["skipped_ungraded"]:
        notice(f"{stats['skipped_ungraded']} pools have ungraded samples and were skipped")
    stats["neighbours"] = tally.rows()
    return stats


PRELOAD = [__name__]
"""Modules a worker's forkserver imports once."""


@dataclass
class _PruneTask:
    """One chunk of pools with their draws and the stored groups among those draws."""

    pools: list[Pool]
    draws: pa.Table
    spaces: Spaces
    keep: list[int]
    weighted: bool
    seed: int
    done: dict
    emb_name: str
    sc_name: str
    pools_done: int


@dataclass
class _PruneDone:
    """A chunk's prune rows, its pools' nearest neighbours per space (in pool order) and counts."""

    table: pa.Table | None
    n: int
    nearest: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]
    counts: dict[str, int]
    pools_done: int


class _NearestLog:
    """Records what a NeighbourTally would add, so the writer adds it in pool order."""

    def __init__(self) -> None:
        """Empty."""
        self.entries: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]] = []

    def add_nearest(
        self, run_id: str, space: str, nn: np.ndarray, classes: np.ndarray, correct: np.ndarray
    ) -> None:
        """Keep one pool's nearest neighbours in one space."""
        self.entries.append((run_id, space, nn, classes, correct))


def _done_among(done: dict, draws: pa.Table) -> dict:
    """The stored draw ids of each group, kept only where they are among ``draws``."""
    ids = np.sort(draws.column("draw_id").to_numpy().astype(np.int64))
    out = {}
    for key, have in done.items():
        if len(have) and len(ids):
            pos = np.minimum(np.searchsorted(ids, have), len(ids) - 1)
            out[key] = have[ids[pos] == have]
    return out


def _prune_task(task: _PruneTask) -> _PruneDone:
    """Prune one chunk (in a worker process, or in-process) and return what the writer stores."""
    log = _NearestLog()
    counts = dict.fromkeys(("pools", "skipped_ungraded", "lacking", "draws", "draws_skipped"), 0)
    rows = _prune_chunk(
        task.pools,
        task.draws,
        task.spaces,
        task.keep,
        task.weighted,
        task.seed,
        task.done,
        log,
        counts,
        task.emb_name,
        task.sc_name,
    )
    table = rows.table() if rows.n else None
    return _PruneDone(table, rows.n, log.entries, counts, task.pools_done)


def _prune_chunk(
    pools: list[Pool],
    draws: pa.Table,
    spaces: Spaces,
    keep: list[int],
    weighted: bool,
    seed: int,
    done: dict,
    tally: NeighbourTally | _NearestLog,
    stats: dict[str, Any],
    emb_name: str,
    sc_name: str,
) -> _Rows:
    """Neighbour tallies and prune rows of one chunk of pools (batched across pools per k)."""
    by_pool: dict[tuple[str, float], list[int]] = defaultdict(list)
    probs = draws.column("problem_id").to_pylist()
    temps = draws.column("temperature").to_pylist()
    for i, pool_key in enumerate(zip(probs, temps, strict=True)):
        by_pool[pool_key].append(i)
    kk = draws.column("k").to_numpy()
    reps = draws.column("rep").to_numpy().astype(np.int64)
    dseeds = draws.column("seed").to_numpy().astype(np.int64)
    dids = draws.column("draw_id").to_numpy().astype(np.int64)
    sids = draws.column("sample_ids")
    groups: dict[tuple, list[tuple[int, DrawBatch]]] = defaultdict(list)
    kept_pools: list[Pool] = []
    base = 0
    for pool in pools:
        stats["pools"] += 1
        if not pool.graded:
            stats["skipped_ungraded"] += 1
            continue
        inp = pool_inputs(pool, spaces)
        for metric in spaces.metrics:
            nn = nearest_in_space(inp, metric)
            if nn is not None:
                tally.add_nearest(pool.run_id, metric, nn, pool.answer_class, pool.correct)
        present = [m for m in spaces.metrics if space_matrix_available(inp, m)]
        if (sc_name and inp.reward is None) or len(present) < len(spaces.metrics):
            stats["lacking"] += 1
        rows_of = by_pool.get((pool.problem_id, pool.temperature), [])
        if not rows_of:
            continue
        kept_pools.append(pool)
        offset = base
        base += pool.n
        for k in sorted({int(kk[i]) for i in rows_of}):
            ms = [m for m in keep if m <= k]
            if not ms:
                continue
            sel = np.array([i for i in rows_of if kk[i] == k], dtype=np.int64)
            keys = [(mt, m, weighted, "medoids") for mt in present for m in ms]
            keys += [(RANDOM_METRIC, m, False, "random") for m in ms]
            missing = _missing(done, keys, dids[sel])
            todo = np.logical_or.reduce([missing[key] for key in keys])
            stats["draws"] += int(todo.sum())
            stats["draws_skipped"] += int((~todo).sum())
            if not todo.any():
                continue
            sel = sel[todo]
            pos = _positions(pool, sids.take(pa.array(sel)).combine_chunks())
            random = {m: np.empty((len(sel), m), dtype=np.int64) for m in ms}
            for ds in np.unique(dseeds[sel]):
                rows = dseeds[sel] == ds
                for m in ms:
                    random[m][rows] = random_subsets(
                        seed,
                        pool.run_id,
                        pool.problem_id,
                        pool.temperature,
                        k,
                        m,
                        int(ds),
                        reps[sel][rows],
                    )
            batch = gather_batch(inp, pos, dids[sel], random)
            sig = (k, tuple(present), inp.reward is not None, inp.embedder_of("sbert") is not None)
            groups[sig].append((offset, batch))
    out = _Rows(emb_name, sc_name)
    out.pools(kept_pools)
    for (k, present, _, _), items in groups.items():
        big = concat_batches([b for _, b in items], [o for o, _ in items])
        ms = [m for m in keep if m <= k]
        picks, _ = prune_batch(big, list(present), ms, weighted)
        missing = _missing(done, list(picks), big.draw_ids)
        for key, by_agg in picks.items():
            keep_rows = missing[key]
            out.add(
                key,
                big.draw_ids[keep_rows],
                big.members[keep_rows],
                {a: p[keep_rows] for a, p in by_agg.items()},
            )
    return out


def space_matrix_available(inp: PoolInputs, metric: str) -> bool:
    """Whether the pool has the input of a space."""
    return metric == "bleu" or inp.embedder_of(metric) is not None


def neighbourhood_quality(
    con: duckdb.DuckDBPyConnection,
    *,
    metrics: Sequence[str] = SPACES,
    run_id: str | None = None,
    embedder: str | None = None,
    scorer: str | None = None,
    temperature: float | None = None,
) -> list[dict[str, Any]]:
    """Neighbourhood-quality rows per (run, space) over every graded pool (of ``temperature``
    when given), without pruning."""
    spaces = resolve_spaces(con, metrics, scorer=scorer, embedder=embedder)
    tally = NeighbourTally()
    runs = rn.sampled_run_ids(con) if run_id is None else [run_id]
    for run in runs:
        embeds = {
            e: embedding_lookup(con, e, run_id=run)
            for e in (spaces.embedder, spaces.orm_embedder)
            if e is not None
        }
        keys = dq.pool_keys(con, run)
        problems = list(dict.fromkeys(p for _, p, t, _ in keys if temperature in (None, t)))
        for start in range(0, len(problems), 100):
            for pool in load_pools(con, run, problems[start : start + 100], {}, embeds):
                if not pool.graded or temperature not in (None, pool.temperature):
                    continue
                inp = pool_inputs(pool, spaces)
                for metric in spaces.metrics:
                    nn = nearest_in_space(inp, metric)
                    if nn is not None:
                        tally.add_nearest(run, metric, nn, pool.answer_class, pool.correct)
    return tally.rows()


def prune_draw(
    con: duckdb.DuckDBPyConnection,
    draw_id: int,
    *,
    metric: str,
    m: int,
    weighted: bool = False,
    seed: int = 0,
    scorer: str | None = None,
    embedder: str | None = None,
) -> dict[str, Any]:
    """One draw pruned to m medoids in ``metric`` and to m random members, for the UI.

    Returns the medoids and random members (positions in draw order and sample_ids), each
    member's cluster label (position of its medoid in draw order) and cluster sizes, and each
    aggregator's pick on both kept sets; the same picks ``run_prune`` stores for this draw.
    """
    row = dq.draw_row(con, draw_id)
    if row is None:
        raise PruneError(f"draw {draw_id} is not in the database")
    return prune_members(
        con,
        {**row, "draw_id": draw_id},
        metric=metric,
        m=m,
        weighted=weighted,
        seed=seed,
        scorer=scorer,
        embedder=embedder,
    )


def prune_members(
    con: duckdb.DuckDBPyConnection,
    row: dict[str, Any],
    *,
    metric: str,
    m: int,
    weighted: bool = False,
    seed: int = 0,
    scorer: str | None = None,
    embedder: str | None = None,
) -> dict[str, Any]:
    """:func:`prune_draw` for any batch of one pool given as a draw row: ``sample_ids`` (batch
    order), ``run_id``, ``problem_id``, ``temperature``, ``seed`` and ``rep`` (which seed its
    random subset), ``draw_id`` (None for a fresh batch the UI drew, not stored)."""
    draw_id = row.get("draw_id")
    what = "this batch" if draw_id is None else f"draw {draw_id}"
    spaces = resolve_spaces(con, [metric], scorer=scorer, embedder=embedder)
    if metric in spaces.unavailable:
        raise PruneError(f"metric {metric} unavailable: {spaces.unavailable[metric]}")
    k = len(row["sample_ids"])
    if not 1 <= m <= k:
        raise PruneError(f"m={m} must lie in 1..{k} (the draw's size)")
    embs = [e for e in (spaces.embedder, spaces.orm_embedder) if e is not None]
    pool = load_samples(
        con, row["sample_ids"], scorers=[spaces.scorer] if spaces.scorer else [], embedders=embs
    )
    if not pool.graded:
        raise PruneError(f"{what} has ungraded samples (run `divtui grade`)")
    inp = pool_inputs(pool, spaces)
    if not space_matrix_available(inp, metric):
        raise PruneError(f"metric {metric} unavailable: {what}'s samples lack its vectors")
    whole = np.arange(k)[None, :]
    random = random_subsets(
        seed,
        row["run_id"],
        row["problem_id"],
        row["temperature"],
        k,
        m,
        int(row["seed"]),
        np.array([int(row["rep"])]),
    )
    batch = gather_batch(inp, whole, np.array([draw_id or 0]), {m: random})
    picks, sets = prune_batch(batch, [metric], [m], weighted)
    kept, labels = sets[(metric, m)]

    def described(by_agg: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        out = {}
        for agg, pos in by_agg.items():
            p = int(pos[0])
            out[agg] = {
                "position": p,
                "sample_id": None if p < 0 else int(pool.sample_ids[p]),
                "answer": None if p < 0 else pool.answers[p],
                "correct": p >= 0 and bool(pool.correct[p]),
            }
        return out

    return {
        "draw_id": draw_id,
        "metric": metric,
        "m": m,
        "weighted": weighted,
        "embedder": spaces.embedder,
        "scorer": spaces.scorer,
        "orm_embedder": spaces.orm_embedder,
        "sample_ids": [int(s) for s in pool.sample_ids],
        "medoids": [int(p) for p in kept[0]],
        "labels": [int(kept[0][lab]) for lab in labels[0]],
        "sizes": [int(s) for s in cluster_sizes(labels, m)[0]],
        "random": [int(p) for p in random[0]],
        "picks": {
            "medoids": described(picks[(metric, m, weighted, "medoids")]),
            "random": described(picks[(RANDOM_METRIC, m, False, "random")]),
        },
    }
