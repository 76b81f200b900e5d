"""Hostile import files: one set of JSON rules on both paths, one-line errors, nothing stored.

The fuzz test drives the real CLI in-process (``run_cli`` on a real DuckDB file) with a few
hundred generated files, each holding exactly one hostile line among good ones; the property
test feeds the same generated files to the fast path and to the line-by-line validator and
requires the same outcome.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from divtui.cli import cli
from divtui.engine import file_import as import_cmd
from divtui.engine.file_import import ImportFileError, import_file
from divtui.errors import run_cli
from divtui.store import TABLES, open_db
from divtui.store.terminal import is_safe
from tests.conftest import run_divtui
from tests.test_import_bad_input import native

ERROR = re.compile(r"^error: (?P<file>.+):(?P<line>\d+): field (?P<field>\S+): \S.*$")
HOSTILE_NAME = "x\x1b]52;c;cHduZWQ=\x07\u202e\u200b"


def checksum(db: Path) -> dict[str, tuple[int, str]]:
    """Row count and an md5 of the sorted rows of every table (runs without created_at)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for t in TABLES:
            cols = "* EXCLUDE (created_at)" if t in ("runs", "jobs") else "*"
            rows = sorted(map(repr, con.execute(f"SELECT {cols} FROM {t}").fetchall()))
            out[t] = (len(rows), hashlib.md5("\n".join(rows).encode()).hexdigest())
        return out
    finally:
        con.close()


