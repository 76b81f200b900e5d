"""Sentence-BLEU of a pool's pairs from split n-gram counts: all pairs, row blocks, or only the
pairs inside each draw, equal to sacrebleu's ``sentence_bleu`` (and to ``bleu.pairwise_bleu_dense``).

Per order the clipped matches ``M[i, j] = sum_g min(C[i, g], C[j, g])`` are the products of a
binary matrix E whose columns are (n-gram g, threshold t): E[i, (g, t)] = 1 when text i holds g
at least t times, so ``M = E E^T``. Columns held by one text only touch the diagonal (which is
each text's own n-gram count) and are dropped; columns held by many texts (document frequency at
least ``DENSE_FRACTION`` of the pool) go into a small dense uint8 block multiplied with BLAS, the
rest into a scipy CSR block. Every product is of 0/1 values, so float32 sums are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .bleu import MAX_ORDER, bleu_from_stats, ngram_orders, token_ids, tokenize_13a

DENSE_FRACTION = 1 / 16
"""A (n-gram, threshold) column shared by at least this fraction of the pool is kept dense."""


@dataclass
class SplitCounts:
    """One n-gram order of a pool: dense (texts x frequent columns) and sparse (rare) blocks."""

    dense: np.ndarray
    sparse: sp.csr_matrix
    total: np.ndarray


@dataclass
class PoolNgrams:
    """The 13a n-gram statistics of a pool's texts, orders 1..4, for BLEU of any pairs."""

    lengths: np.ndarray
    orders: list[SplitCounts]

    @property
    def n(self) -> int:
        """Number of texts."""
        return len(self.lengths)

    @property
    def totals(self) -> np.ndarray:
        """(texts, orders) number of n-grams of each order in each text."""
        return np.stack([o.total for o in self.orders], axis=1).astype(np.float64)


def _split(rows: np.ndarray, gram: np.ndarray, n_texts: int, total: np.ndarray) -> SplitCounts:
    """The expanded (n-gram, threshold) incidence of one order, split into dense and sparse."""
    if len(gram) == 0:
        return SplitCounts(
            np.zeros((n_texts, 0), np.uint8), sp.csr_matrix((n_texts, 0), dtype=np.float32), total
        )
    n_grams = int(gram.max()) + 1
    key, count = np.unique(rows * n_grams + gram, return_counts=True)
    row, g = key // n_grams, key % n_grams
    cmax = np.zeros(n_grams, np.int64)
    np.maximum.at(cmax, g, count)
    base = np.zeros(n_grams + 1, np.int64)
    np.cumsum(cmax, out=base[1:])
    reps = np.repeat(np.arange(len(key)), count)
    t = np.arange(len(reps)) - np.repeat(np.cumsum(count) - count, count)
    e_row = row[reps]
    e_col = base[g[reps]] + t
    df = np.bincount(e_col, minlength=int(base[-1]))
    cut = max(2, int(np.ceil(DENSE_FRACTION * n_texts)))
    dense_cols = np.flatnonzero(df >= cut)
    sparse_cols = np.flatnonzero((df >= 2) & (df < cut))
    col_of = np.full(len(df), -1, np.int64)
    col_of[dense_cols] = np.arange(len(dense_cols))
    dense = np.zeros((n_texts, len(dense_cols)), np.uint8)
    e_df = df[e_col]
    in_dense = e_df >= cut
    dense[e_row[in_dense], col_of[e_col[in_dense]]] = 1
    col_of[sparse_cols] = np.arange(len(sparse_cols))
    # entries are in (row, n-gram, threshold) order, so each CSR row's columns come sorted
    in_sparse = (e_df >= 2) & ~in_dense
    indptr = np.zeros(n_texts + 1, np.int64)
    np.cumsum(np.bincount(e_row[in_sparse], minlength=n_texts), out=indptr[1:])
    indices = col_of[e_col[in_sparse]]
    data = np.ones(len(indices), np.float32)
    sparse = sp.csr_matrix((data, indices, indptr), shape=(n_texts, len(sparse_cols)))
    return SplitCounts(dense, sparse, total)


def pool_ngrams(token_lists: Sequence[Sequence[str]]) -> PoolNgrams:
    """Split n-gram counts of every order from 13a token lists (one per text)."""
    n = len(token_lists)
    ids, offsets = token_ids(token_lists)
    lens = np.diff(offsets)
    orders = [
        _split(rows, gram, n, np.maximum(lens - order + 1, 0))
        for order, (rows, gram) in enumerate(ngram_orders(ids, offsets, MAX_ORDER), start=1)
    ]
    return PoolNgrams(lens.astype(np.float64), orders)


