"""Answer aggregators of draws, vectorised over repetitions: each returns the pick's position
in draw order, shape (reps,), or -1 where there is no pick (coverage with no correct member).
"""

from __future__ import annotations

import numpy as np

from .metrics import TIE_DECIMALS, row_mean_others


def vote(classes: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """``maj`` (weights None) or ``wmaj``: the class with the largest (weighted) count wins.

    ``classes`` (reps, k) holds answer classes, -1 for no answer. Ties go to the class whose
    first member comes earliest in draw order; the no-answer class never beats a real answer;
    the pick is the winning class's first member in draw order.
    """
    same = classes[:, :, None] == classes[:, None, :]
    if weights is None:
        score = same.sum(axis=2).astype(np.float64)
    else:
        score = np.round((same * weights[:, None, :]).sum(axis=2), TIE_DECIMALS)
    real = classes >= 0
    has_real = real.any(axis=1, keepdims=True)
    score = np.where(~real & has_real, -np.inf, score)
    return np.argmax(score, axis=1)


def bst(rewards: np.ndarray) -> np.ndarray:
    """``bst``: the member with the highest reward, ties to the earliest in draw order."""
    return np.argmax(np.round(rewards, TIE_DECIMALS), axis=1)


def mbr(sub: np.ndarray) -> np.ndarray:
    """``mbr_lex`` / ``mbr_sem``: highest mean utility to the other members, ties earliest.

    ``sub`` is (reps, k, k) with ``sub[r, i, j]`` the utility of member i against reference j.
    """
    return np.argmax(np.round(row_mean_others(sub), TIE_DECIMALS), axis=1)


def coverage(correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``coverage``: (any member correct, position of the first correct member or -1)."""
    hit = np.asarray(correct.any(axis=1))
    return hit, np.where(hit, np.argmax(correct, axis=1), -1)
