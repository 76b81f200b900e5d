"""Pairwise sentence-BLEU of a pool in one pass, equal to sacrebleu's ``sentence_bleu``.

Each text is tokenized once with sacrebleu's 13a tokenizer; per n-gram order a sparse count
matrix C (texts x distinct n-grams) gives the clipped matches of every pair at once as
``sum_t (C >= t)(C >= t)^T``, and sacrebleu's BLEU formula (smooth_method="exp",
effective_order=True) is evaluated on all pairs with NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

MAX_ORDER = 4
_TOKENIZER = None


def tokenize_13a(text: str) -> list[str]:
    """Tokens of ``text`` exactly as sacrebleu's default BLEU sees them (13a, no lowercasing)."""
    global _TOKENIZER
    if _TOKENIZER is None:
        from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

        _TOKENIZER = Tokenizer13a()
    return _TOKENIZER(text.rstrip()).split()


def token_ids(token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """All tokens as one int64 id array (ids local to these texts) and each text's offsets."""
    vocab: dict[str, int] = {}
    ids = [vocab.setdefault(t, len(vocab)) for toks in token_lists for t in toks]
    lens = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return np.asarray(ids, dtype=np.int64), offsets


def ngram_keys(ids: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(text row, n-gram id) of every n-gram inside one text; ids are dense, 0-based per call."""
    n_texts = len(offsets) - 1
    lens = np.diff(offsets)
    counts = np.maximum(lens - n + 1, 0)
    if counts.sum() == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(n_texts, dtype=np.int64), counts)
    starts = np.repeat(offsets[:-1], counts) + (
        np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    cols = np.stack([ids[starts + j] for j in range(n)], axis=1)
    _, gram = np.unique(cols, axis=0, return_inverse=True)
    return rows, gram.reshape(-1).astype(np.int64)


def count_matrix(rows: np.ndarray, gram: np.ndarray, n_texts: int) -> sp.csr_matrix:
    """Sparse (texts x n-grams) matrix of how often each n-gram occurs in each text."""
    n_cols = int(gram.max()) + 1 if len(gram) else 0
    m = sp.coo_matrix(
        (np.ones(len(rows), dtype=np.int64), (rows, gram)), shape=(n_texts, n_cols)
    ).tocsr()
    m.sum_duplicates()
    return m


def clipped_matches(counts: sp.csr_matrix) -> np.ndarray:
    """``M[i, j] = sum_g min(C[i, g], C[j, g])`` via thresholded incidence products."""
    n = counts.shape[0]
    out = np.zeros((n, n), dtype=np.float64)
    if counts.nnz == 0:
        return out
    data = counts.data
    t = 1
    top = int(data.max())
    while t <= top:
        keep = sp.csr_matrix(
            ((data >= t).astype(np.float64), counts.indices.copy(), counts.indptr.copy()),
            shape=counts.shape,
        )
        keep.eliminate_zeros()
        out += (keep @ keep.T).toarray()
        t += 1
    return out


def bleu_from_stats(
    correct: np.ndarray, total: np.ndarray, sys_len: np.ndarray, ref_len: np.ndarray
) -> np.ndarray:
    """sacrebleu ``BLEU.compute_bleu`` (smooth_method="exp", effective_order=True), vectorised.

    ``correct`` and ``total`` have the n-gram order as last axis; lengths broadcast with the rest.
    """
    correct = np.asarray(correct, dtype=np.float64)
    total = np.asarray(total, dtype=np.float64)
    sys_len = np.asarray(sys_len, dtype=np.float64)
    ref_len = np.asarray(ref_len, dtype=np.float64)
    shape = np.broadcast_shapes(correct.shape[:-1], total.shape[:-1], sys_len.shape, ref_len.shape)
    correct = np.broadcast_to(correct, (*shape, MAX_ORDER))
    total = np.broadcast_to(total, (*shape, MAX_ORDER))
    sys_len = np.broadcast_to(sys_len, shape)
    ref_len = np.broadcast_to(ref_len, shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(
            sys_len < ref_len,
            np.where(sys_len > 0, np.exp(1.0 - ref_len / np.where(sys_len > 0, sys_len, 1.0)), 0.0),
            1.0,
        )
    smooth = np.ones(shape, dtype=np.float64)
    log_sum = np.zeros(shape, dtype=np.float64)
    eff = np.zeros(shape, dtype=np.float64)
    alive = np.ones(shape, dtype=bool)
    for n in range(MAX_ORDER):
        tot = total[..., n]
        cor = correct[..., n]
        alive &= tot > 0
        zero = cor == 0
        smooth = np.where(alive & zero, smooth * 2.0, smooth)
        safe_tot = np.where(alive, tot, 1.0)
        prec = np.where(zero, 100.0 / (smooth * safe_tot), 100.0 * cor / safe_tot)
        log_sum = log_sum + np.where(alive, np.log(prec), 0.0)
        eff = np.where(alive, n + 1, eff)
    any_correct = correct.sum(axis=-1) > 0
    score = bp * np.exp(log_sum / np.where(eff > 0, eff, 1.0))
    return np.where(any_correct & (eff > 0), score, 0.0)


def pairwise_bleu_from_tokens(token_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """``B[i, j] = sentence_bleu(hyp=text i, [ref=text j]).score`` from 13a token lists."""
    n = len(token_lists)
    ids, offsets = token_ids(token_lists)
    lens = np.diff(offsets).astype(np.float64)
    correct = np.zeros((n, n, MAX_ORDER), dtype=np.float64)
    total = np.zeros((n, MAX_ORDER), dtype=np.float64)
    for order in range(1, MAX_ORDER + 1):
        rows, gram = ngram_keys(ids, offsets, order)
        correct[:, :, order - 1] = clipped_matches(count_matrix(rows, gram, n))
        total[:, order - 1] = np.maximum(lens - order + 1, 0)
    return bleu_from_stats(correct, total[:, None, :], lens[:, None], lens[None, :])


def pairwise_bleu(texts: Sequence[str]) -> np.ndarray:
    """``B[i, j] = sacrebleu.sentence_bleu(texts[i], [texts[j]]).score`` for every pair at once."""
    return pairwise_bleu_from_tokens([tokenize_13a(t) for t in texts])
