"""Aggregators against plain-Python loops with the documented tie-breaks, on random draws."""

from __future__ import annotations

import numpy as np
import pytest

from divtui.engine import aggregators as ag
from divtui.engine import metrics as mt


def ref_vote(classes: list[int], weights: list[float] | None = None) -> int:
    """Plain loop: largest (weighted) class, ties to the class seen first, no-answer (-1) last."""
    totals: dict[int, float] = {}
    first: dict[int, int] = {}
    for pos, c in enumerate(classes):
        w = 1.0 if weights is None else weights[pos]
        totals[c] = totals.get(c, 0.0) + w
        first.setdefault(c, pos)
    real = [c for c in totals if c >= 0]
    candidates = real if real else list(totals)
    best = None
    for c in sorted(candidates, key=lambda c: first[c]):
        if best is None or round(totals[c], 9) > round(totals[best], 9):
            best = c
    return first[best]


def ref_argmax(values: list[float]) -> int:
    """First position of the maximum."""
    best = 0
    for i, v in enumerate(values):
        if round(v, 9) > round(values[best], 9):
            best = i
    return best


def ref_mbr(util: np.ndarray) -> int:
    """Highest mean utility to the other members, ties earliest."""
    k = len(util)
    means = [
        sum(util[i][j] for j in range(k) if j != i) / (k - 1) if k > 1 else 0.0 for i in range(k)
    ]
    return ref_argmax(means)


def ref_coverage(correct: list[bool]) -> tuple[bool, int]:
    """(any correct, first correct position or -1)."""
    for i, c in enumerate(correct):
        if c:
            return True, i
    return False, -1


@pytest.mark.parametrize("seed", range(8))
def test_vote_bst_mbr_coverage_match_plain_python(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reps, k = 60, int(rng.integers(1, 9))
    classes = rng.integers(-1, 3, size=(reps, k))
    rewards = rng.integers(0, 5, size=(reps, k)) / 4.0
    if seed % 2:
        rewards = rewards + rng.random((reps, k)) * 1e-3
    correct = rng.random((reps, k)) < 0.3
    util = rng.integers(0, 4, size=(reps, k, k)).astype(float) * 12.5
    maj, wmaj = ag.vote(classes), ag.vote(classes, rewards)
    bst, mbr = ag.bst(rewards), ag.mbr(util)
    hit, first = ag.coverage(correct)
    for r in range(reps):
        assert maj[r] == ref_vote(list(classes[r]))
        assert wmaj[r] == ref_vote(list(classes[r]), list(rewards[r]))
        assert bst[r] == ref_argmax(list(rewards[r]))
        assert mbr[r] == ref_mbr(util[r])
        assert (hit[r], first[r]) == ref_coverage(list(correct[r]))


def test_no_answer_never_beats_a_real_answer() -> None:
    classes = np.array([[-1, -1, -1, 2], [-1, -1, -1, -1]])
    assert list(ag.vote(classes)) == [3, 0]
    assert list(ag.vote(classes, np.array([[1.0, 1.0, 1.0, 0.0], [0.1, 0.9, 0.2, 0.3]]))) == [3, 0]


def test_row_mean_others_excludes_self() -> None:
    rng = np.random.default_rng(3)
    sub = rng.random((4, 5, 5))
    got = mt.row_mean_others(sub)
    for r in range(4):
        for i in range(5):
            assert got[r, i] == pytest.approx(np.mean([sub[r, i, j] for j in range(5) if j != i]))
