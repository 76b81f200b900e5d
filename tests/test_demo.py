"""`divtui demo` end to end: the real CLI builds the simulated study, then its file is checked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from divtui.engine import simulate as sim
from divtui.engine.demo import REPS, SIZES
from divtui.store import insert, open_db
from tests.conftest import run_divtui

pytestmark = pytest.mark.slow
NAME = "sentence-transformers/all-MiniLM-L6-v2@256"
N = sim.N_PROBLEMS * len(sim.TEMPERATURES) * sim.N_SAMPLES


def _env(home: Path) -> dict[str, str]:
    """An isolated home for a subprocess (the autouse fixture is per test, this is per module)."""
    return {
        "DIVTUI_HOME": str(home / "data"),
        "DIVTUI_CONFIG": str(home / "config.toml"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The demo database built once through the real CLI, and the finished process."""
    home = tmp_path_factory.mktemp("demo-home")
    path = home / "demo.duckdb"
    out = run_divtui("demo", "--db", str(path), "--no-browse", env=_env(home))
    assert out.returncode == 0, out.stderr[-3000:]
    return path, out


def _query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Run one read-only query on the demo file."""
    con = open_db(path, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _frame(path: Path, sql: str) -> pd.DataFrame:
    """One read-only query as a DataFrame."""
    con = open_db(path, read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _snapshot(path: Path) -> dict[str, Any]:
    """Everything a rerun must leave unchanged: graded samples, vectors, draws and their rows."""
    return {
        "samples": _frame(
            path, "SELECT sample_id, answer, correct, answer_class FROM samples ORDER BY 1"
        ),
        "embeddings": _frame(path, "SELECT sample_id, embedder, vec FROM embeddings ORDER BY 1"),
        "draws": _frame(path, "SELECT draw_id, sample_ids FROM draws ORDER BY 1"),
        "metrics": _frame(
            path,
            "SELECT draw_id, metric, embedder, scorer, value FROM draw_metrics ORDER BY ALL",
        ),
        "outcomes": _frame(
            path,
            "SELECT draw_id, aggregator, embedder, scorer, sample_id, correct "
            "FROM draw_outcomes ORDER BY ALL",
        ),
        "pruned": _frame(path, "SELECT * FROM prune_outcomes ORDER BY ALL"),
    }


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Two snapshots hold the same rows."""
    for key in a:
        left, right = a[key], b[key]
        assert len(left) == len(right), key
        if key == "embeddings":
            np.testing.assert_allclose(np.stack(left.vec), np.stack(right.vec), atol=1e-5)
            continue
        if key == "draws":
            assert left.draw_id.tolist() == right.draw_id.tolist()
            assert [list(x) for x in left.sample_ids] == [list(x) for x in right.sample_ids]
            continue
        pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True))


