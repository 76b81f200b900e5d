"""`divtui export`: wide scorer columns, run filter, and a jsonl round trip through `divtui import`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divtui.engine.file_import import import_file
from divtui.store import open_db
from divtui.store.export import export_samples
from tests.conftest import run_divtui
from tests.test_import import _native_records, _write

SAMPLE_COLS = (
    "problem_id, temperature, idx, text, n_tokens, sum_logprob, mean_logprob, source_answer, "
    "source_correct"
)


def _study(tmp_path: Path, seed: int) -> Path:
    """A database with two runs of random native records."""
    db = tmp_path / "a.duckdb"
    con = open_db(db)
    rng = np.random.default_rng(seed)
    import_file(
        con, _write(tmp_path / "r1.jsonl", _native_records(rng, 3, 3)), "jsonl", run_id="r1"
    )
    import_file(
        con, _write(tmp_path / "r2.jsonl", _native_records(rng, 2, 2)), "jsonl", run_id="r2"
    )
    con.close()
    return db


@pytest.mark.parametrize("seed", [0, 7])
def test_jsonl_round_trip(tmp_path: Path, seed: int) -> None:
    db = _study(tmp_path, seed)
    out = tmp_path / "out.jsonl"
    res = run_divtui(
        "export",
        "--format",
        "jsonl",
        "--db",
        str(db),
        "--run",
        "r1",
        "-o",
        str(out),
        "--embeddings",
    )
    assert res.returncode == 0, res.stderr
    db2 = tmp_path / "b.duckdb"
    res = run_divtui("import", str(out), "--format", "jsonl", "--db", str(db2), "--no-grade")
    assert res.returncode == 0, res.stderr
    a, b = open_db(db, read_only=True), open_db(db2, read_only=True)
    q_samples = f"SELECT {SAMPLE_COLS} FROM samples WHERE run_id = $r ORDER BY ALL"
    assert (
        a.execute(q_samples, {"r": "r1"}).fetchall()
        == b.execute(q_samples, {"r": "out"}).fetchall()
    )
    q_scores = (
        "SELECT s.problem_id, s.temperature, s.idx, c.scorer, c.value FROM scores c "
        "JOIN samples s USING (sample_id) WHERE s.run_id = $r ORDER BY ALL"
    )
    assert (
        a.execute(q_scores, {"r": "r1"}).fetchall() == b.execute(q_scores, {"r": "out"}).fetchall()
    )
    q_emb = q_scores.replace("c.scorer, c.value FROM scores", "c.embedder, c.vec FROM embeddings")
    assert a.execute(q_emb, {"r": "r1"}).fetchall() == b.execute(q_emb, {"r": "out"}).fetchall()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_wide_scores_match_the_scores_table(tmp_path: Path, fmt: str) -> None:
    db = _study(tmp_path, 3)
    out = tmp_path / f"out.{fmt}"
    con = open_db(db, read_only=True)
    n = export_samples(con, out, fmt, run_id=None)
    df = pd.read_parquet(out) if fmt == "parquet" else pd.read_csv(out)
    assert n == len(df) == con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
    gold = dict(con.execute("SELECT problem_id, gold_answer FROM problems").fetchall())
    assert [str(g) for g in df["gold_answer"]] == [gold[p] for p in df["problem_id"]]
    for scorer, sid, value in con.execute("SELECT scorer, sample_id, value FROM scores").fetchall():
        got = df.loc[df["sample_id"] == sid, f"score:{scorer}"].item()
        assert got == pytest.approx(value, rel=1e-12)
    n_scored = con.execute("SELECT scorer, count(*) FROM scores GROUP BY 1").fetchall()
    for scorer, count in n_scored:
        assert df[f"score:{scorer}"].notna().sum() == count
    assert not any(c.startswith("embedding") for c in df.columns)


def test_run_filter_and_embeddings_columns(tmp_path: Path) -> None:
    db = _study(tmp_path, 4)
    out = tmp_path / "r2.parquet"
    res = run_divtui(
        "export",
        "--format",
        "parquet",
        "--db",
        str(db),
        "--run",
        "r2",
        "-o",
        str(out),
        "--embeddings",
    )
    assert res.returncode == 0, res.stderr
    df = pd.read_parquet(out)
    con = open_db(db, read_only=True)
    assert set(df["run_id"]) == {"r2"}
    assert len(df) == con.execute("SELECT count(*) FROM samples WHERE run_id='r2'").fetchall()[0][0]
    vecs = dict(con.execute("SELECT sample_id, vec FROM embeddings").fetchall())
    for sid, vec in zip(df["sample_id"], df["embedding:e@8"], strict=True):
        assert (vec is None and sid not in vecs) or list(vec) == pytest.approx(vecs[sid])
    bad = run_divtui("export", "--format", "csv", "--db", str(db), "--embeddings", "-o", str(out))
    assert bad.returncode == 1 and bad.stderr.startswith("error: --embeddings")
    none = run_divtui("export", "--format", "csv", "--db", str(db), "--run", "zz", "-o", str(out))
    assert none.returncode == 1 and "no run named 'zz'" in none.stderr
    assert df.columns[0] == "sample_id"
