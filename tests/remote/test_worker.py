"""The worker run locally (no ssh) on the job-folder protocol, and the idempotent ingest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from divtui.engine.remote import jobspec as js
from divtui.store import insert, open_db, transaction
from divtui.store import jobs as jq
from tests.conftest import run_divtui


def _study(path: Path, seed: int) -> tuple[Path, dict[int, bool]]:
    """A study with random integer answers; returns it and each sample's expected correctness."""
    rng = np.random.default_rng(seed)
    problems = pd.DataFrame(
        {
            "problem_id": ["p1", "p2"],
            "question": ["q1", "q2"],
            "gold_answer": [str(g) for g in rng.integers(2, 50, 2)],
        }
    )
    rows, expect = [], {}
    for pid, gold in zip(problems.problem_id, problems.gold_answer, strict=True):
        for idx in range(8):
            a = int(rng.choice([int(gold), int(gold) + 1, 2 * int(gold)]))
            form = ["so \\boxed{%d}.", "The final answer is %d"][int(rng.integers(2))]
            sid = int(rng.integers(1, 2**62))
            rows.append((sid, "r", pid, 0.7, idx, "work... " + form % a))
            expect[sid] = a == int(gold)
    con = open_db(path)
    with transaction(con):
        insert(con, "problems", problems)
        insert(con, "runs", pd.DataFrame({"run_id": ["r"], "source": ["import:jsonl"]}))
        cols = ["sample_id", "run_id", "problem_id", "temperature", "idx", "text"]
        insert(con, "samples", pd.DataFrame(rows, columns=cols))
    con.close()
    return path, expect


def _grade_job(db: Path, job_dir: Path) -> dict:
    """Lay out a grade job folder as the client would (spec + input Parquet)."""
    con = open_db(db)
    problems = jq.problems_by_id(con, ["p1", "p2"])
    jq.export_samples(con, job_dir / "input", ["p1", "p2"])
    con.close()
    spec = js.grade_spec(problems)
    (job_dir / "spec.json").write_text(js.dump_spec(spec))
    return spec


@pytest.mark.parametrize("seed", [0, 1])
def test_grade_job_runs_and_ingests_idempotently(tmp_path: Path, seed: int) -> None:
    db, expect = _study(tmp_path / "study.duckdb", seed)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    _grade_job(db, job_dir)
    out = run_divtui("worker", "run", str(job_dir / "spec.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert (job_dir / "status").read_text().strip() == "done"
    done = json.loads((job_dir / "DONE").read_text())
    assert done["tables"]["samples"] == 16 and done["grade"]["graded"] == 16
    pid, pgid = map(int, (job_dir / "pid").read_text().split())
    assert pid > 0 and pgid > 0
    lines = [json.loads(x) for x in (job_dir / "progress.jsonl").read_text().splitlines()]
    assert lines[-1]["done"] == lines[-1]["total"] and lines[-1]["stage"] == "grade"
    con = open_db(db)
    added = jq.ingest_job_results(con, job_dir / "out")
    got = dict(con.execute("SELECT sample_id, correct FROM samples").fetchall())
    assert got == expect
    assert added["samples"] == 0 and added["samples_regraded"] == 16
    again = jq.ingest_job_results(con, job_dir / "out")
    assert again["samples_regraded"] == 0
    assert con.execute("SELECT count(*) FROM samples").fetchall() == [(16,)]
    con.close()


def test_draw_rows_are_replaced_not_duplicated(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    folder = tmp_path / "out"
    folder.mkdir()
    ids = rng.integers(1, 2**62, 5)
    metrics = pa.table(
        {
            "draw_id": np.repeat(ids, 2),
            "metric": ["dpp", "distinct_n"] * 5,
            "embedder": ["e", ""] * 5,
            "scorer": [""] * 10,
            "value": rng.normal(size=10),
        }
    )
    pq.write_table(metrics, folder / "draw_metrics.parquet")
    con = open_db(tmp_path / "s.duckdb")
    for _ in range(3):
        jq.ingest_job_results(con, folder)
    rows = con.execute("SELECT draw_id, metric, value FROM draw_metrics ORDER BY ALL").fetchall()
    con.close()
    want = sorted(
        zip(
            metrics["draw_id"].to_pylist(),
            metrics["metric"].to_pylist(),
            metrics["value"].to_pylist(),
            strict=True,
        )
    )
    assert rows == want


def test_a_draw_with_other_members_replaces_the_stored_one(tmp_path: Path) -> None:
    """A result draw whose members differ from the stored draw of that id (its pool changed)
    replaces it and drops its pruning rows; an unchanged one keeps them; a rerun changes nothing."""

    def draws(members: list[list[int]]) -> pa.Table:
        return pa.table(
            {
                "draw_id": [1, 2],
                "run_id": ["r", "r"],
                "problem_id": ["p", "p"],
                "temperature": [0.7, 0.7],
                "k": [2, 2],
                "rep": [0, 1],
                "seed": [0, 0],
                "sample_ids": pa.array(members, pa.list_(pa.int64())),
            }
        )

    con = open_db(tmp_path / "s.duckdb")
    insert(con, "draws", draws([[10, 11], [12, 13]]))
    insert(
        con,
        "prune_outcomes",
        pd.DataFrame(
            {
                "draw_id": [1, 2],
                "metric": ["bleu"] * 2,
                "m": [1, 1],
                "weighted": [False] * 2,
                "selector": ["medoids"] * 2,
                "aggregator": ["maj"] * 2,
            }
        ),
        on_conflict="append",
    )
    folder = tmp_path / "out"
    folder.mkdir()
    pq.write_table(draws([[10, 11], [14, 10]]), folder / "draws.parquet")
    for _ in range(2):
        added = jq.ingest_job_results(con, folder)
        assert added["draws"] == 0
        assert con.execute("SELECT draw_id, sample_ids FROM draws ORDER BY 1").fetchall() == [
            (1, [10, 11]),
            (2, [14, 10]),
        ]
        assert con.execute("SELECT draw_id FROM prune_outcomes").fetchall() == [(1,)]
    con.close()


def test_foreign_result_files_are_refused_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    pq.write_table(pa.table({"sample_id": [1], "bogus": [2]}), folder / "samples.parquet")
    con = open_db(tmp_path / "s.duckdb")
    with pytest.raises(jq.IngestError, match="column bogus is not in table samples"):
        jq.ingest_job_results(con, folder)
    (folder / "samples.parquet").unlink()
    (folder / "evil.parquet").write_bytes(b"x")
    with pytest.raises(jq.IngestError, match="not a divtui result table"):
        jq.ingest_job_results(con, folder)
    con.close()


def test_bad_spec_fails_with_one_line_error_file(tmp_path: Path) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "spec.json").write_text('{"divtui_job": 1, "kind": "grade", "job_id": "a b"}')
    out = run_divtui("worker", "run", str(job_dir / "spec.json"))
    assert out.returncode == 1
    assert (job_dir / "status").read_text().strip() == "failed"
    err = (job_dir / "error").read_text()
    assert err.startswith("bad job spec: ") and "field job_id" in err and err.count("\n") == 1
    assert not (job_dir / "DONE").exists()
