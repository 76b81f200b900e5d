"""Two runs in one file: a second model's `divtui generate` reuses the file's problems, and runs
of one dataset from other sources (a generated run, an imported file) share problems by id."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from divtui.engine import run_compare as rc
from divtui.store import open_db
from divtui.store.problems import same_gold, same_question

from .conftest import run_divtui
from .tiny_models import build_causal_lm, device_for_tests

QUESTIONS = ["What is 2 + 3?", "Find x if 3x + 4 = 19.", "Compute 12 - 7 in \\boxed{}."]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different tiny causal LMs (other random weights), saved and loaded by path."""
    root = tmp_path_factory.mktemp("tiny")
    return build_causal_lm(root / "model-a", seed=0), build_causal_lm(root / "model-b", seed=1)


def gen_args(db: Path, model: Path, *extra: str) -> list[str]:
    """A small `divtui generate` command line."""
    return [
        "generate", "--db", str(db), "--model", str(model), "--temperatures", "1",
        "--n", "3", "--max-tokens", "5", "--device", device_for_tests(), *extra,
    ]  # fmt: skip


def problem_sets(db: Path) -> tuple[int, dict[str, set[str]]]:
    """Problems stored, and each run's problem ids (plain SQL)."""
    con = open_db(db, read_only=True)
    n = con.execute("SELECT count(*) FROM problems").fetchall()[0][0]
    rows = con.execute("SELECT DISTINCT run_id, problem_id FROM samples").fetchall()
    con.close()
    runs: dict[str, set[str]] = {}
    for run, pid in rows:
        runs.setdefault(run, set()).add(pid)
    return int(n), runs


def test_second_model_reuses_the_problems_of_the_file(
    tmp_path: Path, models: tuple[Path, Path]
) -> None:
    data = tmp_path / "probs.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": "5"}) + "\n" for q in QUESTIONS))
    db = tmp_path / "two.duckdb"
    empty = run_divtui(*gen_args(db, models[0]))
    assert empty.returncode == 1
    assert empty.stderr.strip() == "error: no problems in the database yet: give --dataset"
    first = run_divtui(*gen_args(db, models[0], "--dataset", str(data), "--run-id", "model-a"))
    assert first.returncode == 0, first.stderr
    second = run_divtui(*gen_args(db, models[1], "--run-id", "model-b"))
    assert second.returncode == 0, second.stderr
    assert "run model-b: 3 pools sampled" in second.stdout
    n, runs = problem_sets(db)
    assert n == 3 and runs["model-a"] == runs["model-b"] == {"probs:0", "probs:1", "probs:2"}
    con = open_db(db, read_only=True)
    config = json.loads(
        con.execute("SELECT config FROM runs WHERE run_id = 'model-b'").fetchall()[0][0]
    )
    con.close()
    assert config["dataset"] == "stored" and config["model"] == str(models[1])

    third = run_divtui(
        *gen_args(db, models[1], "--problems-of", "model-a", "--limit", "2", "--run-id", "c")
    )
    assert third.returncode == 0, third.stderr
    assert problem_sets(db)[1]["c"] == {"probs:0", "probs:1"}

    bad = run_divtui(*gen_args(db, models[1], "--problems-of", "nope"))
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "error: option --problems-of: no run 'nope' in the database"
    )
    both = run_divtui(*gen_args(db, models[1], "--problems-of", "model-a", "--dataset", str(data)))
    assert both.returncode == 1 and "without --dataset" in both.stderr

    changed = tmp_path / "changed" / "probs.jsonl"
    changed.parent.mkdir()
    changed.write_text(
        "".join(json.dumps({"question": q + " (v2)", "answer": "5"}) + "\n" for q in QUESTIONS)
    )
    clash = run_divtui(*gen_args(db, models[1], "--dataset", str(changed), "--run-id", "d"))
    assert clash.returncode == 1
    assert clash.stderr.startswith(
        "error: problem 'probs:0' is already stored with a different question"
    )
    assert "d" not in problem_sets(db)[1]

    graded = run_divtui("grade", "--db", str(db), "--workers", "1")
    assert graded.returncode == 0, graded.stderr
    con = open_db(db, read_only=True)
    rows = rc.comparison_table(con, "model-a,model-b", n_boot=0)
    con.close()
    assert rows[0]["n_problems"] == 3 and rows[0]["pool_size_min"] == 3


def test_same_gold_ignores_spacing_dollars_and_digit_group_commas() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        x = int(rng.integers(1000, 10**10))
        grouped = f"{x:,}"
        assert same_gold(grouped, str(x)) and same_gold(str(x), grouped)
        assert same_gold(f"${grouped}$", f" {x} ")
        assert same_gold(grouped.replace(",", "{,}"), str(x))
        assert not same_gold(grouped, str(x + 1))
    for a, b in [("(1,2)", "(12)"), ("1,23", "123"), ("1,2345", "12345"), ("x,000", "x000")]:
        assert not same_gold(a, b), (a, b)
    assert same_gold(None, None) and not same_gold(None, "1")
    assert same_question("What  is\n2+2?", " What is 2+2? ")
    assert not same_question("What is 2+2?", "What is 2+3?")


def sparse_copy(source: Path, target: Path, keep: set[int]) -> Path:
    """``source`` with every line but the 0-based indices ``keep`` blanked: the readers skip
    blank lines but count them, so the kept lines keep their problem ids."""
    lines = source.read_text(encoding="utf-8").splitlines()
    target.write_text(
        "".join((line if i in keep else "") + "\n" for i, line in enumerate(lines)),
        encoding="utf-8",
    )
    return target


@pytest.mark.shared_data
def test_generated_and_imported_gsm8k_runs_share_problems_by_id(
    tmp_path: Path, shared_data: Path, models: tuple[Path, Path]
) -> None:
    keep = {0, 146}  # problem 146's gold is 2,125 in both files; generate drops the comma
    test = sparse_copy(shared_data / "gsm8k_test.jsonl", tmp_path / "gsm8k_test.jsonl", keep)
    sols = sparse_copy(
        shared_data / "gsm8k_example_model_solutions.jsonl", tmp_path / "examples.jsonl", keep
    )
    db = tmp_path / "gsm8k.duckdb"
    gen = run_divtui(
        *gen_args(db, models[0], "--dataset", str(test), "--dataset-name", "gsm8k"),
        "--answer-marker", "####", "--run-id", "tiny",
    )  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    imp = run_divtui(
        "import", str(sols), "--format", "gsm8k-example-solutions", "--db", str(db),
        "--run", "openai",
    )  # fmt: skip
    assert imp.returncode == 0, imp.stderr
    assert "2 problems (0 new, 2 already present)" in imp.stdout
    n, runs = problem_sets(db)
    assert n == 2 and runs["tiny"] == runs["openai"] == {"gsm8k:0", "gsm8k:146"}
    con = open_db(db, read_only=True)
    gold = con.execute("SELECT gold_answer FROM problems WHERE problem_id = 'gsm8k:146'").fetchall()
    con.close()
    assert gold == [("2125",)]  # generate's reading is kept; the file says "A: 2,125"
    assert run_divtui("grade", "--db", str(db), "--workers", "1").returncode == 0
    rep = run_divtui(
        "report", "--db", str(db), "--runs", "openai@0,tiny@1", "--format", "json", "--boot", "0"
    )
    assert rep.returncode == 0, rep.stderr
    rows = json.loads(rep.stdout)["tables"]["run_comparison"]
    assert rows[0]["n_problems"] == 2 and rows[0]["only_a"] == rows[0]["only_b"] == 0
    assert [r["k"] for r in rows] == [1, 2, 3]
