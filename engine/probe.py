"""A reward model of our own: a logistic-regression probe on stored embeddings, cross-fitted by problem.

No problem is ever scored by a probe that saw any of its samples in training: problems are split
into folds, and each fold is scored by a probe fitted on the other folds only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb
import numpy as np
import pyarrow as pa

from divtui.store import insert, transaction
from divtui.store.graded_embeddings import graded_embeddings


def _standardise(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Centre and scale columns of ``x`` by the training set ``ref``'s statistics."""
    mu = ref.mean(axis=0)
    sd = ref.std(axis=0)
    sd[sd == 0] = 1.0
    return (x - mu) / sd


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (bias unpenalised) by L-BFGS; returns (weights, bias)."""
    from scipy.optimize import minimize

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        # log(1 + e^z) - y z, computed stably
        nll = np.logaddexp(0.0, z) - y * z
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        r = p - y
        grad = np.concatenate([x.T @ r + l2 * w, [r.sum()]])
        return float(nll.sum() + 0.5 * l2 * w @ w), grad

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:d], float(res.x[d])


def predict(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Probability of correctness under a fitted probe."""
    z = np.asarray(x, dtype=np.float64) @ w + b
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def problem_folds(problems: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Fold number of each row, assigned per problem (all samples of a problem share a fold)."""
    uniq = sorted(set(problems))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    fold_of = {uniq[i]: pos % folds for pos, i in enumerate(order)}
    return np.array([fold_of[p] for p in problems], dtype=np.int64)


def cross_fit(
    x: np.ndarray,
    y: np.ndarray,
    problems: Sequence[str],
    *,
    folds: int = 5,
    l2: float = 1.0,
    seed: int = 0,
    on_fold: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Out-of-fold probability for every row; ``on_fold(train_rows, scored_rows)`` sees each split."""
    fold = problem_folds(problems, folds, seed)
    out = np.full(len(y), np.nan)
    for f in range(folds):
        test = np.flatnonzero(fold == f)
        train = np.flatnonzero(fold != f)
        if test.size == 0:
            continue
        if on_fold is not None:
            on_fold(train, test)
        ytr = y[train]
        if train.size == 0 or ytr.min() == ytr.max():
            out[test] = ytr.mean() if train.size else 0.5
            continue
        w, b = fit_logistic(_standardise(x[train], x[train]), ytr, l2)
        out[test] = predict(_standardise(x[test], x[train]), w, b)
    return out


def probe_db(
    con: duckdb.DuckDBPyConnection,
    *,
    embedder: str,
    run_id: str | None = None,
    folds: int = 5,
    l2: float = 1.0,
    seed: int = 0,
) -> dict:
    """Score every graded, embedded sample with a cross-fitted probe; stored as ``probe:<embedder>``."""
    ids, x, y, problems = graded_embeddings(con, embedder, run_id)
    if len(ids) == 0:
        raise ValueError(f"no graded samples embedded with {embedder!r}: run grade and embed first")
    n_problems = len(set(problems))
    if n_problems < 2:
        raise ValueError("a cross-fitted probe needs at least 2 problems")
    probs = cross_fit(
        x, y.astype(np.float64), problems, folds=min(folds, n_problems), l2=l2, seed=seed
    )
    name = f"probe:{embedder}"
    with transaction(con):
        insert(
            con,
            "scores",
            pa.table({"sample_id": ids, "scorer": [name] * len(ids), "value": probs}),
            on_conflict="replace",
        )
    return {
        "scorer": name,
        "samples": int(len(ids)),
        "problems": n_problems,
        "folds": min(folds, n_problems),
    }