def cli_run(*args: str) -> tuple[int, str, str]:
    """The real CLI in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = run_cli(cli, list(args))
    return rc, out.getvalue(), err.getvalue()


def _line(rec: dict[str, Any]) -> bytes:
    """One JSON line."""
    return json.dumps(rec).encode()


def _hostile(kind: str, base: dict[str, Any], data: Any) -> tuple[bytes, str]:
    """A bad line of the given kind built from the good record ``base``, and the field the
    error must name (a prefix of it)."""
    text = _line(base)
    field = data.draw(
        st.sampled_from(["problem_id", "question", "gold_answer", "text", "finish_reason"])
    )
    if kind == "truncated":
        return text[: data.draw(st.integers(1, len(text) - 1))], "<record>"
    if kind == "trailing_comma":
        where = data.draw(st.sampled_from(["top", "scores", "vector"]))
        if where == "top":
            return text[:-1] + b", }", "<record>"
        if where == "scores":
            return text.replace(b'"orm:m": 0.5}', b'"orm:m": 0.5,}'), "<record>"
        return text.replace(b"-1.0]", b"-1.0 ,]"), "<record>"
    if kind == "nan":
        token = data.draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "nan", "inf"]))
        where = data.draw(st.sampled_from(["unknown", "temperature", "scores"]))
        if where == "unknown":
            return text[:-1] + f', "extra": [1, {token}]}}'.encode(), "<record>"
        if where == "temperature":
            return text.replace(b'"temperature": 0.5', f'"temperature": {token}'.encode()), ""
        return text.replace(b'"orm:m": 0.5', f'"orm:m": {token}'.encode()), ""
    if kind == "duplicate_key":
        where = data.draw(st.sampled_from(["known", "unknown", "nested"]))
        if where == "known":
            known = data.draw(st.sampled_from(["problem_id", "question", "text", "gold_answer"]))
            return text[:-1] + f', "{known}": "again"}}'.encode(), known
        if where == "unknown":
            return text[:-1] + f', "{HOSTILE_NAME}": 1, "{HOSTILE_NAME}": 2}}'.encode(), ""
        return text[:-1] + b', "meta": {"a": 1, "a": 2}}', "a"
    if kind == "deep":
        depth = data.draw(st.integers(2000, 20000))
        return text[:-1] + b', "extra": ' + b"[" * depth + b"]" * depth + b"}", "<record>"
    if kind == "bom_mid_file":
        return b"\xef\xbb\xbf" + text, "<record>"
    if kind == "surrogate":
        esc = data.draw(st.sampled_from(["\\ud800", "\\udfff", "\\uDC00x"]))
        rec = json.dumps(base | {field: "a" + "SURR"}).encode()
        return rec.replace(b"SURR", esc.encode()), field
    if kind == "big_int":
        digits = b"9" * data.draw(st.integers(4301, 6000))
        return text.replace(b'"sample_idx": ', b'"sample_idx": ' + digits + b', "x": '), ""
    if kind == "null_inside":
        if data.draw(st.booleans()):
            return _line(base | {"scores": {"orm:m": None}}), "scores"
        return _line(base | {"embeddings": {"e": None}}), "embeddings"
    if kind == "wrong_type":
        value = data.draw(st.sampled_from([[], {}, True] + ([] if field == "gold_answer" else [5])))
        return _line(base | {field: value}), field
    if kind == "negative_temperature":
        return _line(base | {"temperature": -0.5}), "temperature"
    if kind == "empty_vector":
        return _line(base | {"embeddings": {"e": []}}), "embeddings"
    if kind == "control_in_raw_string":
        return text.replace(b'"text": "', b'"text": "\x1b[2J'), "<record>"
    raise AssertionError(kind)


KINDS = [
    "truncated",
    "trailing_comma",
    "nan",
    "duplicate_key",
    "deep",
    "bom_mid_file",
    "surrogate",
    "big_int",
    "null_inside",
    "wrong_type",
    "negative_temperature",
    "empty_vector",
    "control_in_raw_string",
    "stored_problem",
    "changed_sample",
    "duplicate_sample",
]


SEEDED_SUMS: dict[Path, dict[str, tuple[int, str]]] = {}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A study file holding an earlier import (run 'r', problems p0, p1), and that file."""
    d = tmp_path_factory.mktemp("seeded")
    seed = d / "r.jsonl"
    seed.write_text("".join(json.dumps(native(i)) + "\n" for i in range(6)))
    db = d / "study.duckdb"
    con = open_db(db)
    import_file(con, seed, "jsonl", run_id="r")
    con.close()
    return db, seed


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzz_hostile_files_one_line_error_database_unchanged(
    seeded: tuple[Path, Path], tmp_path: Path, data: Any
) -> None:
    db, _ = seeded
    kind = data.draw(st.sampled_from(KINDS))
    n = data.draw(st.integers(2, 8))
    at = data.draw(st.integers(1, n - 1))
    # new problems q*, in a new run unless the kind needs the stored run r
    run = "r" if kind == "changed_sample" else "fuzz"
    lines = [_line(native(i) | {"problem_id": f"q{i // 3}"}) for i in range(n)]
    field = ""
    if kind == "stored_problem":
        lines[at], field = _line(native(0) | {"question": "another question?"}), "question"
    elif kind == "changed_sample":
        lines[at], field = _line(native(0) | {"text": "a changed text"}), "text"
    elif kind == "duplicate_sample":
        lines[at], field = lines[at - 1], "sample_idx"
    else:
        base = native(at) | {"problem_id": f"q{at // 3}"}
        lines[at], field = _hostile(kind, base, data)
    path = tmp_path / f"in {kind}[{at}].jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    before = SEEDED_SUMS.setdefault(db, checksum(db))  # every example must leave it so
    rc, out, err = cli_run(
        "import", str(path), "--format", "jsonl", "--db", str(db), "--run", run, "--no-grade"
    )
    assert rc == 1, (kind, out, err)
    assert "Traceback" not in err and out == ""
    assert len(err.splitlines()) == 1, err
    m = ERROR.match(err.rstrip("\n"))
    assert m, err
    assert m["file"] == str(path)
    assert int(m["line"]) == at + 1, (kind, err)
    assert m["field"].startswith(field) or not field or m["field"] == "<record>", (kind, err)
    assert is_safe(err.rstrip("\n")), err
    assert checksum(db) == before


# ---------- the same generated files through both paths ----------------------------------

VARIANTS = [
    b"",  # the good line as it is
    b"trailing_comma",
    b"nan_unknown",
    b"dup_unknown",
    b"dup_nested",
    b"deep_unknown",
    b"big_int_unknown",
    b"unknown_key",
    b"escaped_quote",
    b"numeric_gold",
    b"null_level",
    b"spaces",
    b"nested_unknown",
    b"surrogate_unknown",
]


