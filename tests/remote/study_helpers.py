"""Helpers of the remote job-kind tests: a random graded study file, sorted rows, comparison."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from divtui.store import insert, open_db, transaction

WORDS = ["so", "the", "answer", "is", "we", "add", "then", "x", "=", "+", "-", "2", "7", "square"]


def random_study(path: Path, seed: int, *, side: bool = False) -> Path:
    """A graded study of random texts (3 problems, 2 temperatures, 6 samples a pool); with
    ``side``, random scores of two scorers and random vectors of two embedders (some missing)."""
    rng = np.random.default_rng(seed)
    pids = [f"test/algebra/{i}.json" for i in range(3)]
    problems = pd.DataFrame(
        {"problem_id": pids, "question": [f"What is {i} + {i}?" for i in range(3)]}
    )
    rows = []
    for pid in pids:
        for t in (0.5, 1.0):
            for idx in range(6):
                text = " ".join(rng.choice(WORDS, int(rng.integers(3, 30))))
                ans = str(int(rng.integers(0, 3)))
                rows.append(
                    {
                        "sample_id": int(rng.integers(1, 2**62)),
                        "run_id": "r",
                        "problem_id": pid,
                        "temperature": t,
                        "idx": idx,
                        "text": text,
                        "mean_logprob": float(-rng.random()),
                        "answer": ans,
                        "correct": ans == "0",
                    }
                )
    samples = pd.DataFrame(rows)
    con = open_db(path)
    with transaction(con):
        insert(con, "problems", problems)
        insert(con, "runs", pd.DataFrame({"run_id": ["r"], "source": ["import:jsonl"]}))
        insert(con, "samples", samples)
        if side:
            for name, keep in (("s1", 1.0), ("s2", 0.8)):
                sub = samples[rng.random(len(samples)) < keep]
                frame = {"sample_id": sub.sample_id, "scorer": name, "value": rng.random(len(sub))}
                insert(con, "scores", pd.DataFrame(frame))
            for name, dim in (("e1", 5), ("e2", 3)):
                vecs = [rng.normal(size=dim).astype(np.float32).tolist() for _ in range(len(rows))]
                frame = {"sample_id": samples.sample_id, "embedder": name, "vec": vecs}
                insert(con, "embeddings", pd.DataFrame(frame))
    con.close()
    return path


def sorted_rows(db: Path, table: str) -> list[tuple]:
    """Every row of ``table``, sorted."""
    con = open_db(db, read_only=True)
    try:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    finally:
        con.close()


def assert_rows_close(a: list[tuple], b: list[tuple], tol: float) -> None:
    """Two sorted row lists equal, floats (and float lists) within ``tol``, NaN equal to NaN."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        for x, y in zip(ra, rb, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                assert (math.isnan(x) and math.isnan(y)) or abs(x - y) <= tol, (ra, rb)
            elif isinstance(x, list) and x and isinstance(x[0], float):
                np.testing.assert_allclose(x, y, atol=tol, rtol=0)
            else:
                assert x == y, (ra, rb)