def pool_ngrams_of_texts(texts: Sequence[str]) -> PoolNgrams:
    """:func:`pool_ngrams` of raw texts (13a-tokenized here)."""
    return pool_ngrams([tokenize_13a(t) for t in texts])


def matches_rows(ng: PoolNgrams, rows: np.ndarray) -> np.ndarray:
    """Clipped matches (len(rows), n, orders) of texts ``rows`` against every text of the pool."""
    out = np.empty((len(rows), ng.n, MAX_ORDER), np.float64)
    for o, c in enumerate(ng.orders):
        dense = c.dense.astype(np.float32)
        m = dense[rows] @ dense.T if dense.shape[1] else np.zeros((len(rows), ng.n), np.float32)
        if c.sparse.nnz:
            m += (c.sparse[rows] @ c.sparse.T).toarray()
        m[np.arange(len(rows)), rows] = c.total[rows]
        out[:, :, o] = m
    return out


def _within_sparse(s: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
    """``(s[idx[r]] s[idx[r]]^T)`` for every draw r at once, (r, k, k) float32.

    Each draw's rows get their own copy of the columns (column + draw * width), so one sparse
    product gives only within-draw pairs (a block-diagonal result).
    """
    r, k = idx.shape
    out = np.zeros((r, k, k), np.float32)
    x = s[idx.ravel()]
    if x.nnz == 0:
        return out
    width = s.shape[1]
    draw = np.repeat(np.repeat(np.arange(r, dtype=np.int64), k), np.diff(x.indptr))
    x = sp.csr_matrix(
        (x.data, x.indices.astype(np.int64) + draw * width, x.indptr), (r * k, r * width)
    )
    p = (x @ x.T).tocoo()
    out[p.row // k, p.row % k, p.col % k] = p.data
    return out


def matches_within(ng: PoolNgrams, idx: np.ndarray) -> np.ndarray:
    """Clipped matches (r, k, k, orders) among the members of each draw ``idx`` (r, k).

    Members of one draw are distinct texts; the diagonal is each member's own n-gram count.
    """
    r, k = idx.shape
    out = np.empty((r, k, k, MAX_ORDER), np.float64)
    diag = np.arange(k)
    for o, c in enumerate(ng.orders):
        if c.dense.shape[1]:
            g = c.dense[idx].astype(np.float32)
            m = np.matmul(g, g.transpose(0, 2, 1))
        else:
            m = np.zeros((r, k, k), np.float32)
        if c.sparse.nnz:
            m += _within_sparse(c.sparse, idx)
        m[:, diag, diag] = c.total[idx]
        out[..., o] = m
    return out


def bleu_rows(ng: PoolNgrams, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(B[rows, :], B[:, rows].T)`` with ``B[i, j] = sentence_bleu(hyp=i, [ref=j])``."""
    m = matches_rows(ng, rows)
    tot, lens = ng.totals, ng.lengths
    as_hyp = bleu_from_stats(m, tot[rows][:, None, :], lens[rows][:, None], lens[None, :])
    as_ref = bleu_from_stats(m, tot[None, :, :], lens[None, :], lens[rows][:, None])
    return as_hyp, as_ref


def bleu_within(ng: PoolNgrams, idx: np.ndarray) -> np.ndarray:
    """``B[r, a, b] = sentence_bleu(hyp=idx[r, a], [ref=idx[r, b]])`` for every draw, (r, k, k)."""
    m = matches_within(ng, idx)
    tot, lens = ng.totals[idx], ng.lengths[idx]
    return bleu_from_stats(m, tot[:, :, None, :], lens[:, :, None], lens[:, None, :])


def pairwise_bleu_from_ngrams(ng: PoolNgrams, block_rows: int = 1024) -> np.ndarray:
    """Every pair's BLEU (n, n), computed ``block_rows`` hypotheses at a time."""
    out = np.empty((ng.n, ng.n), np.float64)
    tot, lens = ng.totals, ng.lengths
    for a in range(0, ng.n, block_rows):
        rows = np.arange(a, min(ng.n, a + block_rows))
        m = matches_rows(ng, rows)
        out[rows] = bleu_from_stats(m, tot[rows][:, None, :], lens[rows][:, None], lens[None, :])
    return out


def pairwise_bleu(texts: Sequence[str]) -> np.ndarray:
    """``B[i, j] = sacrebleu.sentence_bleu(texts[i], [texts[j]]).score`` for every pair at once."""
    return pairwise_bleu_from_ngrams(pool_ngrams_of_texts(texts))