def _variant(kind: bytes, i: int, depth: int) -> bytes:
    """Line i of a generated file, written in the given (valid or not) variant."""
    rec = native(i)
    text = _line(rec)
    if kind == b"trailing_comma":
        return text[:-1] + b",}"
    if kind == b"nan_unknown":
        return text[:-1] + b', "x": NaN}'
    if kind == b"dup_unknown":
        return text[:-1] + b', "x": 1, "x": 2}'
    if kind == b"dup_nested":
        return text[:-1] + b', "x": {"a": 1, "a": 1}}'
    if kind == b"deep_unknown":
        return text[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == b"big_int_unknown":
        return text[:-1] + b', "x": ' + b"7" * 4500 + b"}"
    if kind == b"unknown_key":
        return text[:-1] + b', "model": "m", "meta": {"k": [1, 2.5, null, true]}}'
    if kind == b"escaped_quote":
        return _line(rec | {"text": 'say "hi", then \\boxed{1}'}).replace(b'\\"', b"\\u0022")
    if kind == b"numeric_gold":
        return _line(rec | {"gold_answer": 7})
    if kind == b"null_level":
        return _line(rec | {"level": None, "subject": None})
    if kind == b"spaces":
        return b" \t" + json.dumps(rec, indent=None, separators=(" , ", " : ")).encode() + b" \r"
    if kind == b"nested_unknown":
        return text[:-1] + b', "x": ' + b"[" * 40 + b"]" * 40 + b"}"
    if kind == b"surrogate_unknown":
        return text[:-1] + b', "x": "\\ud83d"}'
    return text


def _outcome(db: Path, path: Path, fast: bool) -> tuple[str, Any]:
    """('ok', every table's rows) or ('error', the message) of one import into a fresh file."""
    con = open_db(db)
    bulk = import_cmd._bulk_jsonl
    try:
        if not fast:
            import_cmd._bulk_jsonl = lambda *a, **k: None  # type: ignore[assignment]
        import_file(con, path, "jsonl", run_id="run")
    except ImportFileError as e:
        return "error", str(e)
    finally:
        import_cmd._bulk_jsonl = bulk  # type: ignore[assignment]
        con.close()
    sums = checksum(db)
    sums.pop("runs")  # its config records which parser ran
    return "ok", sums


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kinds=st.lists(st.sampled_from(VARIANTS), min_size=1, max_size=6),
    bom=st.booleans(),
    depth=st.integers(1, 3000),
)
def test_fast_and_line_by_line_paths_agree(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[bytes], bom: bool, depth: int
) -> None:
    d = tmp_path_factory.mktemp("paths")
    path = d / "gen.jsonl"
    body = b"\n".join(_variant(k, i, depth) for i, k in enumerate(kinds)) + b"\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body)
    fast = _outcome(d / "fast.duckdb", path, fast=True)
    slow = _outcome(d / "slow.duckdb", path, fast=False)
    assert fast == slow, (kinds, fast, slow)


def test_a_line_is_judged_alone(tmp_path: Path) -> None:
    """A trailing comma is refused whether or not another line sends the file line by line."""
    clean = [_line(native(i)) for i in range(3)]
    bad = _line(native(3))[:-1] + b",}"
    numeric_gold = _line(native(4) | {"gold_answer": 7})  # makes the fast path decline
    for extra in ([], [numeric_gold]):
        path = tmp_path / "f.jsonl"
        path.write_bytes(b"\n".join([*clean, bad, *extra]) + b"\n")
        con = open_db(tmp_path / f"{len(extra)}.duckdb")
        with pytest.raises(
            ImportFileError, match=r"f\.jsonl:4: field <record>: invalid or truncated"
        ):
            import_file(con, path, "jsonl", run_id="r")
        con.close()


# ---------- file names DuckDB would glob ---------------------------------------------------


@pytest.mark.parametrize(
    "name", ["run[1].jsonl", "a*.jsonl", "?.jsonl", 'it\'s a "q" .jsonl', "~x.jsonl"]
)
def test_only_the_named_file_is_read(tmp_path: Path, name: str) -> None:
    """``run[1].jsonl`` is that file, never run1.jsonl; ``a*.jsonl`` never matches others."""
    decoys = ["run1.jsonl", "a1.jsonl", "ab.jsonl", "x.jsonl", "a.jsonl"]
    for i, decoy in enumerate(decoys):
        (tmp_path / decoy).write_text(json.dumps(native(i) | {"problem_id": f"decoy{i}"}) + "\n")
    target = tmp_path / name
    target.write_text("".join(json.dumps(native(i)) + "\n" for i in range(3)))
    con = open_db(tmp_path / "s.duckdb")
    try:
        import_file(con, target, "jsonl", run_id="r")
        pids = sorted(p for (p,) in con.execute("SELECT problem_id FROM samples").fetchall())
        parser = con.execute("SELECT config->>'parser' FROM runs").fetchall()[0][0]
    finally:
        con.close()
    assert pids == ["p0", "p0", "p0"]
    assert parser == "bulk"  # the fast path read it, through its plain-named link


