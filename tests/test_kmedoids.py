"""PAM k-medoids against a plain-loop textbook PAM and brute-force optimal medoids."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from divtui.engine.kmedoids import TIE_TOL, assign, pam, pam_many, total_cost


def _cost(d: np.ndarray, med: list[int]) -> float:
    return float(sum(min(d[i, j] for i in med) for j in range(len(d))))


def _reference_pam(d: np.ndarray, m: int, tol: float = 1e-9) -> list[int]:
    """Textbook PAM written as loops: BUILD then best-improvement SWAP.

    Ties (within ``tol`` of the best) go to the first candidate in scan order.
    """
    n = len(d)
    med: list[int] = []
    for _ in range(m):
        costs = {c: _cost(d, [*med, c]) for c in range(n) if c not in med}
        low = min(costs.values())
        med.append(next(c for c, v in costs.items() if v <= low + tol))
    while True:
        cur = _cost(d, med)
        deltas = {}
        for slot in range(m):
            for h in range(n):
                if h not in med:
                    trial = med.copy()
                    trial[slot] = h
                    deltas[(slot, h)] = _cost(d, trial) - cur
        if not deltas or min(deltas.values()) >= -tol:
            return med
        low = min(deltas.values())
        slot, h = next(k for k, v in deltas.items() if v <= low + tol)
        med[slot] = h


def _random_distances(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    if kind == "euclid":
        x = rng.normal(size=(n, 3))
        d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    else:  # 1 - cosine of random vectors, like divtui's SBERT space
        x = rng.normal(size=(n, 8))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        d = 1 - x @ x.T
        np.fill_diagonal(d, 0)
    return d


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(12))
def test_vectorised_pam_equals_textbook_loop(seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 11))
    ds = np.stack([_random_distances(rng, n, "euclid" if seed % 2 else "cos") for _ in range(5)])
    tol = TIE_TOL[np.dtype(dtype)]
    for m in range(1, n + 1):
        got = pam(ds, m, dtype=dtype)
        for b in range(len(ds)):
            assert list(got[b]) == _reference_pam(ds[b], m, tol)


def test_pam_reaches_brute_force_optimum_on_small_instances() -> None:
    rng = np.random.default_rng(7)
    hits = total = 0
    for _ in range(200):
        n = int(rng.integers(5, 10))
        m = int(rng.integers(1, 4))
        d = _random_distances(rng, n, "euclid")
        best = min(_cost(d, list(c)) for c in itertools.combinations(range(n), m))
        got = _cost(d, list(pam(d, m)))
        assert got >= best - 1e-9
        if m == 1:  # BUILD's first step is the exact 1-medoid optimum
            assert got == pytest.approx(best)
        hits += abs(got - best) < 1e-9
        total += 1
    # PAM is a local search (Kaufman & Rousseeuw): it reaches the optimum on most small instances
    assert hits / total >= 0.9, hits / total


def test_pam_result_is_swap_local_optimum() -> None:
    rng = np.random.default_rng(3)
    d = np.stack([_random_distances(rng, 32, "cos") for _ in range(20)])
    for m in (2, 4, 8):
        med = pam(d, m)
        for b in range(len(d)):
            cur = _cost(d[b], list(med[b]))
            for slot in range(m):
                for h in set(range(32)) - set(med[b]):
                    trial = list(med[b])
                    trial[slot] = h
                    assert _cost(d[b], trial) >= cur - 1e-9


def test_assign_and_cost() -> None:
    rng = np.random.default_rng(5)
    d = _random_distances(rng, 12, "euclid")
    med = pam(d, 3)
    labels = assign(d, med)
    for j in range(12):
        assert d[med[labels[j]], j] == min(d[i, j] for i in med)
    assert total_cost(d, med) == pytest.approx(_cost(d, list(med)))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="m=0"):
        pam(np.zeros((3, 3)), 0)
    with pytest.raises(ValueError, match="square"):
        pam(np.zeros((2, 3, 4)), 1)


def test_pam_many_equals_pam_per_m() -> None:
    rng = np.random.default_rng(11)
    d = np.stack([_random_distances(rng, 16, "cos") for _ in range(30)])
    many = pam_many(d, [1, 2, 4, 8, 16])
    for m, med in many.items():
        assert np.array_equal(med, pam(d, m))
        for b in range(0, 30, 7):
            assert list(med[b]) == _reference_pam(d[b], m)
