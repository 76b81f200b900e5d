"""engine.specs: one spec per operation, checked once; and the same settings through every way in
(the CLI, study.toml, the remote job spec and its worker) store the same rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine.draws import run_draws
from divtui.engine.remote import jobspec as js
from divtui.engine.remote import worker
from divtui.engine.specs import (
    MAX_SEED,
    SPECS,
    DrawSpec,
    EmbedSpec,
    GradeSpec,
    PruneSpec,
    ScoreSpec,
    SpecError,
)
from divtui.engine.study import StudyError, load_study
from divtui.store import open_db
from divtui.store.vocabulary import QUALITIES
from tests.conftest import run_divtui
from tests.test_draws import make_study, stored

names = st.lists(st.sampled_from(["a", "b", "orm:x", "e@8"]), max_size=5)
opt_pos = st.none() | st.integers(1, 1024)


@st.composite
def draw_settings(draw: st.DrawFn) -> dict[str, Any]:
    """A valid draw table: any subset of the optional fields."""
    out: dict[str, Any] = {
        "sizes": draw(st.lists(st.integers(1, 100_000), min_size=1, max_size=64)),
        "reps": draw(st.integers(1, 1_000_000)),
    }
    optional = {
        "seed": st.integers(0, MAX_SEED),
        "run_id": st.none() | st.text(min_size=1, max_size=8),
        "scorers": st.none() | names,
        "embedders": st.none() | names,
        "distinct_n": st.integers(1, 100),
        "quality": st.sampled_from(QUALITIES),
        "workers": opt_pos,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            out[key] = draw(strategy)
    return out


@settings(max_examples=200, deadline=None)
@given(draw_settings())
def test_draw_spec_normalises_and_round_trips(table: dict[str, Any]) -> None:
    spec = DrawSpec.from_mapping(table, "t.toml")
    assert list(spec.sizes) == sorted(set(table["sizes"]))
    assert spec.seed == table.get("seed", 0) and spec.quality == table.get("quality", "logprob")
    for key in ("scorers", "embedders"):
        want = table.get(key)
        got = getattr(spec, key)
        assert got == (None if want is None else tuple(dict.fromkeys(want)))
    assert DrawSpec.from_mapping(json.loads(spec.to_json()), "x") == spec
    assert DrawSpec(**spec.to_mapping()) == spec


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 64), min_size=1, max_size=5),
    st.lists(st.integers(1, 64), min_size=1, max_size=5),
    st.lists(st.sampled_from(["sbert", "bleu", "orm"]), min_size=1, max_size=4),
    st.booleans(),
    st.integers(0, MAX_SEED),
    opt_pos,
)
def test_prune_spec_normalises_and_round_trips(
    sizes: list[int], keep: list[int], metrics: list[str], weighted: bool, seed: int, workers: Any
) -> None:
    table = {"sizes": sizes, "keep": keep, "metrics": metrics, "weighted": weighted, "seed": seed}
    spec = PruneSpec.from_mapping({**table, "workers": workers}, "x")
    assert (list(spec.sizes), list(spec.keep)) == (sorted(set(sizes)), sorted(set(keep)))
    assert list(spec.metrics) == list(dict.fromkeys(metrics))
    assert PruneSpec.from_mapping(json.loads(spec.to_json()), "x") == spec


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["orm:m", "classifier:org/m"]),
    st.integers(1, 100_000),
    st.booleans(),
    st.sampled_from([None, "auto", "float32", "bfloat16", "float16"]),
    st.floats(min_value=1e-3, max_value=600),
    st.booleans(),
)
def test_score_embed_grade_specs_round_trip(
    scorer: str, batch: int, flag: bool, dtype: str | None, timeout: float, regrade: bool
) -> None:
    score = ScoreSpec.from_mapping(
        {"scorer": scorer, "batch_size": batch, "store_hidden": flag, "dtype": dtype}, "x"
    )
    assert score.dtype == (None if dtype == "auto" else dtype)
    embed = EmbedSpec.from_mapping({"batch_size": batch, "backend": "onnx"}, "x")
    grade = GradeSpec.from_mapping(
        {"timeout": timeout, "regrade": regrade, "workers": min(batch, 1024)}, "x"
    )
    for spec in (score, embed, grade):
        assert type(spec).from_mapping(json.loads(spec.to_json()), "x") == spec
    assert grade.timeout == timeout and embed.embedder.endswith("all-MiniLM-L6-v2")


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("draw", {"sizes": [], "reps": 1}, "sizes"),
    ("draw", {"sizes": [0], "reps": 1}, "sizes"),
    ("draw", {"sizes": [True], "reps": 1}, "sizes"),
    ("draw", {"sizes": "4,8", "reps": 1}, "sizes"),
    ("draw", {"sizes": list(range(1, 66)), "reps": 1}, "sizes"),
    ("draw", {"sizes": [2], "reps": 0}, "reps"),
    ("draw", {"sizes": [2], "reps": 1.5}, "reps"),
    ("draw", {"sizes": [2]}, "reps"),
    ("draw", {"sizes": [2], "reps": 1, "seed": -1}, "seed"),
    ("draw", {"sizes": [2], "reps": 1, "seed": 2**63}, "seed"),
    ("draw", {"sizes": [2], "reps": 1, "quality": "rewards"}, "quality"),
    ("draw", {"sizes": [2], "reps": 1, "workers": 0}, "workers"),
    ("draw", {"sizes": [2], "reps": 1, "distinct_n": 101}, "distinct_n"),
    ("draw", {"sizes": [2], "reps": 1, "scorers": "orm:a"}, "scorers"),
    ("draw", {"sizes": [2], "reps": 1, "colour": 1}, "colour"),
    ("prune", {"sizes": [8], "metrics": ["cosine"]}, "metrics"),
    ("prune", {"sizes": [8], "keep": [0]}, "keep"),
    ("prune", {"sizes": [8], "weighted": 1}, "weighted"),
    ("prune", {"keep": [1]}, "sizes"),
    ("score", {"scorer": "probe:e"}, "scorer"),
    ("score", {"scorer": "orm:m", "dtype": "int8"}, "dtype"),
    ("score", {"scorer": "orm:m", "batch_size": 0}, "batch_size"),
    ("score", {}, "scorer"),
    ("embed", {"backend": "tensorrt"}, "backend"),
    ("embed", {"batch_size": 0}, "batch_size"),
    ("embed", {"name": ""}, "name"),
    ("grade", {"timeout": 0}, "timeout"),
    ("grade", {"timeout": float("nan")}, "timeout"),
    ("grade", {"regrade": "yes"}, "regrade"),
    ("grade", {"workers": 0}, "workers"),
]


@pytest.mark.parametrize(("stage", "table", "field"), BAD)
def test_bad_fields_are_one_line_errors_naming_where_and_the_field(
    stage: str, table: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as err:
        SPECS[stage].from_mapping(table, "f.toml")
    msg = str(err.value)
    assert msg.startswith(f"f.toml: field {field}: ") and "\n" not in msg, msg
    assert err.value.field == field and err.value.what and msg.endswith(err.value.what)


def test_a_spec_that_exists_is_valid_and_frozen() -> None:
    with pytest.raises(SpecError, match="DrawSpec: field reps"):
        DrawSpec(sizes=(2,), reps=0)
    spec = DrawSpec(sizes=[8, 2, 8], reps=3)  # type: ignore[arg-type]
    assert spec.sizes == (2, 8) and spec.seed == 0
    with pytest.raises(AttributeError):
        spec.reps = 4  # type: ignore[misc]


def _ways_in(tmp_path: Path, draw: dict[str, Any]) -> dict[str, Path]:
    """The same study drawn with ``draw`` settings by the CLI, a study file and a remote job."""
    base = tmp_path / "base.duckdb"
    make_study(base, problems=2, n=5)
    paths = {w: tmp_path / f"{w}.duckdb" for w in ("cli", "study", "job")}
    for p in paths.values():
        shutil.copy(base, p)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in draw.items() if k != "sizes"]
    sizes = ",".join(map(str, draw["sizes"]))
    out = run_divtui(
        "draw", "--db", str(paths["cli"]), "--sizes", sizes, *flags, "--no-report-cache"
    )
    assert out.returncode == 0, out.stderr
    toml = "\n".join(f"{k} = {json.dumps(v)}" for k, v in draw.items())
    (tmp_path / "study.toml").write_text(f'[study]\ndb = "study.duckdb"\n\n[draw]\n{toml}\n')
    out = run_divtui("run", str(tmp_path / "study.toml"))
    assert out.returncode == 0, out.stderr
    problems = [{"problem_id": f"p{i}", "question": "q"} for i in range(2)]
    job = tmp_path / "job"
    job.mkdir()
    (job / "spec.json").write_text(js.dump_spec(js.draw_spec(problems, **draw)))
    spec = js.load_spec(job / "spec.json")
    con = open_db(paths["job"])
    try:
        worker.run_draw(con, spec, job)
    finally:
        con.close()
    return paths


def test_quality_both_and_the_default_seed_are_the_same_through_every_way_in(
    tmp_path: Path,
) -> None:
    draw = {"sizes": [3, 2], "reps": 2, "quality": "both", "workers": 1}
    paths = _ways_in(tmp_path, draw)
    ref = tmp_path / "ref.duckdb"
    shutil.copy(tmp_path / "base.duckdb", ref)
    con = open_db(ref)
    run_draws(con, DrawSpec(sizes=(2, 3), reps=2, seed=0, quality="both"), notice=lambda _: None)
    want = stored(con)
    assert {r[-1] for r in con.execute("SELECT seed FROM draws").fetchall()} == {0}
    qual = con.execute("SELECT count(*) FROM draw_metrics WHERE metric LIKE 'qual_dpp%'")
    assert want[0] and qual.fetchall()[0][0] > 0
    con.close()
    for way, path in paths.items():
        con = open_db(path, read_only=True)
        assert stored(con) == want, way
        con.close()
    assert load_study(tmp_path / "study.toml").specs["draw"][0][1].quality == "both"


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("sizes", [0, 4], "0 is not a positive integer (at most 100000)"),
        ("distinct_n", 101, "must be an integer in [1, 100], got 101"),
        ("reps", 2_000_000, "must be an integer in [1, 1000000], got 2000000"),
        ("workers", 5000, "must be a positive integer (at most 1024) or absent, got 5000"),
    ],
)
def test_the_same_bad_value_fails_the_same_way_through_every_way_in(
    tmp_path: Path, field: str, value: int, what: str
) -> None:
    db = tmp_path / "s.duckdb"
    make_study(db, problems=1, n=3)
    draw = {"sizes": [2], "reps": 2, field: value}
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in draw.items() if k != "sizes"]
    sizes = ",".join(map(str, draw["sizes"]))
    out = run_divtui("draw", "--db", str(db), "--sizes", sizes, *flags)
    assert out.returncode == 1 and out.stderr.strip().splitlines() == [
        f"error: --{field.replace('_', '-')}: {what}"
    ]
    toml = "\n".join(f"{k} = {v}" for k, v in draw.items())
    study = tmp_path / "study.toml"
    study.write_text(f'[study]\ndb = "s.duckdb"\n\n[draw]\n{toml}\n')
    with pytest.raises(StudyError) as err:
        load_study(study)
    line = 1 + study.read_text().splitlines().index(f"{field} = {value}")
    assert str(err.value) == f"{study}:{line}: key draw.{field}: {what}"
    with pytest.raises(SpecError) as bad:
        js.draw_spec([{"problem_id": "p", "question": "q"}], **draw)
    assert str(bad.value) == f"job spec: field draw.{field}: {what}"
    con = open_db(db, read_only=True)
    assert con.execute("SELECT count(*) FROM draws").fetchall() == [(0,)]
    con.close()


def test_study_tables_become_one_spec_per_call(tmp_path: Path) -> None:
    study = tmp_path / "study.toml"
    study.write_text(
        '[study]\ndb = "s.duckdb"\n\n[grade]\ntimeout = 2\n\n[score]\n'
        'scorers = ["orm:a", "classifier:b"]\nbatch_size = 4\n\n[embed]\nbackend = "onnx"\n'
    )
    specs = load_study(study).specs
    assert specs["grade"] == [("grade", GradeSpec(timeout=2.0))]
    assert [s for _, s in specs["score"]] == [
        ScoreSpec(scorer="orm:a", batch_size=4),
        ScoreSpec(scorer="classifier:b", batch_size=4),
    ]
    assert specs["embed"] == [("embed default", EmbedSpec(backend="onnx"))]
    study.write_text(study.read_text().replace('"onnx"', '"tensorrt"'))
    with pytest.raises(StudyError, match=r"study\.toml:12: key embed\.backend: must be one of"):
        load_study(study)
    study.write_text(study.read_text().replace('"classifier:b"', '"probe:b"'))
    with pytest.raises(StudyError, match=r"study\.toml:8: key score\.scorers: scorer 'probe:b'"):
        load_study(study)