# ---------- one-line errors for the other formats and options ------------------------------


@pytest.mark.parametrize(
    ("fmt", "line", "field"),
    [
        ("jsonl", {**native(0), "question": "SURR"}, "question"),
        ("jsonl", {**native(0), "scores": {"SURR": 0.5}}, "scores"),
        ("jsonl", {**native(0), "embeddings": {"e": [0.5], "eSURR": [1.0]}}, "embeddings"),
        (
            "qwen-math-eval",
            {"idx": 0, "question": "q", "gt": "3", "code": ["a SURR"], "pred": ["3"]},
            "code",
        ),
        (
            "gsm8k-example-solutions",
            {
                "question": "q",
                "ground_truth": "A: 1",
                **{
                    s: {"is_correct": True, "solution": "SURR"}
                    for s in ("6b_finetuning", "6b_verification", "175b_finetuning")
                },
                "175b_verification": {"is_correct": True, "solution": "s"},
            },
            "6b_finetuning",
        ),
        (
            "search-and-learn",
            {"problem": "SURR", "answer": "5", "completions": ["x"]},
            "problem",
        ),
    ],
)
def test_lone_surrogate_in_any_format_is_one_line(
    tmp_path: Path, fmt: str, line: dict[str, Any], field: str
) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(json.dumps(line).replace("SURR", "\\ud800").encode() + b"\n")
    out = run_divtui("import", str(path), "--format", fmt, "--db", str(tmp_path / "d.duckdb"))
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1
    assert re.match(rf"error: .*s\.jsonl:1: field {field}\S*: .*lone surrogate", out.stderr)


def test_non_utf8_dataset_and_file_name(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"idx": 0, "question": "q", "gt": "3", "code": ["a"]}) + "\n")
    import subprocess
    import sys

    exe = os.fsencode(Path(sys.executable).with_name("divtui"))
    db = os.fsencode(tmp_path / "d.duckdb")
    out = subprocess.run(
        [exe, b"import", os.fsencode(path), b"--format", b"qwen-math-eval", b"--db", db,
         b"--dataset", b"caf\xe9"],
        capture_output=True,
    )  # fmt: skip
    assert out.returncode == 1 and b"Traceback" not in out.stderr
    assert out.stderr.startswith(b"error: --dataset: not valid UTF-8")
    odd = tmp_path / os.fsdecode(b"run\xff.jsonl")
    odd.write_bytes(path.read_bytes())
    out = subprocess.run(
        [exe, b"import", os.fsencode(odd), b"--format", b"qwen-math-eval", b"--db", db,
         b"--no-grade"],
        capture_output=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    con = open_db(tmp_path / "d.duckdb", read_only=True)
    assert con.execute("SELECT run_id FROM runs").fetchall() == [("run\ufffd",)]
    con.close()


@pytest.mark.parametrize("fmt_line", ["scores", "embeddings"])
def test_null_inside_scores_or_embeddings(tmp_path: Path, fmt_line: str) -> None:
    lines = [native(i) for i in range(3)]
    lines[2][fmt_line] = {"name": None}
    path = tmp_path / "n.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    con = open_db(tmp_path / "d.duckdb")
    with pytest.raises(ImportFileError, match=rf"n\.jsonl:3: field {fmt_line}\.name: "):
        import_file(con, path, "jsonl", run_id="r")
    con.close()


def test_messages_do_not_mislead(tmp_path: Path, seeded: tuple[Path, Path]) -> None:
    con = open_db(tmp_path / "d.duckdb")
    cases = {
        b'{"problem_id": "p, "x": 1}': "Expecting ',' delimiter at column",
        b'{"problem_id": "p': "Unterminated string starting at column 16",
        _line(native(0))[:-1] + b', "n_tokens": ' + b"9" * 5000 + b"}": (
            "field n_tokens: expected an integer from 0 to 2147483647, got a 5000-digit number"
        ),
    }
    for raw, wanted in cases.items():
        path = tmp_path / "m.jsonl"
        path.write_bytes(raw + b"\n")
        with pytest.raises(ImportFileError) as e:
            import_file(con, path, "jsonl", run_id="r")
        msg = str(e.value)
        assert wanted in msg and "at at" not in msg and "set_int_max_str_digits" not in msg, msg
    con.close()
    # --skip-bad meeting a problem stored with another question names the line
    db, _ = seeded
    path = tmp_path / "clash.jsonl"
    path.write_text(
        json.dumps(native(9) | {"problem_id": "fresh"}) + "\n"
        + json.dumps(native(0) | {"question": "other?"}) + "\n"
    )  # fmt: skip
    for extra in ([], ["--skip-bad"]):
        rc, _, err = cli_run("import", str(path), "--format", "jsonl", "--db", str(db), *extra)
        assert rc == 1
        assert err.startswith(f"error: {path}:2: field question: problem 'p0' is already stored")


# ---------- re-importing a changed file ----------------------------------------------------


def _study(tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]]]:
    """A graded, drawn study of one file (3 problems x 3 samples), and that file."""
    rows = [native(i) | {"text": f"so \\boxed{{{i % 2 + 7}}}"} for i in range(9)]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = tmp_path / "s.duckdb"
    assert cli_run("import", str(path), "--format", "jsonl", "--db", str(db))[0] == 0
    assert cli_run("draw", "--db", str(db), "--sizes", "2", "--reps", "3", "--seed", "0")[0] == 0
    return db, path, rows


