"""Diversity metrics of draws, vectorised over all repetitions of one (pool, k) at once.

Inputs are per-pool matrices and an index array ``idx`` of shape (reps, k) (positions in the
pool, in draw order). Definitions are those of DESIGN.md "Definitions".
"""

from __future__ import annotations

import numpy as np

EPS = 1e-6
"""Jitter added to the cosine kernel before its log-determinant (dpp, qual_dpp)."""

NEAR_DUP = 0.98
"""Cosine at or above which two members count as a near-duplicate pair."""

TIE_DECIMALS = 9
"""Scores are rounded to this many decimals before argmax, so float noise never breaks a tie."""


def gather(matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Sub-matrices ``matrix[idx[r]][:, idx[r]]`` stacked as (reps, k, k)."""
    return matrix[idx[:, :, None], idx[:, None, :]]


def pair_mean(sub: np.ndarray) -> np.ndarray:
    """Mean over unordered pairs i < j of each (k, k) sub-matrix; NaN when k < 2."""
    k = sub.shape[-1]
    if k < 2:
        return np.full(sub.shape[:-2], np.nan)
    iu = np.triu_indices(k, 1)
    return sub[..., iu[0], iu[1]].mean(axis=-1)


def row_mean_others(sub: np.ndarray) -> np.ndarray:
    """Mean of each row over the other members (diagonal excluded); 0 when k == 1."""
    k = sub.shape[-1]
    if k < 2:
        return np.zeros(sub.shape[:-1])
    diag = np.diagonal(sub, axis1=-2, axis2=-1)
    return (sub.sum(axis=-1) - diag) / (k - 1)


def cosine_sim(sub_cos: np.ndarray) -> np.ndarray:
    """``cosine_sim``: mean cosine over unordered pairs of the draw."""
    return pair_mean(sub_cos)


def dpp(sub_cos: np.ndarray, eps: float = EPS) -> np.ndarray:
    """``dpp``: log det(S + eps I) of each draw's cosine kernel (batched slogdet)."""
    k = sub_cos.shape[-1]
    sign, logdet = np.linalg.slogdet(sub_cos + eps * np.eye(k))
    return np.where(sign > 0, logdet, np.nan)


def qual_dpp(dpp_value: np.ndarray, log_quality: np.ndarray) -> np.ndarray:
    """``qual_dpp`` = logdet(diag(q)(S+eps I)diag(q)) = dpp + 2 sum log q_i; log_quality (reps, k)."""
    return dpp_value + 2.0 * log_quality.sum(axis=-1)


def near_dup_pairs(sub_cos: np.ndarray, threshold: float = NEAR_DUP) -> np.ndarray:
    """``near_dup_pairs``: number of unordered pairs whose cosine is >= ``threshold``."""
    k = sub_cos.shape[-1]
    iu = np.triu_indices(k, 1)
    return (sub_cos[..., iu[0], iu[1]] >= threshold).sum(axis=-1)


def near_dup_members(sub_cos: np.ndarray, threshold: float = NEAR_DUP) -> np.ndarray:
    """Per member: True when some other member has cosine >= ``threshold`` with it."""
    close = sub_cos >= threshold
    k = sub_cos.shape[-1]
    close = close & ~np.eye(k, dtype=bool)
    return np.asarray(close.any(axis=-1))


def dpp_contributions(sub_cos: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Per member i: logdet(L) - logdet(L without i) = -log([L^-1]_ii), L = S + eps I."""
    k = sub_cos.shape[-1]
    inv = np.linalg.inv(sub_cos + eps * np.eye(k))
    return -np.log(np.diagonal(inv, axis1=-2, axis2=-1))


def gram_bits(gram_indptr: np.ndarray, gram_ids: np.ndarray, n_grams: int) -> np.ndarray:
    """Each text's set of distinct n-grams as a packed bitset, shape (texts, words) uint64."""
    n = len(gram_indptr) - 1
    width = max(1, -(-n_grams // 64)) * 64
    dense = np.zeros((n, width), dtype=bool)
    rows = np.repeat(np.arange(n), np.diff(gram_indptr))
    dense[rows, gram_ids] = True
    return np.packbits(dense, axis=1).view(np.uint64)


DISTINCT_N = 3
"""The default n of distinct-n; its rows are named ``distinct_n``."""


def distinct_name(n: int) -> str:
    """The metric name distinct-n rows are stored under: ``distinct_n`` for the default n = 3,
    ``distinct_<n>`` for any other n, so draws can carry several."""
    return "distinct_n" if n == DISTINCT_N else f"distinct_{n}"


def distinct_n(bits: np.ndarray, gram_totals: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``distinct_n``: distinct n-grams of each draw over all its n-grams (NaN when none).

    The union of the members' n-gram sets is a bitwise OR of their bitsets.
    """
    union = np.bitwise_or.reduce(bits[idx], axis=1)
    distinct = np.bitwise_count(union).sum(axis=1, dtype=np.int64)
    total = gram_totals[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, distinct / np.where(total > 0, total, 1), np.nan)


def distinct_n_sparse(
    gram_indptr: np.ndarray, gram_ids: np.ndarray, gram_totals: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """``distinct_n`` from each text's distinct n-gram ids (CSR rows), without bitsets.

    The union of a draw's n-gram sets is counted as the distinct (draw, n-gram) keys of its
    members' lists; for pools whose bitsets would not fit in memory.
    """
    r, k = idx.shape
    flat = idx.ravel()
    starts = gram_indptr[flat]
    lens = gram_indptr[flat + 1] - starts
    first = np.cumsum(lens) - lens
    at = np.repeat(starts - first, lens) + np.arange(int(lens.sum()))
    width = int(gram_ids.max()) + 1 if len(gram_ids) else 1
    draw = np.repeat(np.repeat(np.arange(r, dtype=np.int64), k), lens)
    keys = np.unique(draw * width + gram_ids[at])
    distinct = np.bincount(keys // width, minlength=r)
    total = gram_totals[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, distinct / np.where(total > 0, total, 1), np.nan)
