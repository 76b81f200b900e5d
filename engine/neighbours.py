"""Neighbourhood quality of a metric space: does a sample's nearest neighbour share its answer?

For every sample of every pool, its nearest other sample of the pool in the space (ties to the
lowest idx); we count how often the two have the same answer class (no answer counts as one class
of its own) and the same correctness, against the chance rate of a neighbour picked uniformly
from the rest of the pool. A space worth pruning in has rates well above chance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class NeighbourCounts:
    """Sums over samples, per space, accumulated pool by pool."""

    samples: int = 0
    same_class: float = 0.0
    same_correct: float = 0.0
    chance_class: float = 0.0
    chance_correct: float = 0.0
    pools: int = 0


@dataclass
class NeighbourTally:
    """NeighbourCounts per (run_id, space)."""

    counts: dict[tuple[str, str], NeighbourCounts] = field(default_factory=dict)

    def add(
        self, run_id: str, space: str, d: np.ndarray, classes: np.ndarray, correct: np.ndarray
    ) -> None:
        """Add one pool's samples in one space (``d`` its (n, n) distance matrix)."""
        if len(classes) < 2:
            return
        self.add_nearest(run_id, space, nearest_other(d), classes, correct)

    def add_nearest(
        self, run_id: str, space: str, nn: np.ndarray, classes: np.ndarray, correct: np.ndarray
    ) -> None:
        """Add one pool's samples in one space given each sample's nearest other sample ``nn``."""
        if len(classes) < 2:
            return
        c = self.counts.setdefault((run_id, space), NeighbourCounts())
        same_cls, same_cor, ch_cls, ch_cor = pool_rates(nn, classes, correct)
        c.samples += len(classes)
        c.same_class += same_cls
        c.same_correct += same_cor
        c.chance_class += ch_cls
        c.chance_correct += ch_cor
        c.pools += 1

    def rows(self) -> list[dict[str, Any]]:
        """One row per (run, space): rates, chance rates and lifts (rate / chance)."""
        out = []
        for (run, space), c in sorted(self.counts.items()):
            n = max(c.samples, 1)
            row: dict[str, Any] = {"run_id": run, "metric": space, "samples": c.samples}
            row["pools"] = c.pools
            row["same_class"] = c.same_class / n
            row["same_class_chance"] = c.chance_class / n
            row["same_correct"] = c.same_correct / n
            row["same_correct_chance"] = c.chance_correct / n
            for key in ("same_class", "same_correct"):
                chance = row[f"{key}_chance"]
                row[f"{key}_lift"] = row[key] / chance if chance > 0 else None
            out.append(row)
        return out


def nearest_other(d: np.ndarray) -> np.ndarray:
    """Index of each row's nearest other point (the diagonal excluded), ties to the lowest index."""
    x = np.array(d, dtype=np.float64, copy=True)
    np.fill_diagonal(x, np.inf)
    return x.argmin(axis=1)


def pool_rates(
    nn: np.ndarray, classes: np.ndarray, correct: np.ndarray
) -> tuple[float, float, float, float]:
    """Sums over the pool: neighbour has same class, same correctness; and their chance rates.

    The chance rate of sample i is the fraction of the other n - 1 samples that share its class
    (or its correctness).
    """
    n = len(classes)
    same_cls = float((classes[nn] == classes).sum())
    same_cor = float((correct[nn] == correct).sum())
    _, inv, cnt = np.unique(classes, return_inverse=True, return_counts=True)
    ch_cls = float(((cnt[inv] - 1) / (n - 1)).sum())
    n_ok = int(correct.sum())
    ch_cor = float(np.where(correct, (n_ok - 1) / (n - 1), (n - n_ok - 1) / (n - 1)).sum())
    return same_cls, same_cor, ch_cls, ch_cor
