"""`divtui import` on real files in tmp_path into a real DuckDB: every format, idempotence, --skip-bad."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine.file_import import ImportFileError, import_file
from divtui.store import open_db, sample_id
from divtui.store.catalog import table_counts
from tests.conftest import run_divtui


def _native_records(rng: np.random.Generator, n_problems: int, n: int) -> list[dict[str, Any]]:
    """Random native records: several problems, two temperatures, optional fields mixed in."""
    recs = []
    for p in range(n_problems):
        for t in (0.3, 1.0):
            for _ in range(n):
                r: dict[str, Any] = {
                    "problem_id": f"p{p}",
                    "question": f"What is {p} + {p}? é∑",
                    "gold_answer": str(2 * p),
                    "temperature": t,
                    "text": " ".join(rng.choice(["a", "b", "\\boxed{3}", "ü"], 12)),
                }
                if rng.random() < 0.7:
                    r["mean_logprob"] = float(-rng.random())
                    r["sum_logprob"] = float(-50 * rng.random())
                    r["n_tokens"] = int(rng.integers(1, 500))
                if rng.random() < 0.5:
                    r["scores"] = {"orm:m": float(rng.random()), "probe:x": float(rng.normal())}
                if rng.random() < 0.5:
                    r["embeddings"] = {"e@8": [float(x) for x in rng.normal(size=8)]}
                if rng.random() < 0.3:
                    r["answer"], r["correct"] = str(int(rng.integers(5))), bool(rng.random() < 0.5)
                recs.append(r)
    order = rng.permutation(len(recs))
    return [recs[i] for i in order]


def _write(path: Path, recs: list[dict[str, Any]]) -> Path:
    """Write records as JSON lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