@pytest.mark.parametrize("fast", [True, False])
def test_changed_file_is_refused_then_replaced(tmp_path: Path, fast: bool) -> None:
    db, path, rows = _study(tmp_path)
    rows[4] = rows[4] | {"text": "now \\boxed{8}", "scores": {"orm:m": 0.9}}
    if not fast:
        rows[0]["gold_answer"] = 7  # a numeric gold answer sends the file line by line
        rows[1]["gold_answer"] = 7
        rows[2]["gold_answer"] = 7
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = checksum(db)
    rc, _, err = cli_run("import", str(path), "--format", "jsonl", "--db", str(db))
    assert rc == 1
    assert err.startswith(f"error: {path}:5: field text: sample (problem 'p1', temperature 0.5")
    assert "--replace" in err
    assert checksum(db) == before
    con = duckdb.connect(str(db), read_only=True)
    sid = con.execute(
        "SELECT sample_id FROM samples WHERE problem_id = 'p1' AND idx = 1"
    ).fetchall()
    sid = sid[0][0]
    with_it = con.execute(
        "SELECT count(*) FROM draws WHERE list_contains(sample_ids, ?)", [sid]
    ).fetchall()[0][0]
    total = con.execute("SELECT count(*) FROM draws").fetchall()[0][0]
    con.close()
    assert with_it > 0
    rc, out, err = cli_run("import", str(path), "--format", "jsonl", "--db", str(db), "--replace")
    assert rc == 0, err
    assert "1 replaced" in out
    con = duckdb.connect(str(db), read_only=True)
    try:
        text, correct, score = con.execute(
            "SELECT s.text, s.correct, c.value FROM samples s JOIN scores c USING (sample_id) "
            "WHERE sample_id = ?",
            [sid],
        ).fetchall()[0]
        assert (text, correct, score) == ("now \\boxed{8}", False, 0.9)
        assert (
            con.execute(
                "SELECT count(*) FROM draws WHERE list_contains(sample_ids, ?)", [sid]
            ).fetchall()[0][0]
            == 0
        )
        assert con.execute("SELECT count(*) FROM draws").fetchall()[0][0] == total - with_it
        assert (
            con.execute(
                "SELECT count(*) FROM draw_metrics m ANTI JOIN draws d USING (draw_id)"
            ).fetchall()[0][0]
            == 0
        )
        assert (
            con.execute(
                "SELECT count(*) FROM draw_outcomes o ANTI JOIN draws d USING (draw_id)"
            ).fetchall()[0][0]
            == 0
        )
        assert con.execute("SELECT count(*) FROM samples").fetchall()[0][0] == 9
    finally:
        con.close()
    # and a rerun of draw restores every draw, identical to a fresh study of the new file
    assert cli_run("draw", "--db", str(db), "--sizes", "2", "--reps", "3", "--seed", "0")[0] == 0
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "s.jsonl").write_text(path.read_text())
    assert cli_run("import", str(fresh / "s.jsonl"), "--format", "jsonl", "--db",
                   str(fresh / "s.duckdb"))[0] == 0  # fmt: skip
    assert cli_run("draw", "--db", str(fresh / "s.duckdb"), "--sizes", "2", "--reps", "3",
                   "--seed", "0")[0] == 0  # fmt: skip
    mine, theirs = checksum(db), checksum(fresh / "s.duckdb")
    for t in ("samples", "scores", "draws", "draw_metrics", "draw_outcomes"):
        assert mine[t] == theirs[t], t
