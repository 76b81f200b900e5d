"""Pools (samples of one run, problem and temperature) loaded from the database, and their
per-pool precomputation: pairwise BLEU, cosine matrices and the n-gram incidence for distinct-n.

A pool of at most ``LARGE_POOL`` samples gets full (n, n) BLEU and cosine matrices that draws
index into. A larger pool never builds an (n, n) array: BLEU and cosine are computed only for
the pairs inside the draws asked for (from its split n-gram counts and unit vectors), distinct-n
from sparse n-gram lists, and every (draws, k, k) array is built in chunks of draws of at most
``PAIR_BUDGET`` bytes. Both ways give the same values (BLEU exactly, cosines to float rounding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from divtui.store import draws as dq

from .bleu import ngram_keys, token_ids
from .bleu_pairs import PoolNgrams, bleu_rows, bleu_within, pairwise_bleu, pool_ngrams_of_texts
from .metrics import DISTINCT_N, distinct_n_sparse, gather, gram_bits
from .metrics import distinct_n as distinct_n_bits

LARGE_POOL = 2048
"""Pools of more samples than this get no (n, n) matrix; their pairs are computed draw by draw."""

PAIR_BUDGET = 64 * 2**20
"""Bytes of one (draws, k, k) or (rows, n) float64 array: draws are evaluated in chunks under
this, and a large pool's all-pairs passes (neighbourhood quality) go in row blocks under it."""


