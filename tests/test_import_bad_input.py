"""Bad input to every import format: one clear FILE:LINE: field error, never a traceback or half import."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divtui.engine.file_import import ImportFileError, import_file
from divtui.store import open_db
from divtui.store.catalog import table_counts
from tests.conftest import run_divtui

SYSTEMS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def native(i: int) -> dict[str, Any]:
    """A valid native record; line i is sample i % 3 of problem i // 3."""
    return {
        "problem_id": f"p{i // 3}",
        "question": f"Q{i // 3}?",
        "gold_answer": "7",
        "temperature": 0.5,
        "sample_idx": i % 3,
        "text": f"so \\boxed{{{i}}}",
        "mean_logprob": -0.25,
        "scores": {"orm:m": 0.5},
        "embeddings": {"e": [0.5, -1.0]},
    }


def qwen(i: int) -> dict[str, Any]:
    """A valid qwen-math-eval line with two responses."""
    return {
        "idx": i,
        "question": f"Q{i}?",
        "gt": "3",
        "level": "Level 2",
        "code": ["a \\boxed{3}", "b \\boxed{4}"],
        "pred": ["3", "4"],
        "score": [True, False],
        "pred_score": [[0.9], [0.1]],
    }


def gsm8k(i: int) -> dict[str, Any]:
    """A valid example_model_solutions line."""
    line = {"question": f"Q{i}?", "ground_truth": f"work\nA: {i}"}
    for k, s in enumerate(SYSTEMS):
        line[s] = {"is_correct": k % 2 == 0, "solution": f"sol {k}\nA: {i}"}
    return line


def sal(i: int) -> dict[str, Any]:
    """A valid search-and-learn row with two completions."""
    return {
        "problem": f"Q{i}?",
        "answer": "5",
        "unique_id": f"test/{i}.json",
        "completions": ["x \\boxed{5}", "y \\boxed{6}"],
        "scores": [[0.2, 0.8], [0.4]],
        "completion_tokens": [10, 20],
        "agg_scores": [0.8, 0.4],
    }


# format -> (line maker, fields with a wrong-typed value for each, required fields, duplicable)
FORMATS: dict[str, tuple[Any, dict[str, list[Any]], list[str], bool]] = {
    "jsonl": (
        native,
        {
            "problem_id": [5, [], True],
            "question": [1, {}],
            "gold_answer": [[1], True, {}],
            "temperature": ["hot", True, [0.5], -1],
            "text": [3, None, ["t"]],
            "sample_idx": [1.5, "0", -2, True],
            "mean_logprob": ["x", [1]],
            "scores": [[1], 3],
            "embeddings": ["v", [1.0]],
        },
        ["problem_id", "question", "gold_answer", "temperature", "text"],
        True,
    ),
    "qwen-math-eval": (
        qwen,
        {
            "idx": ["1", 1.5, -1],
            "question": [2, []],
            "gt": [[3], False],
            "code": ["text", [1, 2], []],
            "pred": [["3"], "3"],
            "score": [[1, 0], "yes"],
            "pred_score": [[0.9, 0.1], [[0.9, 1], [0.1]], [["a"], [0.1]]],
        },
        ["idx", "question", "gt", "code"],
        True,
    ),
    "gsm8k-example-solutions": (
        gsm8k,
        {
            "question": [1, []],
            "ground_truth": [5, "no marker here"],
            "6b_finetuning": ["sol", [1], {"is_correct": "yes", "solution": "s"}],
            "175b_verification": [{"is_correct": True, "solution": 3}, {"solution": "s"}],
        },
        ["question", "ground_truth", *SYSTEMS],
        False,
    ),
    "search-and-learn": (
        sal,
        {
            "problem": [1, None],
            "answer": [[5], {}],
            "completions": ["c", [1, "a"], []],
            "scores": [[[0.2]], [[], [0.1]], [["a"], [0.1]]],
            "completion_tokens": [[1.5, 2], [1]],
            "agg_scores": [["x", 1], 0.5],
            "unique_id": [3, ""],
        },
        ["problem", "answer", "completions"],
        True,
    ),
}
ERROR = re.compile(r"^(?P<file>.+):(?P<line>\d+): field (?P<field>\S+): \S.*$")


def _prepopulated(path: Path) -> duckdb.DuckDBPyConnection:
    """A database that already holds an earlier import, so a failure must leave it intact."""
    good = path.with_suffix(".seed.jsonl")
    good.write_text(
        "".join(json.dumps(native(i) | {"problem_id": f"seed{i}"}) + "\n" for i in range(4))
    )
    con = open_db(path)
    import_file(con, good, "jsonl", run_id="seed")
    return con