def _db_rows(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Everything an import writes, in a comparable form."""
    return {
        "samples": con.execute(
            "SELECT sample_id, problem_id, temperature, idx, text, n_tokens, sum_logprob, "
            "mean_logprob, source_answer, source_correct FROM samples ORDER BY sample_id"
        ).fetchall(),
        "scores": con.execute("SELECT * FROM scores ORDER BY ALL").fetchall(),
        "emb": con.execute(
            "SELECT sample_id, embedder, vec FROM embeddings ORDER BY ALL"
        ).fetchall(),
        "problems": con.execute(
            "SELECT problem_id, question, gold_answer FROM problems ORDER BY 1"
        ).fetchall(),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_native_jsonl_matches_an_independent_reading(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    recs = _native_records(rng, 4, 5)
    path = _write(tmp_path / "run.jsonl", recs)
    con = open_db(tmp_path / "a.duckdb")
    import_file(con, path, "jsonl", run_id="r")
    # Independent expectation: order of appearance within each pool gives the idx.
    seen: dict[tuple[str, float], int] = {}
    expected_samples, expected_scores, expected_emb = [], [], []
    for r in recs:
        pool = (r["problem_id"], r["temperature"])
        idx = seen.get(pool, 0)
        seen[pool] = idx + 1
        sid = sample_id("r", r["problem_id"], r["temperature"], idx)
        expected_samples.append(
            (
                sid,
                r["problem_id"],
                r["temperature"],
                idx,
                r["text"],
                r.get("n_tokens"),
                r.get("sum_logprob"),
                r.get("mean_logprob"),
                r.get("answer"),
                r.get("correct"),
            )
        )
        expected_scores += [(sid, k, v) for k, v in r.get("scores", {}).items()]
        expected_emb += [
            (sid, k, [float(np.float32(x)) for x in v]) for k, v in r.get("embeddings", {}).items()
        ]
    got = _db_rows(con)
    assert got["samples"] == sorted(expected_samples)
    assert got["scores"] == sorted(expected_scores)
    assert [(a, b) for a, b, _ in got["emb"]] == [(a, b) for a, b, _ in sorted(expected_emb)]
    for (_, _, v1), (_, _, v2) in zip(got["emb"], sorted(expected_emb), strict=True):
        assert np.allclose(v1, v2, rtol=1e-6)
    cfg = json.loads(con.execute("SELECT config FROM runs").fetchall()[0][0])
    assert cfg["parser"] == "bulk"
    # The line-by-line validator (forced by --skip-bad) stores exactly the same rows.
    con2 = open_db(tmp_path / "b.duckdb")
    import_file(con2, path, "jsonl", run_id="r", skip_bad=True)
    assert _db_rows(con2) == got


def test_reimport_changes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.jsonl", _native_records(np.random.default_rng(5), 3, 4))
    con = open_db(tmp_path / "a.duckdb")
    first = import_file(con, path, "jsonl", run_id="x")["counts"]
    before = _db_rows(con), table_counts(con)
    second = import_file(con, path, "jsonl", run_id="x")["counts"]
    assert (_db_rows(con), table_counts(con)) == before
    assert all(second[t]["new"] == 0 for t in second)
    assert first["samples"]["new"] == first["samples"]["rows"] == 24


def test_qwen_math_eval_real_file(tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "qwen25math_math_cot_100.jsonl"
    con = open_db(tmp_path / "a.duckdb")
    out = import_file(con, src, "qwen-math-eval", run_id="q")
    assert out["counts"]["problems"]["new"] == 100
    assert out["counts"]["samples"]["new"] == 800
    lines = [json.loads(x) for x in src.read_text().splitlines()]
    rows = con.execute(
        "SELECT s.problem_id, s.idx, s.text, s.source_answer, s.source_correct, c.value, "
        "s.temperature, p.gold_answer, p.level FROM samples s JOIN problems p USING (problem_id) "
        "JOIN scores c USING (sample_id) WHERE c.scorer = 'import:qwen-math-eval:pred_score'"
    ).fetchall()
    got = {(r[0], r[1]): r[2:] for r in rows}
    assert len(got) == 800
    for d in lines:
        for i in range(8):
            text, pred, ok, reward, temp, gold, level = got[(f"math:{d['idx']}", i)]
            assert (text, pred, ok, reward) == (
                d["code"][i],
                d["pred"][i],
                d["score"][i],
                d["pred_score"][i][0],
            )
            assert (temp, gold, level) == (0.7, d["gt"], d["level"])


def test_gsm8k_example_solutions_real_file(tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "gsm8k_example_model_solutions.jsonl"
    con = open_db(tmp_path / "a.duckdb")
    out = import_file(con, src, "gsm8k-example-solutions", run_id="g", temperature=0.0)
    assert out["counts"]["problems"]["new"] == 1319
    assert out["counts"]["samples"]["new"] == 1319 * 4
    lines = [json.loads(x) for x in src.read_text().splitlines()]
    systems = ["6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"]
    rows = con.execute(
        "SELECT s.problem_id, s.idx, s.text, s.source_correct, p.gold_answer "
        "FROM samples s JOIN problems p USING (problem_id)"
    ).fetchall()
    got = {(r[0], r[1]): r[2:] for r in rows}
    for n, d in enumerate(lines):
        gold = d["ground_truth"].split("A:")[-1].strip()
        for i, system in enumerate(systems):
            assert got[(f"gsm8k:{n}", i)] == (d[system]["solution"], d[system]["is_correct"], gold)
    cfg = json.loads(con.execute("SELECT config FROM runs").fetchall()[0][0])
    assert cfg["idx_systems"] == {str(i): s for i, s in enumerate(systems)}


def _sal_rows(rng: np.random.Generator) -> list[dict[str, Any]]:
    """search-and-learn best_of_n rows as save_dataset writes them (columns of sal's output)."""
    rows = []
    for p in range(5):
        n = 4
        steps = [[float(x) for x in rng.random(int(rng.integers(1, 6)))] for _ in range(n)]
        completions = [
            "## Step 1: Add.\n\n## Step 2: So " + f"$\\boxed{{{p + k}}}$. I hope it is correct."
            for k in range(n)
        ]
        agg = [s[-1] for s in steps]
        rows.append(
            {
                "problem": f"Compute {p} + 0.",
                "solution": f"It is {p}.",
                "answer": str(p),
                "subject": "Algebra",
                "level": 2,
                "unique_id": f"test/algebra/{p}.json",
                "completions": completions,
                "scores": steps,
                "pred": completions[int(np.argmax(agg))],
                "completion_tokens": [int(x) for x in rng.integers(10, 400, n)],
                "agg_scores": agg,
                "pred_weighted@1": f"\\boxed{{{p}}}",
            }
        )
    return rows


def test_search_and_learn(tmp_path: Path) -> None:
    rows = _sal_rows(np.random.default_rng(3))
    path = _write(tmp_path / "best_of_n_completions.jsonl", rows)
    con = open_db(tmp_path / "a.duckdb")
    import_file(con, path, "search-and-learn", run_id="s")
    got = con.execute(
        "SELECT s.problem_id, s.idx, s.text, s.n_tokens, s.temperature, p.level, p.subject, "
        "(SELECT value FROM scores c WHERE c.sample_id = s.sample_id "
        "AND scorer = 'import:search-and-learn:prm_last'), "
        "(SELECT value FROM scores c WHERE c.sample_id = s.sample_id "
        "AND scorer = 'import:search-and-learn:agg_scores') "
        "FROM samples s JOIN problems p USING (problem_id) ORDER BY ALL"
    ).fetchall()
    expected = sorted(
        (
            r["unique_id"],
            i,
            r["completions"][i],
            r["completion_tokens"][i],
            0.8,
            "2",
            "Algebra",
            r["scores"][i][-1],
            r["agg_scores"][i],
        )
        for r in rows
        for i in range(4)
    )
    assert got == expected


def test_cli_skip_bad_and_strict_failure(tmp_path: Path) -> None:
    recs = _native_records(np.random.default_rng(9), 2, 3)
    lines = [json.dumps(r) for r in recs]
    lines[3] = lines[3][:-9]
    bad_type = dict(recs[5], temperature="hot")
    lines[5] = json.dumps(bad_type)
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "a.duckdb"
    strict = run_divtui("import", str(path), "--format", "jsonl", "--db", str(db), "--no-grade")
    assert strict.returncode == 1, strict.stderr
    assert strict.stderr.strip().splitlines() == [
        f"error: {path}:4: field <record>: invalid or truncated JSON: "
        f"{strict.stderr.split('JSON: ')[1].strip()}"
    ]
    assert "Traceback" not in strict.stderr
    con = open_db(db)
    assert table_counts(con)["samples"] == 0
    con.close()
    ok = run_divtui(
        "import", str(path), "--format", "jsonl", "--db", str(db), "--no-grade", "--skip-bad"
    )
    assert ok.returncode == 0, ok.stderr
    err = ok.stderr.strip().splitlines()
    assert err[0].startswith(f"skipped: {path}:4: field <record>:")
    assert err[1].startswith(f"skipped: {path}:6: field temperature: expected a number")
    assert err[2] == "skipped 2 bad lines"
    con = open_db(db)
    assert table_counts(con)["samples"] == len(recs) - 2
    con.close()


def test_cli_locked_database(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.jsonl", _native_records(np.random.default_rng(1), 1, 2))
    db = tmp_path / "a.duckdb"
    holder = open_db(db)
    try:
        out = run_divtui("import", str(path), "--format", "jsonl", "--db", str(db), "--no-grade")
    finally:
        holder.close()
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "locked" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_problem_stored_with_other_question_is_refused(tmp_path: Path) -> None:
    recs = _native_records(np.random.default_rng(2), 1, 2)
    con = open_db(tmp_path / "a.duckdb")
    import_file(con, _write(tmp_path / "one.jsonl", recs), "jsonl", run_id="one")
    before = _db_rows(con)
    other = [dict(r, question="Something else") for r in recs]
    with pytest.raises(Exception, match=r"field question: problem 'p0' is already stored"):
        import_file(con, _write(tmp_path / "two.jsonl", other), "jsonl", run_id="two")
    assert _db_rows(con) == before


def test_numbers_keep_their_text_and_finite_check() -> None:
    from divtui.store.formats.records import FieldError, as_float, as_text, loads

    assert as_text(loads('{"g": 3.50}')["g"], "g") == "3.50"
    assert as_text(loads('{"g": 12}')["g"], "g") == "12"
    with pytest.raises(ValueError):
        loads('{"x": NaN}')
    with pytest.raises(FieldError):
        as_float(loads('{"x": 1e400}')["x"], "x")
    assert math.isclose(as_float(loads('{"x": -2.5e-3}')["x"], "x"), -0.0025)


def _varied_records(rng: np.random.Generator) -> list[dict[str, Any]]:
    """Random native records exercising what the bulk path must reproduce exactly.

    Pools that give sample_idx (shuffled, with gaps) and pools that leave it to file order,
    temperatures that only agree after rounding to 6 places, several scorers and embedders of
    different sizes, per-line dataset/level/subject (the first line of a problem wins),
    explicit nulls, answer/correct against source_answer/source_correct, unicode ids.
    """
    # Each pool's temperatures all round to the same 6 places.
    pools = [[0.3, 0.1 + 0.2], [1.0], [0.0, -0.0, 1e-7]]
    recs: list[dict[str, Any]] = []
    for p in range(int(rng.integers(1, 5))):
        pid = f"p{p}-ü∑" if rng.random() < 0.5 else f"q {p}"
        for pool in rng.choice(len(pools), int(rng.integers(1, 4)), replace=False):
            n = int(rng.integers(1, 6))
            explicit = rng.random() < 0.5
            idxs = rng.permutation(int(rng.integers(n, n + 5)))[:n]
            for k in range(n):
                r: dict[str, Any] = {
                    "problem_id": pid,
                    "question": f"Q{p} é",
                    "gold_answer": f"{p}",
                    "temperature": pools[pool][int(rng.integers(len(pools[pool])))],
                    "text": "".join(rng.choice(list('ab \\{}\n"ü'), int(rng.integers(0, 30)))),
                }
                if explicit:
                    r["sample_idx"] = int(idxs[k])
                for name in ("dataset", "level", "subject", "finish_reason"):
                    if rng.random() < 0.4:
                        r[name] = rng.choice(["", "math", "L3", None])
                for name in ("sum_logprob", "mean_logprob"):
                    if rng.random() < 0.5:
                        r[name] = None if rng.random() < 0.2 else float(-rng.random() * 10)
                if rng.random() < 0.5:
                    r["n_tokens"] = int(rng.integers(0, 2**31 - 1))
                for a, c in (("answer", "correct"), ("source_answer", "source_correct")):
                    if rng.random() < 0.4:
                        r[a] = None if rng.random() < 0.3 else str(int(rng.integers(5)))
                        r[c] = None if rng.random() < 0.3 else bool(rng.random() < 0.5)
                if rng.random() < 0.6:
                    r["scores"] = {
                        f"s{j}": float(rng.normal() * 10 ** int(rng.integers(-3, 4)))
                        for j in range(int(rng.integers(0, 3)))
                    }
                if rng.random() < 0.6:
                    r["embeddings"] = {
                        f"e{j}@{d}": [float(x) for x in rng.normal(size=d)]
                        for j, d in enumerate(rng.choice([1, 3, 8], int(rng.integers(0, 3))))
                    }
                recs.append(r)
    order = rng.permutation(len(recs))
    return [recs[i] for i in order]


def _parser(con: duckdb.DuckDBPyConnection, run: str) -> str:
    """Which parser stored ``run``."""
    cfg = con.execute("SELECT config FROM runs WHERE run_id = ?", [run]).fetchall()[0][0]
    return json.loads(cfg)["parser"]


def _all_rows(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every column of every table an import writes (minus the run's config and time)."""
    return {
        t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("problems", "samples", "scores", "embeddings")
    }


@pytest.mark.parametrize("seed", range(8))
def test_bulk_path_equals_line_by_line_on_varied_records(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    path = _write(tmp_path / "v.jsonl", _varied_records(rng))
    dataset = "ds" if seed % 2 else None
    bulk, lines = open_db(tmp_path / "bulk.duckdb"), open_db(tmp_path / "lines.duckdb")
    got = import_file(bulk, path, "jsonl", run_id="v", dataset=dataset)
    ref = import_file(lines, path, "jsonl", run_id="v", dataset=dataset, skip_bad=True)
    assert got == ref
    assert _all_rows(bulk) == _all_rows(lines)
    assert _parser(bulk, "v") == "bulk"
    ids = bulk.execute("SELECT sample_id, problem_id, temperature, idx FROM samples").fetchall()
    assert all(sid == sample_id("v", p, t, i) for sid, p, t, i in ids)


@pytest.mark.parametrize(
    "change",
    [
        {"gold_answer": 12},
        {"level": 3},
        {"answer": 2.50},
        {"problem_id": "\u00e9\u00e9"},
    ],
)
def test_valid_files_the_bulk_checks_doubt_go_line_by_line(
    tmp_path: Path, change: dict[str, Any]
) -> None:
    recs = _native_records(np.random.default_rng(4), 2, 3)
    recs = [dict(r, **change) if r["problem_id"] == "p0" else r for r in recs]
    path = _write(tmp_path / "d.jsonl", recs)
    con = open_db(tmp_path / "a.duckdb")
    out = import_file(con, path, "jsonl", run_id="d")
    assert _parser(con, "d") == "line-by-line"
    assert out["counts"]["samples"]["new"] == len(recs)
    ref = open_db(tmp_path / "b.duckdb")
    import_file(ref, path, "jsonl", run_id="d", skip_bad=True)
    assert _all_rows(con) == _all_rows(ref)


@pytest.mark.parametrize(
    ("key", "raw", "field"),
    [
        ("problem_id", '"\\t "', "problem_id"),
        ("problem_id", '"\\u00a0"', "problem_id"),
        ("embeddings", '{"e": [1.0, NaN]}', "<record>"),
        ("embeddings", '{"e": [1.0, Infinity]}', "<record>"),
        ("embeddings", '{"e": [1.0, null]}', "embeddings.e[1]"),
        ("embeddings", '{"e": []}', "embeddings.e"),
        ("embeddings", '{"e": [1e39]}', "embeddings.e"),
        ("embeddings", '{"e": [1], "e": [2]}', "e"),
        ("scores", '{"s": true}', "scores.s"),
        ("scores", '{"s": "0.5"}', "scores.s"),
        ("sample_idx", "2147483648", "sample_idx"),
        ("n_tokens", "-1", "n_tokens"),
        ("temperature", "-1e-9", "temperature"),
        ("mean_logprob", "1e999", "mean_logprob"),
        ("text", "3", "text"),
        ("text", "null", "text"),
        ("correct", "1", "correct"),
        ("finish_reason", '["stop"]', "finish_reason"),
        ("question", '"Q", "question": "Q"', "question"),
    ],
)
def test_values_the_bulk_path_must_not_accept(
    tmp_path: Path, key: str, raw: str, field: str
) -> None:
    recs = _native_records(np.random.default_rng(6), 1, 3)
    at = 4
    lines = [json.dumps(r) for r in recs]
    lines[at] = json.dumps(dict(recs[at], **{key: "__X__"})).replace('"__X__"', raw)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    con = open_db(tmp_path / "a.duckdb")
    with pytest.raises(ImportFileError) as err:
        import_file(con, path, "jsonl", run_id="b")
    assert str(err.value).startswith(f"{path}:{at + 1}: field {field}: ")
    assert table_counts(con)["samples"] == 0
    temps = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()
    assert temps == [(0,)]


def test_overlapping_import_adds_only_new_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    recs = _varied_records(rng)
    for i, r in enumerate(recs):
        r["sample_idx"] = i
    first, second = recs[: len(recs) // 2], recs[len(recs) // 3 :]
    for r in second:
        if r.get("embeddings"):
            r["embeddings"] = {**r["embeddings"], "extra@2": [0.5, -0.5]}
    a, b = _write(tmp_path / "a.jsonl", first), _write(tmp_path / "b.jsonl", second)
    bulk, lines = open_db(tmp_path / "bulk.duckdb"), open_db(tmp_path / "lines.duckdb")
    got = [import_file(bulk, f, "jsonl", run_id="o")["counts"] for f in (a, b)]
    ref = [import_file(lines, f, "jsonl", run_id="o", skip_bad=True)["counts"] for f in (a, b)]
    assert got == ref
    assert _all_rows(bulk) == _all_rows(lines)
    assert got[1]["samples"]["new"] == len(recs) - len(first)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["p", "q", "ü∑", ""]),
            st.one_of(
                st.sampled_from([0.0, -0.0, 1e-7, 0.3, 0.1 + 0.2, 5e-7]),
                st.floats(0, 10, allow_nan=False),
            ),
            st.integers(0, 2**31 - 1),
        ),
        max_size=40,
    )
)
def test_pool_sample_ids_equal_sample_id(rows: list[tuple[str, float, int]]) -> None:
    from divtui.store.ingest import pool_sample_ids

    got = pool_sample_ids(
        "run",
        [p for p, _, _ in rows],
        np.array([t for _, t, _ in rows], dtype=np.float64),
        np.array([i for _, _, i in rows], dtype=np.int64),
    )
    assert got.tolist() == [sample_id("run", p, t, i) for p, t, i in rows]
