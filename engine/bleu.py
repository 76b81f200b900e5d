"""Sentence-BLEU building blocks equal to sacrebleu's ``sentence_bleu``: the 13a tokenizer,
n-gram ids, the vectorised BLEU formula, and a dense all-pairs reference.

Each text is tokenized once with sacrebleu's 13a tokenizer; per n-gram order a count matrix C
(texts x distinct n-grams) gives the clipped matches of every pair at once as
``sum_t (C >= t)(C >= t)^T``, and sacrebleu's BLEU formula (smooth_method="exp",
effective_order=True) is evaluated on all pairs with NumPy. ``pairwise_bleu_dense`` does it
with dense C (the reference); ``bleu_pairs`` does it from split sparse/dense counts, for all
pairs or only those inside draws.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

MAX_ORDER = 4

_PUNCT = '{|}~[\\]^_` !"#$%&()*+:;<=>?@/'
_PADDED = tuple((c, f" {c} ") for c in _PUNCT if c != " ")
_DIGITS = frozenset("0123456789")


def _positions(line: str, chars: str) -> list[int]:
    """Sorted positions of any of ``chars`` in ``line``."""
    out: list[int] = []
    for c in chars:
        i = line.find(c)
        while i >= 0:
            out.append(i)
            i = line.find(c, i + 1)
    out.sort()
    return out


def _rule_before(line: str, chars: str, left_digit: bool, right_pad: bool) -> str:
    """re.sub(r"(L)([chars])", r"\\1 \\2 ") with L = digit or non-digit, left to right."""
    parts: list[str] = []
    cursor = 0
    done = 0
    for i in _positions(line, chars):
        if i - 1 < cursor or ((line[i - 1] in _DIGITS) != left_digit):
            continue
        parts.append(line[done:i])
        parts.append(" " + line[i] + (" " if right_pad else ""))
        done = cursor = i + 1
    parts.append(line[done:])
    return "".join(parts)


def _rule_after(line: str) -> str:
    """re.sub(r"([\\.,])([^0-9])", r" \\1 \\2"), scanning left to right without overlaps."""
    parts: list[str] = []
    cursor = 0
    done = 0
    for i in _positions(line, ".,"):
        if i < cursor or i + 1 >= len(line) or line[i + 1] in _DIGITS:
            continue
        parts.append(line[done:i])
        parts.append(" " + line[i] + " ")
        done = i + 1
        cursor = i + 2
    parts.append(line[done:])
    return "".join(parts)


def tokenize_13a(text: str) -> list[str]:
    """Tokens of ``text`` exactly as sacrebleu's default BLEU sees them (13a, no lowercasing).

    The same rules as sacrebleu's Tokenizer13a, written without per-position regex scans:
    symbol padding is ``str.replace`` per symbol present (padding spaces themselves changes
    nothing once tokens are split); the period/comma/dash rules visit only those characters,
    keeping the regexes' left-to-right, non-overlapping semantics.
    """
    line = text.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
        line = line.replace("&gt;", ">")
    line = f" {line} "
    for c, padded in _PADDED:
        if c in line:
            line = line.replace(c, padded)
    line = _rule_before(line, ".,", left_digit=False, right_pad=True)
    line = _rule_after(line)
    line = _rule_before(line, "-", left_digit=True, right_pad=True)
    return line.split()


def token_ids(token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """All tokens as one int64 id array (ids local to these texts) and each text's offsets."""
    flat = list(itertools.chain.from_iterable(token_lists))
    ids = pd.factorize(np.array(flat, dtype=object), sort=False)[0] if flat else []
    lens = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return np.asarray(ids, dtype=np.int64), offsets


def ngram_orders(
    ids: np.ndarray, offsets: np.ndarray, max_order: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per order 1..max_order: (text row, dense n-gram id) of every n-gram inside one text.

    Order n ids are built from order n-1 ids, so keys stay small integers (no tuple hashing).
    """
    n_texts = len(offsets) - 1
    lens = np.diff(offsets)
    row_of = np.repeat(np.arange(n_texts, dtype=np.int64), lens)
    end_of = np.repeat(offsets[1:], lens)
    pos = np.arange(len(ids), dtype=np.int64)
    vocab = int(ids.max()) + 1 if len(ids) else 1
    prev = ids.copy()
    out = [(row_of, ids)]
    for n in range(2, max_order + 1):
        ok = pos + n - 1 < end_of
        start = pos[ok]
        key = prev[ok] * vocab + ids[start + n - 1]
        gram = pd.factorize(key, sort=False)[0].astype(np.int64)
        prev = np.zeros(len(ids), dtype=np.int64)
        prev[ok] = gram
        out.append((row_of[ok], gram))
    return out


def ngram_keys(ids: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(text row, n-gram id) of every n-gram of order ``n`` inside one text."""
    return ngram_orders(ids, offsets, n)[n - 1]


def count_matrix(rows: np.ndarray, gram: np.ndarray, n_texts: int) -> np.ndarray:
    """Dense (texts x n-grams) matrix of how often each n-gram occurs in each text."""
    n_cols = int(gram.max()) + 1 if len(gram) else 0
    flat = np.bincount(rows * n_cols + gram, minlength=n_texts * n_cols)
    return flat.reshape(n_texts, n_cols).astype(np.float32)


def clipped_matches(counts: np.ndarray) -> np.ndarray:
    """``M[i, j] = sum_g min(C[i, g], C[j, g])`` as ``sum_t (C >= t)(C >= t)^T``.

    t = 1 covers every column; only the few columns where some text repeats an n-gram take
    part in the higher thresholds. float32 products are exact for these integer counts.
    """
    n = counts.shape[0]
    if counts.size == 0:
        return np.zeros((n, n), dtype=np.float64)
    ones = (counts > 0).astype(np.float32)
    out = (ones @ ones.T).astype(np.float64)
    multi = counts[:, counts.max(axis=0) >= 2]
    for t in range(2, int(multi.max(initial=1)) + 1):
        above = (multi >= t).astype(np.float32)
        keep = above.any(axis=0)
        above = above[:, keep]
        multi = multi[:, keep]
        out += above @ above.T
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
    for order, (rows, gram) in enumerate(ngram_orders(ids, offsets, MAX_ORDER), start=1):
        correct[:, :, order - 1] = clipped_matches(count_matrix(rows, gram, n))
        total[:, order - 1] = np.maximum(lens - order + 1, 0)
    return bleu_from_stats(correct, total[:, None, :], lens[:, None], lens[None, :])


def pairwise_bleu_dense(texts: Sequence[str]) -> np.ndarray:
    """``B[i, j] = sacrebleu.sentence_bleu(texts[i], [texts[j]]).score`` from dense count matrices.

    The reference for ``bleu_pairs.pairwise_bleu`` (which the engine uses): memory grows as
    texts x distinct n-grams, so keep it to small pools.
    """
    return pairwise_bleu_from_tokens([tokenize_13a(t) for t in texts])
