"""Pools (samples of one run, problem and temperature) loaded from the database, and their
per-pool precomputation: pairwise BLEU, cosine matrices and the n-gram incidence for distinct-n.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from divtui.store import draw_queries as dq

from .bleu import ngram_keys, pairwise_bleu, token_ids
from .metrics import DISTINCT_N, gram_bits


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
class PoolMatrices:
    """Per-pool precomputation shared by every draw of the pool."""

    bleu: np.ndarray
    cosine: dict[str, np.ndarray]
    gram_bits: np.ndarray
    gram_totals: np.ndarray
    distinct_n: int = DISTINCT_N


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
    return PoolMatrices(
        bleu=pairwise_bleu(pool.texts) if bleu else np.zeros((pool.n, pool.n)),
        cosine={e: cosine_matrix(v) for e, v in pool.embeddings.items()},
        gram_bits=gram_bits(indptr, ids, n_grams),
        gram_totals=totals,
        distinct_n=distinct_n,
    )
