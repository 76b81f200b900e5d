"""The correctness probe: logistic regression against Newton-IRLS, and cross-fitting by problem."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import mannwhitneyu

from divtui.engine.probe import cross_fit, fit_logistic, predict, probe_db, problem_folds
from divtui.store import insert, open_db, sample_id, transaction


def _irls(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Textbook Newton-Raphson (IRLS) for L2-penalised logistic regression, bias unpenalised."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(xb.shape[1])
    pen = np.full(xb.shape[1], l2)
    pen[-1] = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-xb @ theta))
        grad = xb.T @ (p - y) + pen * theta
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + np.diag(pen)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-12:
            break
    return theta


@pytest.mark.parametrize("seed", range(6))
def test_fit_matches_newton_irls(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(40, 200)), int(rng.integers(1, 8))
    x = rng.normal(size=(n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-(x @ rng.normal(size=d))))).astype(float)
    l2 = float(rng.choice([0.1, 1.0, 10.0]))
    w, b = fit_logistic(x, y, l2)
    ref = _irls(x, y, l2)
    np.testing.assert_allclose(np.append(w, b), ref, atol=1e-4)
    np.testing.assert_allclose(
        predict(x, w, b), 1 / (1 + np.exp(-(x @ ref[:-1] + ref[-1]))), atol=1e-5
    )


def test_folds_keep_problems_together() -> None:
    rng = np.random.default_rng(0)
    problems = [f"p{int(i)}" for i in rng.integers(0, 30, size=500)]
    fold = problem_folds(problems, 5, seed=1)
    for p in set(problems):
        assert len({fold[i] for i, q in enumerate(problems) if q == p}) == 1
    assert set(fold) == set(range(5))


def test_cross_fit_never_trains_on_the_problem_it_scores() -> None:
    rng = np.random.default_rng(2)
    problems = [f"p{i // 8}" for i in range(400)]
    x = rng.normal(size=(400, 6))
    y = (rng.random(400) < 0.5).astype(float)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    cross_fit(x, y, problems, folds=5, on_fold=lambda tr, te: seen.append((tr, te)))
    scored = np.zeros(400, dtype=int)
    for train, test in seen:
        assert not {problems[i] for i in train} & {problems[i] for i in test}
        scored[test] += 1
    assert (scored == 1).all(), "every row is scored exactly once"


def test_cross_fit_cannot_memorise_problems() -> None:
    # Each problem has its own direction in embedding space and its own label: a probe that saw
    # the problem would score it perfectly; a cross-fitted one sits at chance.
    rng = np.random.default_rng(3)
    n_prob, per = 60, 10
    dirs = rng.normal(size=(n_prob, 64)) * 3
    labels = rng.random(n_prob) < 0.5
    x = np.repeat(dirs, per, axis=0) + rng.normal(size=(n_prob * per, 64)) * 0.1
    y = np.repeat(labels, per).astype(float)
    problems = [f"p{i // per}" for i in range(n_prob * per)]
    oof = cross_fit(x, y, problems, folds=5, l2=0.01)
    auc_oof = mannwhitneyu(oof[y == 1], oof[y == 0]).statistic / ((y == 1).sum() * (y == 0).sum())
    w, b = fit_logistic(x, y, 0.01)
    insample = predict(x, w, b)
    auc_in = mannwhitneyu(insample[y == 1], insample[y == 0]).statistic / (
        (y == 1).sum() * (y == 0).sum()
    )
    assert auc_in > 0.99
    assert 0.3 < auc_oof < 0.7


def test_cross_fit_learns_a_shared_signal() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, 10))
    y = (x[:, 0] + 0.3 * rng.normal(size=600) > 0).astype(float)
    oof = cross_fit(x, y, [f"p{i // 6}" for i in range(600)], folds=5)
    auc = mannwhitneyu(oof[y == 1], oof[y == 0]).statistic / ((y == 1).sum() * (y == 0).sum())
    assert auc > 0.9


def test_probe_db_stores_a_scorer(db_path) -> None:
    rng = np.random.default_rng(5)
    con = open_db(db_path)
    n = 120
    problems = [f"p{i // 6}" for i in range(n)]
    ids = [sample_id("r", p, 0.7, i % 6) for i, p in enumerate(problems)]
    correct = rng.random(n) < 0.5
    vecs = rng.normal(size=(n, 8)).astype(np.float32)
    vecs[:, 0] += np.where(correct, 1.5, -1.5)
    with transaction(con):
        insert(con, "runs", pa.table({"run_id": ["r"], "source": ["demo"]}))
        insert(
            con, "problems", pa.table({"problem_id": sorted(set(problems)), "question": ["q"] * 20})
        )
        insert(
            con,
            "samples",
            pa.table(
                {
                    "sample_id": ids,
                    "run_id": ["r"] * n,
                    "problem_id": problems,
                    "temperature": [0.7] * n,
                    "idx": [i % 6 for i in range(n)],
                    "text": ["t"] * n,
                    "correct": correct,
                }
            ),
        )
        insert(
            con,
            "embeddings",
            pa.table(
                {
                    "sample_id": ids,
                    "embedder": ["e@8"] * n,
                    "vec": pa.array(list(vecs), type=pa.list_(pa.float32())),
                }
            ),
        )
    out = probe_db(con, embedder="e@8", folds=4)
    assert out == {"scorer": "probe:e@8", "samples": n, "problems": 20, "folds": 4}
    got = dict(
        con.execute("SELECT sample_id, value FROM scores WHERE scorer = 'probe:e@8'").fetchall()
    )
    assert len(got) == n and all(0 <= v <= 1 for v in got.values())
    pos = np.array([got[i] for i, c in zip(ids, correct, strict=True) if c])
    neg = np.array([got[i] for i, c in zip(ids, correct, strict=True) if not c])
    assert pos.mean() > neg.mean() + 0.2
    probe_db(con, embedder="e@8", folds=4)  # rerun replaces, never duplicates
    assert con.execute("SELECT count(*) FROM scores").fetchall()[0][0] == n
    with pytest.raises(ValueError, match="no graded samples embedded with 'other'"):
        probe_db(con, embedder="other")