def _corrupt(
    fmt: str, lines: list[dict[str, Any]], kind: str, at: int, data: Any
) -> tuple[bytes, str]:
    """The file's bytes with line ``at`` corrupted, and the field the error must name."""
    maker, wrong, required, _ = FORMATS[fmt]
    texts = [json.dumps(x).encode() for x in lines]
    field = "<record>"
    if kind == "truncated":
        cut = data.draw(st.integers(1, len(texts[at]) - 1))
        texts[at] = texts[at][:cut]
    elif kind == "non_utf8":
        pos = data.draw(st.integers(0, len(texts[at])))
        texts[at] = (
            texts[at][:pos]
            + data.draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]))
            + texts[at][pos:]
        )
    elif kind == "wrong_type":
        field = data.draw(st.sampled_from(sorted(wrong)))
        texts[at] = json.dumps(
            lines[at] | {field: data.draw(st.sampled_from(wrong[field]))}
        ).encode()
    elif kind == "missing":
        field = data.draw(st.sampled_from(required))
        texts[at] = json.dumps({k: v for k, v in lines[at].items() if k != field}).encode()
    elif kind == "duplicate":
        src = data.draw(st.integers(0, at - 1)) if at else 0
        texts.insert(at, texts[src] if at else texts[0])
        field = "sample_idx"
    elif kind == "not_an_object":
        texts[at] = json.dumps(data.draw(st.sampled_from([[1, 2], "s", 3, None]))).encode()
    return b"\n".join(texts) + b"\n", field


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_bad_record_gives_one_clear_error_and_stores_nothing(
    tmp_path: Path, fmt: str, data: Any
) -> None:
    maker, _, _, duplicable = FORMATS[fmt]
    kinds = ["truncated", "non_utf8", "wrong_type", "missing", "not_an_object"]
    kind = data.draw(st.sampled_from(kinds + (["duplicate"] if duplicable else [])))
    n = data.draw(st.integers(1, 6))
    at = data.draw(st.integers(1 if kind == "duplicate" else 0, n - 1)) if n > 1 else 0
    if kind == "duplicate" and n == 1:
        n, at = 2, 1
    lines = [maker(i) for i in range(n)]
    raw, field = _corrupt(fmt, lines, kind, at, data)
    path = tmp_path / f"bad-{fmt}.jsonl"
    path.write_bytes(raw)
    db = tmp_path / f"{fmt}.duckdb"
    con = _prepopulated(db) if not db.exists() else open_db(db)
    try:
        before = table_counts(con)
        with pytest.raises(ImportFileError) as err:
            import_file(con, path, fmt, run_id="bad")
        msg = str(err.value)
        m = ERROR.match(msg)
        assert m, msg
        assert "\n" not in msg
        assert m["file"] == str(path)
        assert int(m["line"]) == at + 1, msg
        if kind == "duplicate" and fmt != "jsonl":
            assert m["field"] in ("sample_idx", "question", "gold_answer"), msg
        elif kind == "not_an_object":
            assert m["field"] == "<record>", msg
        else:
            assert m["field"].split(".")[0].split("[")[0] == field.split(".")[0] or (
                kind == "wrong_type" and m["field"].startswith(tuple(FORMATS[fmt][1]))
            ), msg
        assert table_counts(con) == before
    finally:
        con.close()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_empty_file_is_an_error(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    con = open_db(tmp_path / "a.duckdb")
    with pytest.raises(
        ImportFileError, match=re.escape(f"{path}:1: field <record>: the file holds no records")
    ):
        import_file(con, path, fmt, run_id="e")
    assert table_counts(con)["runs"] == 0


def test_conflicting_problem_within_file(tmp_path: Path) -> None:
    lines = [native(0), native(1) | {"gold_answer": "8"}]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    con = open_db(tmp_path / "a.duckdb")
    with pytest.raises(
        ImportFileError, match=re.escape(f"{path}:2: field gold_answer: problem 'p0'")
    ):
        import_file(con, path, "jsonl", run_id="c")


@pytest.mark.parametrize(
    ("content", "line", "field"),
    [
        (json.dumps(native(0)).encode() + b"\n" + b'{"problem_id": "p\xff"}\n', 2, "<record>"),
        (
            json.dumps({k: v for k, v in native(0).items() if k != "text"}).encode() + b"\n",
            1,
            "text",
        ),
        (
            json.dumps(native(0) | {"temperature": 1e400}).encode().replace(b"Infinity", b"1e400")
            + b"\n",
            1,
            "temperature",
        ),
        (b"", 1, "<record>"),
    ],
)
def test_cli_prints_one_line_and_exit_1(
    tmp_path: Path, content: bytes, line: int, field: str
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(content)
    db = tmp_path / "a.duckdb"
    _prepopulated(db).close()
    out = run_divtui("import", str(path), "--format", "jsonl", "--db", str(db), "--no-grade")
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: {path}:{line}: field {field}: "), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    con = open_db(db, read_only=True)
    assert table_counts(con)["samples"] == 4
    con.close()
