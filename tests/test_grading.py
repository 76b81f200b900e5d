"""Grading: math-verify in a process pool, timeouts, threads, and grade_db on a real DuckDB file."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from math_verify import parse, verify

from divtui.engine.extract import wrap_latex
from divtui.engine.grading import (
    CORRECT,
    NO_ANSWER,
    NO_GOLD,
    TIMEOUT,
    WRONG,
    grade_db,
    verifier,
)
from divtui.engine.specs import GradeSpec
from divtui.store import insert, open_db, sample_id, transaction
from tests.conftest import run_divtui

TOWER = "9^{9^{9^{9}}}"


def _forms(x: Fraction, rng: np.random.Generator) -> str:
    """One random LaTeX or plain spelling of the rational ``x``."""
    p, q = x.numerator, x.denominator
    sign = "-" if p < 0 else ""
    options = [f"{sign}\\frac{{{abs(p)}}}{{{q}}}", f"{p}/{q}", f"{sign}\\dfrac{{{abs(p)}}}{{{q}}}"]
    if q == 1:
        options += [str(p), f"{p}.0"]
    if 10**6 % q == 0:
        options.append(str(p / q))
    return str(rng.choice(options))


def _library_verdict(gold: str, answer: str) -> bool:
    """math-verify called directly in this process, with its own (main-thread) timeouts."""
    return bool(verify(parse(wrap_latex(gold)), parse(wrap_latex(answer))))


def test_grade_agrees_with_math_verify_on_random_rationals() -> None:
    rng = np.random.default_rng(7)
    golds, answers, truth = [], [], []
    for _ in range(120):
        g = Fraction(int(rng.integers(-9, 10)), int(rng.choice([1, 2, 3, 4, 5, 8])))
        a = g if rng.random() < 0.5 else g + Fraction(int(rng.integers(1, 5)), 2)
        golds.append(_forms(g, rng))
        answers.append(_forms(a, rng))
        truth.append(a == g)
    with verifier(workers=2, timeout=20) as v:
        statuses = v.grade(golds, answers)
    assert statuses == [CORRECT if t else WRONG for t in truth]
    library = [_library_verdict(g, a) for g, a in zip(golds, answers, strict=True)]
    assert [s == CORRECT for s in statuses] == library


def test_missing_answer_and_gold() -> None:
    with verifier(workers=1) as v:
        assert v.grade(["1", None, "2"], [None, "1", "2"]) == [NO_ANSWER, NO_GOLD, CORRECT]


def test_stuck_comparison_times_out_and_the_pool_recovers() -> None:
    timeout = 2.0
    with verifier(workers=2, timeout=timeout) as v:
        v.grade(["1"], ["1"])
        t0 = time.monotonic()
        statuses = v.grade(["5", "5", "5", "7"], ["5", TOWER, "6", "7"])
        elapsed = time.monotonic() - t0
        assert statuses == [CORRECT, TIMEOUT, WRONG, CORRECT]
        assert v.timeouts == 1
        assert v.grade(["3"], ["3"]) == [CORRECT]
        classes = v.classes([["5", TOWER, "6", "5.0", "7", "6"]])
    assert elapsed < timeout + 30, "the stuck comparison was not cut off"
    assert classes == [[0, 1, 2, 0, 3, 2]]
    assert v.timeouts == 1, "a string already stuck is not compared (and waited for) again"


def test_grading_works_from_a_worker_thread(db_path: Path) -> None:
    truth = _build_db(db_path, seed=6, n_problems=2)
    out: dict[str, object] = {}

    def work() -> None:
        try:
            with verifier(workers=2, timeout=10) as v:
                out["grades"] = v.grade(["\\frac{1}{2}", "3"], ["0.5", "4"])
                out["classes"] = v.classes([["1/2", "0.5", "2"]])
            con = open_db(db_path)
            out["counts"] = grade_db(con, GradeSpec(workers=2, timeout=20))
            con.close()
        except BaseException as e:
            out["error"] = e

    t = threading.Thread(target=work)
    t.start()
    t.join(120)
    assert not t.is_alive()
    assert "error" not in out, out.get("error")
    assert out["grades"] == [CORRECT, WRONG]
    assert out["classes"] == [[0, 0, 1]]
    _check_against_truth(db_path, truth)


def _text(answer: str | None, style: int) -> str:
    """A solution text that states ``answer`` in one of the extraction styles."""
    if answer is None:
        return "I could not finish this one."
    return [
        f"Some steps.\nSo the result is $\\boxed{{{answer}}}$.",
        f"Steps.\nFinal Answer: The final answer is ${answer}$. I hope it is correct.",
        f"Work <<1+1=2>>2\n#### {answer}",
        f"Reasoning\n\\fbox{{{answer}}} done",
    ][style]


def _build_db(path: Path, seed: int, n_problems: int = 6, n: int = 6) -> dict[int, dict]:
    """A database of random pools whose true answers and correctness are known by construction."""
    rng = np.random.default_rng(seed)
    con = open_db(path)
    problems, samples, truth = [], [], {}
    for p in range(n_problems):
        gold = Fraction(int(rng.integers(-9, 10)), int(rng.choice([1, 2, 4, 5])))
        pid = f"p{p}"
        problems.append(
            {
                "problem_id": pid,
                "dataset": "t",
                "question": f"q{p}",
                "gold_answer": _forms(gold, rng),
            }
        )
        for temp in (0.5, 1.0):
            for i in range(n):
                r = rng.random()
                value = None if r < 0.15 else (gold if r < 0.6 else gold + int(rng.integers(1, 3)))
                answer = None if value is None else _forms(value, rng)
                style = int(rng.integers(0, 4))
                sid = sample_id("r1", pid, temp, i)
                samples.append(
                    {
                        "sample_id": sid,
                        "run_id": "r1",
                        "problem_id": pid,
                        "temperature": temp,
                        "idx": i,
                        "text": _text(answer, style),
                    }
                )
                truth[sid] = {"pool": (pid, temp), "idx": i, "value": value, "gold": gold}
    with transaction(con):
        insert(con, "runs", pd.DataFrame([{"run_id": "r1", "source": "test"}]))
        insert(con, "problems", pd.DataFrame(problems))
        insert(con, "samples", pd.DataFrame(samples))
    con.close()
    return truth


def _expected_classes(truth: dict[int, dict]) -> dict[int, int | None]:
    """Classes by the definition with exact rational equality as the equivalence."""
    out: dict[int, int | None] = {}
    pools: dict[tuple, list[tuple[int, int]]] = {}
    for sid, t in truth.items():
        pools.setdefault(t["pool"], []).append((t["idx"], sid))
    for members in pools.values():
        reps: list[Fraction] = []
        for _, sid in sorted(members):
            value = truth[sid]["value"]
            if value is None:
                out[sid] = None
                continue
            if value not in reps:
                reps.append(value)
            out[sid] = reps.index(value)
    return out


def _stored(path: Path) -> dict[int, tuple]:
    """sample_id -> (answer, correct, answer_class) as stored."""
    con = open_db(path, read_only=True)
    rows = con.execute("SELECT sample_id, answer, correct, answer_class FROM samples").fetchall()
    con.close()
    return {r[0]: r[1:] for r in rows}


def _check_against_truth(path: Path, truth: dict[int, dict]) -> None:
    """Every stored grade and class equals the one known by construction."""
    stored = _stored(path)
    classes = _expected_classes(truth)
    assert len(stored) == len(truth)
    for sid, t in truth.items():
        answer, correct, cls = stored[sid]
        assert (answer is None) == (t["value"] is None)
        assert correct is (t["value"] is not None and t["value"] == t["gold"]), (sid, answer)
        assert cls == classes[sid], (sid, answer)


@pytest.mark.parametrize("seed", [1, 2])
def test_grade_db_matches_construction(db_path: Path, seed: int) -> None:
    truth = _build_db(db_path, seed)
    con = open_db(db_path)
    counts = grade_db(con, GradeSpec(workers=2, timeout=20))
    con.close()
    _check_against_truth(db_path, truth)
    n_correct = sum(t["value"] == t["gold"] for t in truth.values())
    assert counts["graded"] == len(truth)
    assert counts["correct"] == n_correct
    assert counts["no_answer"] == sum(t["value"] is None for t in truth.values())
    assert counts["pools"] == 12
    assert counts["timeouts"] == 0
    con = open_db(db_path)
    assert grade_db(con, GradeSpec(workers=1))["pools"] == 0
    con.close()


def test_interrupted_grade_resumes_without_redoing_or_duplicating(db_path: Path) -> None:
    truth = _build_db(db_path, seed=3)
    calls: list[tuple[int, int]] = []

    def stop_after_first_batch(done: int, total: int, label: str) -> None:
        calls.append((done, total))
        if done > 0:
            raise KeyboardInterrupt

    con = open_db(db_path)
    with pytest.raises(KeyboardInterrupt):
        grade_db(
            con, GradeSpec(workers=2, timeout=20), progress=stop_after_first_batch, batch_pools=5
        )
    con.close()
    assert calls == [(0, 12), (5, 12)]
    stored = _stored(db_path)
    graded = [sid for sid, (_, correct, _) in stored.items() if correct is not None]
    assert len(graded) == 5 * 6
    con = open_db(db_path)
    counts = grade_db(con, GradeSpec(workers=2, timeout=20), batch_pools=5)
    n_samples = con.execute("SELECT count(*), count(DISTINCT sample_id) FROM samples").fetchall()
    con.close()
    assert counts["pools"] == 7
    assert counts["graded"] == 7 * 6
    assert n_samples == [(len(truth), len(truth))]
    _check_against_truth(db_path, truth)


def test_regrade_and_problems_without_gold(db_path: Path) -> None:
    truth = _build_db(db_path, seed=4, n_problems=2)
    con = open_db(db_path)
    con.execute("UPDATE problems SET gold_answer = NULL WHERE problem_id = 'p1'")
    grade_db(con, GradeSpec(workers=1, timeout=20))
    con.execute("UPDATE samples SET correct = NOT correct, answer_class = 99 WHERE idx = 0")
    again = grade_db(con, GradeSpec(workers=1, timeout=20, run_id="r1", regrade=True))
    p1 = con.execute(
        "SELECT answer IS NULL, correct FROM samples WHERE problem_id = 'p1'"
    ).fetchall()
    con.close()
    assert p1 and all(correct is (False if no_answer else None) for no_answer, correct in p1)
    assert again["no_gold"] == sum(
        t["pool"][0] == "p1" and t["value"] is not None for t in truth.values()
    )
    stored = _stored(db_path)
    classes = _expected_classes(truth)
    for sid, t in truth.items():
        answer, correct, cls = stored[sid]
        assert cls == classes[sid]
        if t["pool"][0] == "p0":
            assert correct is (t["value"] is not None and t["value"] == t["gold"])


def test_timeout_in_grade_db_counts_and_marks_incorrect(db_path: Path) -> None:
    con = open_db(db_path)
    texts = ["\\boxed{5}", f"\\boxed{{{TOWER}}}", "\\boxed{5.0}"]
    with transaction(con):
        insert(con, "runs", pd.DataFrame([{"run_id": "r", "source": "test"}]))
        insert(
            con,
            "problems",
            pd.DataFrame([{"problem_id": "p", "question": "q", "gold_answer": "5"}]),
        )
        insert(
            con,
            "samples",
            pd.DataFrame(
                [
                    {"sample_id": sample_id("r", "p", 0.7, i), "run_id": "r", "problem_id": "p"}
                    | {"temperature": 0.7, "idx": i, "text": t}
                    for i, t in enumerate(texts)
                ]
            ),
        )
    counts = grade_db(con, GradeSpec(workers=2, timeout=2.0))
    rows = con.execute("SELECT correct, answer_class FROM samples ORDER BY idx").fetchall()
    con.close()
    assert rows == [(True, 0), (False, 1), (True, 0)]
    assert counts["timeouts"] >= 1
    assert counts["correct"] == 2


def test_cli_grade(db_path: Path) -> None:
    _build_db(db_path, seed=5, n_problems=2)
    out = run_divtui("grade", "--db", str(db_path), "--workers", "1", "--timeout", "20")
    assert out.returncode == 0, out.stderr
    assert "graded 24 samples in 4 pools" in out.stdout
    again = run_divtui("grade", "--db", str(db_path), "--workers", "1")
    assert again.returncode == 0 and "nothing to grade" in again.stdout
    bad = run_divtui("grade", "--db", str(db_path), "--run", "nope")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        f"error: {db_path}: no run 'nope'; `divtui info` lists the runs"
    ]
    missing = run_divtui("grade", "--db", str(db_path.with_name("none.duckdb")))
    assert missing.returncode != 0 and missing.stderr.startswith("error: ")
    assert "Traceback" not in missing.stderr
    zero = run_divtui("grade", "--db", str(db_path), "--timeout", "0")
    assert zero.returncode != 0 and "Traceback" not in zero.stderr


@pytest.mark.parametrize("seed", [0])
def test_keyed_grades_and_classes_equal_the_plain_path_on_hard_pools(seed: int) -> None:
    from bench.hard_answers import hard_pool

    pools, golds = [], []
    for k in range(3):
        answers, gold = hard_pool(10 * seed + k, samples=16, distinct=10)
        answers[3] = None
        pools.append(answers + ["\\text{yes}", "yes", "x = 2", "\\{1, 2\\}", "1,2"])
        golds.append(gold)
    flat_golds = [g for g, p in zip(golds, pools, strict=True) for _ in p]
    flat = [a for p in pools for a in p]
    with verifier(workers=2, timeout=30) as plain:
        want = plain.grade_plain(flat_golds, flat), plain.classes_plain(pools)
    with verifier(workers=2, timeout=30) as keyed:
        got = keyed.grade(flat_golds, flat), keyed.classes(pools)
    assert plain.timeouts == keyed.timeouts == 0
    assert got == want
    assert keyed.comparisons < plain.comparisons / 2


def test_keyed_and_plain_paths_agree_around_a_stuck_answer() -> None:
    pool = ["5", TOWER, "6", "5.0", "7", "6", TOWER]
    out = {}
    for name in ("plain", "keyed"):
        with verifier(workers=2, timeout=2.0) as v:
            if name == "plain":
                out[name] = v.grade_plain(["5"] * 7, pool), v.classes_plain([pool]), v.timeouts
            else:
                out[name] = v.grade(["5"] * 7, pool), v.classes([pool]), v.timeouts
    assert out["plain"][:2] == out["keyed"][:2]
    assert out["keyed"][0] == [CORRECT, TIMEOUT, WRONG, CORRECT, WRONG, WRONG, TIMEOUT]
    assert out["keyed"][1] == [[0, 1, 2, 0, 3, 2, 1]]
    assert out["keyed"][2] == 1, "the stuck answer is compared once (one distinct pair)"


def test_grade_db_keyed_equals_plain_on_a_real_file(tmp_path: Path) -> None:
    from bench.grade import build_db
    from bench.hard_answers import hard_pool

    answers, gold = hard_pool(5, samples=30, distinct=20)
    rows = {}
    for plain in (True, False):
        path = tmp_path / f"{plain}.duckdb"
        build_db(path, answers, gold)
        con = open_db(path)
        counts = grade_db(con, GradeSpec(workers=2, timeout=30), plain=plain)
        rows[plain] = con.execute(
            "SELECT idx, answer, correct, answer_class FROM samples ORDER BY idx"
        ).fetchall()
        con.close()
        assert counts["timeouts"] == 0 and counts["graded"] == 30
    assert rows[True] == rows[False]


def test_grade_with_workers_under_python_dash_s(db_path: Path) -> None:
    """A launcher running ``python -S`` with the site folder added by hand (as a remote login
    may): a forkserver could not import divtui there, so the workers fork instead."""
    truth = _build_db(db_path, seed=7, n_problems=2)
    site_dir = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    code = (
        f"import site, sys; site.addsitedir({str(site_dir)!r}); sys.argv[0] = 'divtui';"
        "from divtui.engine.process_start import children_find_divtui;"
        "print('forkserver' if children_find_divtui() else 'fork');"
        "from divtui.cli import main; main()"
    )
    args = ["grade", "--db", str(db_path), "--workers", "2", "--timeout", "20"]
    out = subprocess.run(
        [sys.executable, "-S", "-c", code, *args], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "graded 24 samples in 4 pools" in out.stdout
    _check_against_truth(db_path, truth)