@dataclass
class Lookup:
    """Values keyed by sample_id (sorted ids + aligned rows) for fast vectorised look-ups."""

    ids: np.ndarray
    values: np.ndarray

    @classmethod
    def build(cls, ids: np.ndarray, values: np.ndarray) -> Lookup:
        """Sort ``ids`` once so :meth:`take` is a binary search."""
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], values[order])

    def take(self, sample_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values for ``sample_ids``, mask of those found); missing rows hold garbage."""
        if len(self.ids) == 0:
            return np.zeros((len(sample_ids), *self.values.shape[1:])), np.zeros(
                len(sample_ids), bool
            )
        pos = np.clip(np.searchsorted(self.ids, sample_ids), 0, len(self.ids) - 1)
        return self.values[pos], self.ids[pos] == sample_ids


@dataclass
class Pool:
    """One pool's samples in idx order, with every per-sample input of the metrics."""

    run_id: str
    problem_id: str
    temperature: float
    sample_ids: np.ndarray
    idx: np.ndarray
    texts: list[str]
    answers: list[str | None]
    correct: np.ndarray
    graded: bool
    answer_class: np.ndarray
    mean_logprob: np.ndarray | None
    rewards: dict[str, np.ndarray] = field(default_factory=dict)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of samples in the pool."""
        return len(self.sample_ids)


@dataclass
class PairMatrices:
    """BLEU and cosines of a pool's pairs: full (n, n) matrices (``bleu``, ``cosine``) for a
    pool of at most LARGE_POOL samples, else the inputs to compute any pairs (``ngrams``,
    ``units``); the methods answer either way."""

    n: int
    bleu: np.ndarray | None = None
    cosine: dict[str, np.ndarray] = field(default_factory=dict)
    ngrams: PoolNgrams | None = None
    units: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def embedders(self) -> list[str]:
        """Embedders whose cosines are available."""
        return list(self.cosine or self.units)

    def bleu_of(self, idx: np.ndarray) -> np.ndarray:
        """(r, k, k) BLEU among the members of each draw ``idx`` (positions in the pool)."""
        if self.bleu is not None:
            return gather(self.bleu, idx)
        if self.ngrams is None:
            return np.zeros((*idx.shape, idx.shape[1]))
        return bleu_within(self.ngrams, idx)

    def cosine_of(self, embedder: str, idx: np.ndarray) -> np.ndarray:
        """(r, k, k) cosines of one embedder among the members of each draw."""
        if embedder in self.cosine:
            return gather(self.cosine[embedder], idx)
        g = self.units[embedder][idx]
        s = np.matmul(g, g.transpose(0, 2, 1))
        s = (s + s.transpose(0, 2, 1)) / 2.0
        diag = np.arange(idx.shape[1])
        s[:, diag, diag] = 1.0
        return s

    def bleu_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(B[rows, :], B[:, rows].T)``: BLEU of ``rows`` as hypotheses and as references."""
        if self.bleu is not None:
            return self.bleu[rows], self.bleu[:, rows].T
        if self.ngrams is None:
            return np.zeros((len(rows), self.n)), np.zeros((len(rows), self.n))
        return bleu_rows(self.ngrams, rows)

    def cosine_rows(self, embedder: str, rows: np.ndarray) -> np.ndarray:
        """Cosines (len(rows), n) of one embedder, with an exact 1 diagonal."""
        if embedder in self.cosine:
            return self.cosine[embedder][rows]
        u = self.units[embedder]
        s = u[rows] @ u.T
        s[np.arange(len(rows)), rows] = 1.0
        return s

    def row_block(self, k: int = 0) -> int:
        """How many rows (or draws of size k) one chunk takes under PAIR_BUDGET."""
        width = k * k if k else self.n
        return max(1, PAIR_BUDGET // (8 * max(1, width)))


def pair_matrices(
    pool: Pool, embedders: Sequence[str] | None = None, *, bleu: bool = True
) -> PairMatrices:
    """The pool's PairMatrices for ``embedders`` (default: all of the pool's) and BLEU."""
    names = list(pool.embeddings) if embedders is None else list(embedders)
    vecs = {e: pool.embeddings[e] for e in names if e in pool.embeddings}
    if pool.n > LARGE_POOL:
        ngrams = pool_ngrams_of_texts(pool.texts) if bleu else None
        return PairMatrices(pool.n, ngrams=ngrams, units=vecs)
    return PairMatrices(
        pool.n,
        bleu=pairwise_bleu(pool.texts) if bleu else np.zeros((pool.n, pool.n)),
        cosine={e: cosine_matrix(v) for e, v in vecs.items()},
    )


@dataclass
class PoolMatrices:
    """Per-pool precomputation shared by every draw of the pool."""

    pairs: PairMatrices
    gram_bits: np.ndarray | None
    gram_totals: np.ndarray
    distinct_n: int = DISTINCT_N
    gram_indptr: np.ndarray | None = None
    gram_ids: np.ndarray | None = None

    @property
    def bleu(self) -> np.ndarray | None:
        """The full (n, n) BLEU matrix of a pool of at most LARGE_POOL samples."""
        return self.pairs.bleu

    @property
    def cosine(self) -> dict[str, np.ndarray]:
        """The full (n, n) cosine matrices of a pool of at most LARGE_POOL samples."""
        return self.pairs.cosine

    def distinct_of(self, idx: np.ndarray) -> np.ndarray:
        """distinct-n of each draw ``idx`` (r, k)."""
        if self.gram_bits is not None:
            return distinct_n_bits(self.gram_bits, self.gram_totals, idx)
        if self.gram_indptr is None or self.gram_ids is None:
            raise ValueError("PoolMatrices has neither n-gram bitsets nor n-gram rows")
        return distinct_n_sparse(self.gram_indptr, self.gram_ids, self.gram_totals, idx)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def reward_lookup(
    con: duckdb.DuckDBPyConnection,
    scorer: str,
    *,
    run_id: str | None = None,
    sample_ids: list[int] | None = None,
) -> Lookup:
    """Rewards in [0, 1] of one scorer: raw when all its values are in [0, 1], else sigmoid."""
    ids, values = dq.scores_of(con, scorer, run_id=run_id, sample_ids=sample_ids)
    if not dq.scorer_is_probability(con, scorer):
        values = sigmoid(values)
    return Lookup.build(ids, values)


def embedding_lookup(
    con: duckdb.DuckDBPyConnection,
    embedder: str,
    *,
    run_id: str | None = None,
    sample_ids: list[int] | None = None,
) -> Lookup:
    """Stored float32 vectors of one embedder; raises ValueError on mixed dimensions."""
    ids, vec = dq.embeddings_of(con, embedder, run_id=run_id, sample_ids=sample_ids)
    if len(ids) == 0:
        return Lookup.build(ids, np.zeros((0, 0), dtype=np.float32))
    lens = np.diff(vec.offsets.to_numpy())
    if lens.min() != lens.max() or lens[0] == 0:
        raise ValueError(
            f"embedder {embedder!r}: vectors have lengths {int(lens.min())}..{int(lens.max())}; "
            "re-embed with one model (divtui embed)"
        )
    start = int(vec.offsets[0].as_py())
    flat = vec.values.to_numpy(zero_copy_only=False)[start : start + int(lens.sum())]
    mat = np.asarray(flat, dtype=np.float32).reshape(len(ids), int(lens[0]))
    return Lookup.build(ids, mat)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm in float64 (zero rows stay zero)."""
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


def pools_from_table(
    table: pa.Table,
    rewards: dict[str, Lookup],
    embeddings: dict[str, Lookup],
) -> list[Pool]:
    """Split a samples table ordered by (run, problem, temperature, idx) into Pools.

    A scorer or embedder missing for any sample of a pool is left out of that pool.
    """
    if table.num_rows == 0:
        return []
    sid = table.column("sample_id").to_numpy().astype(np.int64)
    runs = table.column("run_id").to_pylist()
    probs = table.column("problem_id").to_pylist()
    temps = table.column("temperature").to_numpy().astype(np.float64)
    idx = table.column("idx").to_numpy().astype(np.int64)
    texts = table.column("text").to_pylist()
    answers = table.column("answer").to_pylist()
    correct_raw = table.column("correct").to_pylist()
    cls_raw = table.column("answer_class").to_pylist()
    mlp = np.array(
        [np.nan if v is None else v for v in table.column("mean_logprob").to_pylist()],
        dtype=np.float64,
    )
    rew = {s: lk.take(sid) for s, lk in rewards.items()}
    emb = {e: lk.take(sid) for e, lk in embeddings.items()}
    cuts = [0]
    for i in range(1, len(sid)):
        if probs[i] != probs[i - 1] or temps[i] != temps[i - 1] or runs[i] != runs[i - 1]:
            cuts.append(i)
    cuts.append(len(sid))
    pools = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        corr = correct_raw[a:b]
        lp = mlp[a:b]
        pools.append(
            Pool(
                run_id=runs[a],
                problem_id=probs[a],
                temperature=float(temps[a]),
                sample_ids=sid[a:b],
                idx=idx[a:b],
                texts=texts[a:b],
                answers=answers[a:b],
                correct=np.array([bool(c) for c in corr], dtype=bool),
                graded=all(c is not None for c in corr),
                answer_class=np.array([-1 if c is None else c for c in cls_raw[a:b]], np.int64),
                mean_logprob=None if np.isnan(lp).any() else lp,
                rewards={s: v[a:b] for s, (v, ok) in rew.items() if ok[a:b].all()},
                embeddings={e: normalise(v[a:b]) for e, (v, ok) in emb.items() if ok[a:b].all()},
            )
        )
    return pools


def load_pools(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    problem_ids: list[str],
    rewards: dict[str, Lookup],
    embeddings: dict[str, Lookup],
) -> list[Pool]:
    """Pools of the given problems of one run, each in idx order."""
    return pools_from_table(dq.pool_samples(con, run_id, problem_ids), rewards, embeddings)


def load_samples(
    con: duckdb.DuckDBPyConnection,
    sample_ids: Sequence[int],
    *,
    scorers: Sequence[str] = (),
    embedders: Sequence[str] = (),
) -> Pool:
    """The given samples (of one pool) as a Pool, in the order given (a draw or an edited batch)."""
    ids = [int(s) for s in sample_ids]
    table = dq.samples_by_id(con, ids)
    found = table.column("sample_id").to_pylist()
    missing = sorted(set(ids) - set(found))
    if missing:
        raise ValueError(f"sample_id {missing[0]} is not in the database")
    order = {s: i for i, s in enumerate(found)}
    table = table.take(pa.array([order[s] for s in ids]))
    keys = set(
        zip(
            table.column("run_id").to_pylist(),
            table.column("problem_id").to_pylist(),
            table.column("temperature").to_pylist(),
            strict=True,
        )
    )
    if len(keys) > 1:
        raise ValueError("the samples come from more than one pool (run, problem, temperature)")
    rew = {s: reward_lookup(con, s, sample_ids=ids) for s in scorers}
    emb = {e: embedding_lookup(con, e, sample_ids=ids) for e in embedders}
    (pool,) = pools_from_table(table, rew, emb)
    return pool


def cosine_matrix(unit: np.ndarray) -> np.ndarray:
    """Cosine kernel of L2-normalised rows: symmetric, diagonal exactly 1."""
    s = unit @ unit.T
    s = (s + s.T) / 2.0
    np.fill_diagonal(s, 1.0)
    return s


def ngram_incidence(texts: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Distinct whitespace-token n-grams per text as CSR (indptr, ids), their count, totals."""
    ids, offsets = token_ids([t.split() for t in texts])
    totals = np.maximum(np.diff(offsets) - n + 1, 0)
    rows, gram = ngram_keys(ids, offsets, n)
    n_grams = int(gram.max()) + 1 if len(gram) else 0
    pairs = np.sort(pd.unique(rows * max(n_grams, 1) + gram))
    prow = pairs // max(n_grams, 1)
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(prow, minlength=len(texts)), out=indptr[1:])
    return indptr, pairs % max(n_grams, 1), n_grams, totals


def precompute(pool: Pool, *, distinct_n: int = DISTINCT_N, bleu: bool = True) -> PoolMatrices:
    """The per-pool matrices every draw of ``pool`` indexes into."""
    indptr, ids, n_grams, totals = ngram_incidence(pool.texts, distinct_n)
    large = pool.n > LARGE_POOL
    return PoolMatrices(
        pairs=pair_matrices(pool, bleu=bleu),
        gram_bits=None if large else gram_bits(indptr, ids, n_grams),
        gram_totals=totals,
        distinct_n=distinct_n,
        gram_indptr=indptr if large else None,
        gram_ids=ids if large else None,
    )
