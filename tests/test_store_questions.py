"""The store's questions answered in one place (runs, scorer and embedder names, a draw's info)
checked on random files against the same answer computed in Python from what was written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from divtui.store import catalog, draws, open_db, pool_columns, runs
from divtui.store.write import insert


@dataclass(frozen=True)
class Written:
    """What a random file was given."""

    runs: list[str]
    sampled: list[str]
    scorers: list[str]
    embedders: list[str]


def _random_file(path: Path, seed: int) -> Written:
    """A file with random runs (some without samples), samples of runs not in ``runs``, scores,
    embeddings, problems (some missing) and draws; returns what was written."""
    rng = np.random.default_rng(seed)
    con = open_db(path)
    stored_runs = [f"run-{i}" for i in range(int(rng.integers(1, 6)))]
    sampled = [r for r in stored_runs if rng.random() < 0.6] + ["orphan"] * int(rng.random() < 0.5)
    problem_ids = [f"p{i}" for i in range(8)]
    stored_problems = [p for p in problem_ids if rng.random() < 0.7]
    insert(con, "runs", pa.table({"run_id": stored_runs, "source": ["test"] * len(stored_runs)}))
    insert(
        con,
        "problems",
        pa.table(
            {
                "problem_id": stored_problems,
                "question": [f"question of {p}" for p in stored_problems],
                "gold_answer": [None if rng.random() < 0.3 else f"g{p}" for p in stored_problems],
            }
        ),
    )
    rows: list[tuple[int, str, str]] = []
    for run in sampled:
        for _ in range(int(rng.integers(1, 12))):
            rows.append((len(rows), run, str(rng.choice(problem_ids))))
    insert(
        con,
        "samples",
        pa.table(
            {
                "sample_id": [r[0] for r in rows],
                "run_id": [r[1] for r in rows],
                "problem_id": [r[2] for r in rows],
                "temperature": [0.7] * len(rows),
                "idx": list(range(len(rows))),
                "text": ["x"] * len(rows),
            }
        ),
    )
    scorers = [f"orm:{c}" for c in "bca" if rng.random() < 0.6]
    embedders = [f"emb-{c}@256" for c in "zyx" if rng.random() < 0.6]
    ids = [r[0] for r in rows]
    for s in scorers:
        insert(con, "scores", pa.table({"sample_id": ids, "scorer": [s] * len(ids),
                                        "value": rng.random(len(ids))}))  # fmt: skip
    for e in embedders:
        vecs = [list(map(float, rng.random(3))) for _ in ids]
        insert(con, "embeddings", pa.table({"sample_id": ids, "embedder": [e] * len(ids),
                                            "vec": vecs}))  # fmt: skip
    drawn = []
    for d in range(int(rng.integers(0, 6)) if rows else 0):
        members = sorted(map(int, rng.choice(len(rows), size=min(3, len(rows)), replace=False)))
        drawn.append((1000 + d, rows[members[0]][1], str(rng.choice(problem_ids)), members))
    insert(
        con,
        "draws",
        pa.table(
            {
                "draw_id": pa.array([d[0] for d in drawn], pa.int64()),
                "run_id": pa.array([d[1] for d in drawn], pa.string()),
                "problem_id": pa.array([d[2] for d in drawn], pa.string()),
                "temperature": pa.array([0.7] * len(drawn), pa.float64()),
                "k": pa.array([len(d[3]) for d in drawn], pa.int32()),
                "rep": pa.array([0] * len(drawn), pa.int32()),
                "seed": pa.array([7] * len(drawn), pa.int64()),
                "sample_ids": pa.array([d[3] for d in drawn], pa.list_(pa.int64())),
            }
        ),
    )
    con.close()
    return Written(stored_runs, sampled, scorers, embedders)


@pytest.mark.parametrize("seed", range(8))
def test_run_and_name_questions_match_what_was_written(tmp_path: Path, seed: int) -> None:
    wrote = _random_file(tmp_path / "q.duckdb", seed)
    con = open_db(tmp_path / "q.duckdb", read_only=True)
    stored, sampled = set(wrote.runs), set(wrote.sampled)
    assert runs.run_ids(con) == sorted(stored | sampled)
    assert runs.sampled_run_ids(con) == sorted(sampled)
    for run in sorted(stored | sampled | {"never"}):
        assert runs.run_exists(con, run) == (run in stored)
    assert catalog.scorer_names(con) == sorted(wrote.scorers)
    assert catalog.embedder_names(con) == sorted(wrote.embedders)
    opts = pool_columns.options(con)
    assert opts["scorers"] == catalog.scorer_names(con)
    assert opts["embedders"] == catalog.embedder_names(con)


@pytest.mark.parametrize("seed", range(8))
def test_draw_info_is_the_draw_row_with_its_problem(tmp_path: Path, seed: int) -> None:
    _random_file(tmp_path / "q.duckdb", seed)
    con = open_db(tmp_path / "q.duckdb", read_only=True)
    problems = {
        p: (q, g)
        for p, q, g in con.execute(
            "SELECT problem_id, question, gold_answer FROM problems"
        ).fetchall()
    }
    draw_ids = [r[0] for r in con.execute("SELECT draw_id FROM draws").fetchall()]
    for d in draw_ids:
        row = draws.draw_row(con, d)
        assert row is not None
        question, gold = problems.get(row["problem_id"], (None, None))
        want = {**row, "sample_ids": [int(s) for s in row["sample_ids"]]}
        want.update(question=question, gold_answer=gold)
        got = pool_columns.draw_info(con, d)
        assert got == want
        assert list(got) == list(want)
    assert pool_columns.draw_info(con, -1) is None