def test_the_file_holds_the_whole_simulated_study(built: tuple[Path, Any]) -> None:
    path, out = built
    assert "# divtui report" in out.stdout and "Traceback" not in out.stderr
    runs = _query(path, "SELECT run_id, source, model, config FROM runs")
    assert [(r[0], r[1], r[2]) for r in runs] == [("demo", "demo (simulated)", "simulated-sampler")]
    config = json.loads(runs[0][3])
    assert config["seed"] == 0 and config["draws"] == {
        "sizes": list(SIZES),
        "reps": REPS,
        "seed": 0,
    }
    assert _query(path, "SELECT count(*) FROM problems") == [(sim.N_PROBLEMS,)]
    pools = _query(
        path, "SELECT problem_id, temperature, count(*) FROM samples GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert len(pools) == sim.N_PROBLEMS * len(sim.TEMPERATURES)
    assert {n for *_, n in pools} == {sim.N_SAMPLES}
    assert {t for _, t, _ in pools} == set(sim.TEMPERATURES)
    assert _query(path, "SELECT count(*) FROM samples WHERE correct IS NULL") == [(0,)]
    assert _query(path, "SELECT scorer, count(*) FROM scores GROUP BY 1") == [(sim.SCORER, N)]
    assert _query(path, "SELECT embedder, count(*), min(len(vec)) FROM embeddings GROUP BY 1") == [
        (NAME, N, 384)
    ]
    # the pruning study ran on every size-32 draw, in both spaces, for every m, both selectors
    pruned = _query(
        path,
        """SELECT count(DISTINCT p.draw_id), list(DISTINCT p.metric ORDER BY p.metric),
                  list(DISTINCT p.m ORDER BY p.m), list(DISTINCT p.selector ORDER BY p.selector)
           FROM prune_outcomes p JOIN draws d USING (draw_id) WHERE d.k = 32""",
    )
    n_pools = sim.N_PROBLEMS * len(sim.TEMPERATURES)
    # k = 32 is the whole pool of 32: one draw per pool (C(32, 32) = 1)
    assert pruned == [(n_pools, ["", "bleu", "sbert"], [1, 2, 4, 8, 16], ["medoids", "random"])]


def test_real_grading_agrees_with_the_simulator(built: tuple[Path, Any]) -> None:
    path, _ = built
    disagree = _query(
        path,
        "SELECT count(*) FROM samples WHERE correct IS DISTINCT FROM source_correct "
        "OR answer IS DISTINCT FROM source_answer",
    )
    assert disagree == [(0,)]
    _, expected = sim.simulate_study()
    stored = _frame(path, "SELECT problem_id, temperature, idx, text FROM samples ORDER BY 1, 2, 3")
    assert (
        stored.text.tolist()
        == expected.sort_values(["problem_id", "temperature", "idx"]).text.tolist()
    )


def test_draws_of_every_size_from_their_own_pool(built: tuple[Path, Any]) -> None:
    path, _ = built
    per_k = _query(
        path, "SELECT k, count(*), count(DISTINCT draw_id) FROM draws GROUP BY 1 ORDER BY 1"
    )
    pools = sim.N_PROBLEMS * len(sim.TEMPERATURES)
    # every C(32, k) > REPS except k = 32, the whole pool: one draw each
    want = {k: pools * (1 if k == sim.N_SAMPLES else REPS) for k in SIZES}
    assert per_k == [(k, want[k], want[k]) for k in SIZES]
    distinct = _query(
        path,
        "SELECT count(*) FROM (SELECT run_id, problem_id, temperature, k, "
        "list_sort(sample_ids) AS s FROM draws GROUP BY ALL HAVING count(*) > 1)",
    )
    assert distinct == [(0,)]
    bad = _query(
        path,
        """
        SELECT count(*) FROM (
            SELECT d.draw_id, d.k, count(DISTINCT s.sample_id) AS n
            FROM (SELECT draw_id, k, run_id, problem_id, temperature, unnest(sample_ids) AS sid
                  FROM draws) d
            LEFT JOIN samples s ON s.sample_id = d.sid AND s.run_id = d.run_id
                 AND s.problem_id = d.problem_id AND s.temperature = d.temperature
            GROUP BY ALL) WHERE n <> k
        """,
    )
    assert bad == [(0,)]
    metrics = {m for (m,) in _query(path, "SELECT DISTINCT metric FROM draw_metrics")}
    assert {"cosine_sim", "distinct_n", "dpp"} <= metrics
    aggs = {a for (a,) in _query(path, "SELECT DISTINCT aggregator FROM draw_outcomes")}
    assert {"maj", "bst", "mbr_sem"} <= aggs


def test_sbert_diversity_rises_with_temperature(built: tuple[Path, Any]) -> None:
    path, _ = built
    rows = _frame(
        path,
        "SELECT s.problem_id, s.temperature, e.vec FROM samples s "
        "JOIN embeddings e USING (sample_id) ORDER BY s.problem_id, s.temperature, s.idx",
    )
    mean_cos = {}
    for t, group in rows.groupby("temperature"):
        values = []
        for _, pool in group.groupby("problem_id"):
            x = np.stack(pool.vec).astype(np.float64)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            sims = x @ x.T
            n = len(x)
            values.append((sims.sum() - np.trace(sims)) / (n * (n - 1)))
        mean_cos[t] = float(np.mean(values))
    ordered = [mean_cos[t] for t in sorted(mean_cos)]
    assert np.all(np.diff(ordered) < 0), mean_cos


def test_rerun_is_a_no_op_and_an_interrupted_build_resumes(built: tuple[Path, Any]) -> None:
    path, _ = built
    env = _env(path.parent)
    before = _snapshot(path)
    again = run_divtui("demo", "--db", str(path), "--no-browse", env=env)
    assert again.returncode == 0 and "is complete" in again.stderr, again.stderr[-2000:]
    assert "Loading weights" not in again.stderr and "built demo" not in again.stderr
    _assert_same(before, _snapshot(path))
    con = open_db(path)
    try:
        gone = "(SELECT draw_id FROM draws WHERE problem_id = 'sim-000')"
        con.execute(f"DELETE FROM prune_outcomes WHERE draw_id IN {gone}")
        con.execute(f"DELETE FROM draw_metrics WHERE draw_id IN {gone}")
        con.execute(f"DELETE FROM draw_outcomes WHERE draw_id IN {gone}")
        con.execute("DELETE FROM draws WHERE problem_id = 'sim-000'")
        con.execute(
            "DELETE FROM embeddings WHERE sample_id IN "
            "(SELECT sample_id FROM samples WHERE problem_id = 'sim-001')"
        )
        con.execute(
            "UPDATE samples SET correct = NULL, answer = NULL, answer_class = NULL "
            "WHERE problem_id = 'sim-002'"
        )
    finally:
        con.close()
    resumed = run_divtui("demo", "--db", str(path), "--no-browse", env=env)
    assert resumed.returncode == 0 and "built demo" in resumed.stderr, resumed.stderr[-2000:]
    _assert_same(before, _snapshot(path))


def test_refuses_a_file_with_other_runs(tmp_path: Path) -> None:
    path = tmp_path / "study.duckdb"
    con = open_db(path)
    insert(con, "runs", pd.DataFrame({"run_id": ["mine"], "source": ["vllm"]}))
    con.close()
    for args in ((), ("--force",)):
        out = run_divtui("demo", "--db", str(path), "--no-browse", *args)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert out.stderr.strip().startswith("error:") and "mine" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    assert path.exists()
    assert _query(path, "SELECT run_id FROM runs") == [("mine",)]
    assert os.path.getsize(path) > 0


def test_force_removes_only_a_demo_file(tmp_path: Path) -> None:
    from divtui.engine.demo import remove_demo, run_row

    path = tmp_path / "demo.duckdb"
    assert remove_demo(path) is False
    con = open_db(path)
    insert(con, "runs", run_row())
    con.close()
    assert remove_demo(path) is True and not path.exists()
