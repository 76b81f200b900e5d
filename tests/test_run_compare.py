"""Run comparison (engine.run_compare, report tables run_comparison and run_problems) against
independent computations: math.comb pass@k, a hand-written paired bootstrap loop, brute-force
sign changes, and the real command line on a simulated base/tuned pair."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from divtui.engine import run_compare as rc
from divtui.engine.passk import pass_at_k, pass_at_k_curve
from divtui.store import insert, open_db, sample_id, transaction

from .conftest import run_divtui
from .two_runs import N_PROBLEMS, N_SAMPLES, REPS, SIZES, two_runs_template

Pools = dict[str, dict[str, list[tuple[str | None, bool | None]]]]
"""run -> problem -> [(answer, correct)] in idx order (correct None: ungraded)."""


def comb_pass(n: int, c: int, k: int) -> Fraction:
    """pass@k = 1 - C(n-c, k) / C(n, k), exactly."""
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def write_pools(path: Path, pools: Pools, temperature: float = 1.0) -> Path:
    """A real database holding the given pools; answer classes by first appearance."""
    con = open_db(path)
    problems = sorted({p for run in pools.values() for p in run})
    rows = []
    for run, by_problem in pools.items():
        for pid, members in by_problem.items():
            classes: dict[str, int] = {}
            for i, (answer, correct) in enumerate(members):
                cls = None if answer is None else classes.setdefault(answer, len(classes))
                rows.append(
                    {
                        "sample_id": sample_id(run, pid, temperature, i),
                        "run_id": run,
                        "problem_id": pid,
                        "temperature": temperature,
                        "idx": i,
                        "text": f"{run} {pid} {i}: \\boxed{{{answer}}}",
                        "answer": answer,
                        "correct": correct,
                        "answer_class": cls,
                    }
                )
    frame = pd.DataFrame(rows)
    frame["answer_class"] = pd.array(frame["answer_class"], dtype="Int64")
    frame["correct"] = pd.array(frame["correct"], dtype="boolean")
    with transaction(con):
        insert(con, "runs", pd.DataFrame({"run_id": list(pools), "source": "test"}))
        insert(
            con,
            "problems",
            pd.DataFrame({"problem_id": problems, "question": problems, "gold_answer": "1"}),
        )
        insert(con, "samples", frame)
    con.close()
    return path


def random_pools(rng: np.random.Generator, n_problems: int = 14) -> Pools:
    """Two runs with random pool sizes, some problems in one run only, some ungraded samples."""
    pools: Pools = {"A": {}, "B": {}}
    for p in range(n_problems):
        for run in pools:
            if rng.random() < 0.12:
                continue
            members = []
            for _ in range(int(rng.integers(3, 13))):
                answer = str(int(rng.integers(0, 4))) if rng.random() > 0.1 else None
                correct = answer == "0" if rng.random() > 0.08 else None
                members.append((answer, correct))
            pools[run][f"p{p:02d}"] = members
    return pools


def graded(members: list[tuple[str | None, bool | None]]) -> list[tuple[str | None, bool]]:
    """The graded members of a pool."""
    return [(a, bool(c)) for a, c in members if c is not None]


def shared(pools: Pools) -> list[str]:
    """Problems where both runs have a graded pool, sorted."""
    has = [{p for p, m in pools[r].items() if graded(m)} for r in ("A", "B")]
    return sorted(has[0] & has[1])


def test_pass_at_k_curve_equals_math_comb() -> None:
    rng = np.random.default_rng(1)
    for _ in range(60):
        n = rng.integers(1, 41, size=7)
        c = np.array([rng.integers(0, x + 1) for x in n])
        k_max = int(n.min())
        curve = pass_at_k_curve(n, c, k_max)
        for i in range(len(n)):
            for k in range(1, k_max + 1):
                want = float(comb_pass(int(n[i]), int(c[i]), k))
                assert curve[i, k - 1] == pytest.approx(want, abs=1e-12)
                assert curve[i, k - 1] == pytest.approx(
                    pass_at_k(int(n[i]), int(c[i]), k), abs=1e-12
                )
    with pytest.raises(ValueError):
        pass_at_k_curve(np.array([3]), np.array([1]), 4)


@pytest.mark.parametrize("seed", range(5))
def test_comparison_rows_equal_math_comb_on_random_pools(tmp_path: Path, seed: int) -> None:
    pools = random_pools(np.random.default_rng(seed))
    con = open_db(write_pools(tmp_path / "p.duckdb", pools))
    rows = rc.comparison_table(con, "A,B", n_boot=0)
    con.close()
    probs = shared(pools)
    g = {r: [graded(pools[r][p]) for p in probs] for r in ("A", "B")}
    k_max = min(len(m) for r in g for m in g[r])
    want_k = {2**i for i in range(10) if 2**i <= k_max} | {k_max}
    got_k = [r["k"] for r in rows]
    assert want_k <= set(got_k) and got_k == sorted(got_k)
    extra = set(got_k) - want_k
    assert extra <= {rows[0]["crossing_k"]}
    diffs = []
    for k in range(1, k_max + 1):
        mean = {
            r: sum(comb_pass(len(m), sum(c for _, c in m), k) for m in g[r]) / len(probs) for r in g
        }
        diffs.append(float(mean["B"] - mean["A"]))
        row = next((x for x in rows if x["k"] == k), None)
        if row is None:
            continue
        assert row["pass_at_k_a"] == pytest.approx(float(mean["A"]), abs=1e-12)
        assert row["pass_at_k_b"] == pytest.approx(float(mean["B"]), abs=1e-12)
        assert row["diff"] == pytest.approx(diffs[-1], abs=1e-12)
        assert row["diff_lo"] is None and row["pass_at_k_a_hi"] is None
    sign0 = next((np.sign(d) for d in diffs if abs(d) > 1e-12), 0)
    cross = next(
        (k for k, d in enumerate(diffs, 1) if sign0 and np.sign(d) == -sign0 and abs(d) > 1e-12),
        None,
    )
    first = rows[0]
    assert first["crossing_k"] == cross
    assert first["n_problems"] == len(probs) and first["pool_size_min"] == k_max
    assert first["only_a"] == sum(1 for p, m in pools["A"].items() if graded(m)) - len(probs)
    assert first["only_b"] == sum(1 for p, m in pools["B"].items() if graded(m)) - len(probs)
    for r, s in (("A", "a"), ("B", "b")):
        classes = [len({a for a, _ in m if a is not None}) for m in g[r]]
        tops = [
            max(
                (sum(1 for a, _ in m if a == x) for x in {a for a, _ in m if a is not None}),
                default=0,
            )
            / len(m)
            for m in g[r]
        ]
        assert first[f"classes_{s}"] == pytest.approx(np.mean(classes))
        assert first[f"top_share_{s}"] == pytest.approx(np.mean(tops))


def hand_paired_bootstrap(
    pools: Pools, k: int, n_boot: int, seed: int, paired: bool = True
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of mean pass@k of A, of B and of B - A by a plain loop over resamples
    of problems (the same draws as stats.resample_weights: rng.integers(0, P, (n_boot, P)));
    unpaired: B's problems drawn from a second, independent stream."""
    probs = shared(pools)
    per = {
        r: [
            float(comb_pass(len(m), sum(c for _, c in m), k))
            for m in (graded(pools[r][p]) for p in probs)
        ]
        for r in ("A", "B")
    }
    idx = np.random.default_rng(seed).integers(0, len(probs), size=(n_boot, len(probs)))
    other = np.random.default_rng(seed + 1).integers(0, len(probs), size=(n_boot, len(probs)))
    out: dict[str, list[float]] = {"a": [], "b": [], "diff": []}
    for b in range(n_boot):
        ia, ib = idx[b], (idx[b] if paired else other[b])
        ma = sum(per["A"][i] for i in ia) / len(ia)
        mb = sum(per["B"][i] for i in ib) / len(ib)
        out["a"].append(ma)
        out["b"].append(mb)
        out["diff"].append(mb - ma)
    return {key: tuple(np.percentile(v, [2.5, 97.5])) for key, v in out.items()}  # type: ignore[misc]


def test_paired_interval_equals_hand_loop_over_joint_problem_resamples(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    pools = random_pools(rng, 20)
    # B follows A problem by problem (plus noise), so pairing matters for the difference
    pools["B"] = {
        p: [(a, c if rng.random() > 0.15 else (not c if c is not None else None)) for a, c in m]
        for p, m in pools["A"].items()
    }
    con = open_db(write_pools(tmp_path / "p.duckdb", pools))
    rows = rc.comparison_table(con, "A,B", n_boot=400, seed=5)
    con.close()
    for row in rows:
        want = hand_paired_bootstrap(pools, row["k"], 400, 5)
        assert (row["pass_at_k_a_lo"], row["pass_at_k_a_hi"]) == pytest.approx(want["a"], abs=1e-12)
        assert (row["pass_at_k_b_lo"], row["pass_at_k_b_hi"]) == pytest.approx(want["b"], abs=1e-12)
        assert (row["diff_lo"], row["diff_hi"]) == pytest.approx(want["diff"], abs=1e-12)
    k1 = rows[0]
    unpaired = hand_paired_bootstrap(pools, 1, 400, 5, paired=False)["diff"]
    assert k1["diff_hi"] - k1["diff_lo"] < 0.6 * (unpaired[1] - unpaired[0])


def brute_crossing(d: list[float]) -> int:
    """First k (1-based) whose sign opposes the first non-zero sign; 0 if none."""
    start = 0
    for k, v in enumerate(d, 1):
        s = 0 if abs(v) <= 1e-12 else (1 if v > 0 else -1)
        if start == 0:
            start = s
        elif s == -start:
            return k
    return 0


def test_first_crossing_on_known_rows_and_against_brute_force() -> None:
    cases = {
        (-0.2, -0.1, 0.1, 0.2): 3,
        (0.1, 0.2, 0.3): 0,
        (0.0, 0.0, -0.1, 0.1): 4,
        (-0.1, 0.0, 0.0, 0.1): 4,
        (-0.1, 0.0, 0.0): 0,
        (0.0, 0.0): 0,
        (0.3, -1e-13, -0.2): 3,
    }
    got = [int(rc.first_crossing(np.array([d]))[0]) for d in cases]
    assert got == list(cases.values())
    rng = np.random.default_rng(3)
    d = rng.normal(size=(500, 9)) * (rng.random((500, 9)) > 0.2) + rng.normal(0.3, 0.4, (500, 1))
    assert rc.first_crossing(d).tolist() == [brute_crossing(list(r)) for r in d]


def collapsed_and_diverse(n_problems: int, wrong: int, c_diverse: int, n: int = 8) -> Pools:
    """A: one answer per pool, right on all but ``wrong`` problems; B: ``c_diverse`` of ``n``
    correct on every problem with the wrong ones spread over many answers."""
    pools: Pools = {"A": {}, "B": {}}
    for p in range(n_problems):
        pid = f"q{p:02d}"
        bad = p < wrong
        pools["A"][pid] = [("9" if bad else "1", not bad)] * n
        pools["B"][pid] = [("1", True)] * c_diverse + [
            (str(10 + j), False) for j in range(n - c_diverse)
        ]
    return pools


@pytest.mark.parametrize(
    ("n_problems", "wrong", "c_diverse"),
    [(10, 3, 2), (10, 1, 2), (12, 4, 1), (10, 2, 3)],
)
def test_crossing_k_on_constructed_pools(
    tmp_path: Path, n_problems: int, wrong: int, c_diverse: int
) -> None:
    pools = collapsed_and_diverse(n_problems, wrong, c_diverse)
    con = open_db(write_pools(tmp_path / "p.duckdb", pools))
    rows = rc.comparison_table(con, "A,B", n_boot=200)
    con.close()
    a = Fraction(n_problems - wrong, n_problems)  # pass@k of the collapsed run at every k
    want = next((k for k in range(1, 9) if comb_pass(8, c_diverse, k) > a), None)
    assert comb_pass(8, c_diverse, 1) < a  # the diverse run starts below
    assert rows[0]["crossing_k"] == want
    assert want in [r["k"] for r in rows]
    assert rows[0]["classes_a"] == 1.0 and rows[0]["top_share_a"] == 1.0
    assert rows[0]["classes_b"] == 9 - c_diverse


def test_no_crossing_when_one_run_is_ahead_at_every_k(tmp_path: Path) -> None:
    pools = collapsed_and_diverse(10, 3, 2)
    pools["B"] = {p: [(a, c) for a, c in m] for p, m in pools["B"].items()}
    pools["A"] = {
        p: [("1", True)] * 3 + [(str(20 + j), False) for j in range(5)] for p in pools["B"]
    }
    con = open_db(write_pools(tmp_path / "p.duckdb", pools))
    rows = rc.comparison_table(con, "A,B", n_boot=100)
    con.close()
    assert all(r["diff"] < 0 or r["k"] == 8 for r in rows)
    assert rows[0]["crossing_k"] is None and rows[0]["crossing_share"] == 0.0
    assert rows[0]["crossing_k_lo"] is None


def test_run_problems_lists_problems_solved_by_one_run_only(tmp_path: Path) -> None:
    pools = random_pools(np.random.default_rng(4), 30)
    con = open_db(write_pools(tmp_path / "p.duckdb", pools))
    probs = shared(pools)
    k_max = min(len(graded(pools[r][p])) for r in ("A", "B") for p in probs)
    for k in (None, 1, 2, k_max):
        rows = rc.problems_table(con, "A,B", k=k)
        big_k = k_max if k is None else k
        want = {}
        for p in probs:
            pk = {
                r: comb_pass(len(m), sum(c for _, c in m), big_k)
                for r, m in ((r, graded(pools[r][p])) for r in ("A", "B"))
            }
            solved = {r: pk[r] >= Fraction(1, 2) for r in pk}
            if solved["A"] != solved["B"]:
                want[p] = ("a" if solved["A"] else "b", pk)
        assert {r["problem_id"]: r["solved_by"] for r in rows} == {p: w[0] for p, w in want.items()}
        for r in rows:
            assert r["k"] == big_k
            assert r["pass_at_k_a"] == pytest.approx(float(want[r["problem_id"]][1]["A"]))
            assert r["pass_at_k_b"] == pytest.approx(float(want[r["problem_id"]][1]["B"]))
            for run, s in (("A", "a"), ("B", "b")):
                m = graded(pools[run][r["problem_id"]])
                counts: dict[Any, list[Any]] = {}
                for i, (ans, ok) in enumerate(m):
                    counts.setdefault(ans, [0, i, ok])[0] += 1
                order = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
                text = "; ".join(
                    f"{'(no answer)' if a is None else a} ×{v[0]} {'✓' if v[2] else '✗'}"
                    for a, v in order
                )
                assert r[f"answers_{s}"] == text
                assert r[f"n_classes_{s}"] == sum(1 for a in counts if a is not None)
        keys = [
            (r["solved_by"], -abs(r["pass_at_k_b"] - r["pass_at_k_a"]), r["problem_id"])
            for r in rows
        ]
        assert keys == sorted(keys)
    with pytest.raises(rc.CompareError, match="smallest shared pool"):
        rc.problems_table(con, "A,B", k=k_max + 1)
    con.close()


def test_parse_runs_handles_commas_and_at_signs_in_run_ids() -> None:
    known = ["a,b", "a", "b", "x@1", "x", "c"]
    assert rc.parse_runs("a,b,c", known) == (rc.Side("a,b"), rc.Side("c"))
    assert rc.parse_runs("a@0.5, b", known) == (rc.Side("a", 0.5), rc.Side("b"))
    assert rc.parse_runs("x@1,x@0.7", known) == (rc.Side("x@1"), rc.Side("x", 0.7))
    with pytest.raises(rc.CompareError, match="unknown run 'nope'"):
        rc.parse_runs("nope,a", known)
    with pytest.raises(rc.CompareError, match="two runs A,B"):
        rc.parse_runs("a", known)
    with pytest.raises(rc.CompareError, match="several ways"):
        rc.parse_runs("a,b,a,b", ["a,b", "a", "b,a,b", "a,b,a", "b"])
    with pytest.raises(rc.CompareError, match=r"'\\x1b\[31m'"):
        rc.parse_runs("\x1b[31m,a", known)


def test_temperatures_pair_per_shared_temperature_or_as_named(tmp_path: Path) -> None:
    pools = collapsed_and_diverse(6, 2, 2)
    db = write_pools(tmp_path / "p.duckdb", pools, temperature=1.0)
    write_pools(db, {"A": collapsed_and_diverse(6, 1, 3)["A"]}, temperature=0.5)
    con = open_db(db)
    assert rc.temperature_pairs(con, rc.Side("A"), rc.Side("B")) == [(1.0, 1.0)]
    assert rc.temperature_pairs(con, rc.Side("A", 0.5), rc.Side("B", 1.0)) == [(0.5, 1.0)]
    assert rc.temperature_pairs(con, rc.Side("A"), rc.Side("B"), 1.0) == [(1.0, 1.0)]
    rows = rc.comparison_table(con, "A@0.5,A@1", n_boot=0)
    assert {(r["temperature_a"], r["temperature_b"]) for r in rows} == {(0.5, 1.0)}
    with pytest.raises(rc.CompareError, match="no graded pools at T=0.7"):
        rc.temperature_pairs(con, rc.Side("A", 0.7), rc.Side("B", 1.0))
    with pytest.raises(rc.CompareError, match="give both sides a temperature"):
        rc.temperature_pairs(con, rc.Side("A", 0.5), rc.Side("B"))
    with pytest.raises(rc.CompareError, match="same pools"):
        rc.temperature_pairs(con, rc.Side("A", 1.0), rc.Side("A", 1.0))
    con.close()


@pytest.fixture(scope="module")
def two_runs_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated base/tuned study (built once per session)."""
    return two_runs_template(tmp_path_factory)


def sql_pools(db: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """run -> problem -> (graded n, correct c), by plain SQL."""
    con = open_db(db, read_only=True)
    rows = con.execute(
        "SELECT run_id, problem_id, count(correct), sum(correct::INT) FROM samples "
        "WHERE correct IS NOT NULL GROUP BY ALL"
    ).fetchall()
    con.close()
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for run, pid, n, c in rows:
        out.setdefault(run, {})[pid] = (int(n), int(c))
    return out


def test_two_runs_cross_in_the_table_json_and_csv(two_runs_db: Path, tmp_path: Path) -> None:
    pools = sql_pools(two_runs_db)
    probs = sorted(set(pools["tuned"]) & set(pools["base"]))
    assert len(probs) == N_PROBLEMS
    means = {
        run: [
            sum(comb_pass(*pools[run][p], k) for p in probs) / len(probs)
            for k in range(1, N_SAMPLES + 1)
        ]
        for run in pools
    }
    diffs = [float(b - a) for a, b in zip(means["tuned"], means["base"], strict=True)]
    cross = brute_crossing(diffs)
    assert cross > 1 and diffs[0] < 0  # tuned (A) starts ahead, base (B) overtakes it

    res = run_divtui("report", "--db", str(two_runs_db), "--runs", "tuned,base", "--format", "json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert list(rep["tables"]) == ["run_comparison", "run_problems"]
    rows = rep["tables"]["run_comparison"]
    assert {r["crossing_k"] for r in rows} == {cross}
    assert [r["k"] for r in rows] == sorted({1, 2, 4, 8, cross})
    for r in rows:
        assert r["pass_at_k_a"] == pytest.approx(float(means["tuned"][r["k"] - 1]))
        assert r["pass_at_k_b"] == pytest.approx(float(means["base"][r["k"] - 1]))
        assert r["diff_lo"] <= r["diff"] <= r["diff_hi"]
    low, high = rows[0], rows[-1]
    assert low["pass_at_k_a"] > low["pass_at_k_b"] and high["pass_at_k_b"] > high["pass_at_k_a"]
    assert low["classes_a"] < low["classes_b"] and low["top_share_a"] > low["top_share_b"]
    con = open_db(two_runs_db, read_only=True)
    for r in rows:
        if r["k"] not in SIZES:
            assert r["cosine_sim_a"] is None and r["n_draws_a"] == 0
            continue
        assert r["n_draws_a"] == r["n_draws_b"] == N_PROBLEMS * min(REPS, comb(N_SAMPLES, r["k"]))
        assert r["cosine_sim_a"] > r["cosine_sim_b"] and r["distinct_n_a"] < r["distinct_n_b"]
        for run, s in (("tuned", "a"), ("base", "b")):
            for metric in ("cosine_sim", "distinct_n"):
                want = con.execute(
                    """SELECT avg(v) FROM (SELECT d.problem_id, avg(m.value) AS v FROM draws d
                       JOIN draw_metrics m USING (draw_id) WHERE d.run_id = ? AND d.k = ?
                       AND m.metric = ? GROUP BY ALL)""",
                    [run, r["k"], metric],
                ).fetchall()[0][0]
                assert r[f"{metric}_{s}"] == pytest.approx(want)
    con.close()
    solved_b = {p for p in probs if pools["base"][p][1] > 0 and pools["tuned"][p][1] == 0}
    only = rep["tables"]["run_problems"]
    assert {r["problem_id"] for r in only if r["solved_by"] == "b"} == solved_b and solved_b

    md = run_divtui("report", "--db", str(two_runs_db), "--runs", "tuned,base")
    assert md.returncode == 0, md.stderr
    assert f"B − A first changes sign at **k = {cross}**" in md.stdout
    assert f"| {cross} ← crossing |" in md.stdout
    assert "A = tuned (T = 1), B = base (T = 1)" in md.stdout
    for p in solved_b:
        assert f"| {p} | B |" in md.stdout

    csv = run_divtui(
        "report", "--db", str(two_runs_db), "--runs", "tuned@1,base@1", "--table", "run_comparison",
        "--format", "csv", "--plots", str(tmp_path / "plots"),
    )  # fmt: skip
    assert csv.returncode == 0, csv.stderr
    head, *lines = csv.stdout.strip().splitlines()
    assert "crossing_k" in head.split(",") and len(lines) == len(rows)
    png = tmp_path / "plots" / "pass_at_k_runs.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_errors_for_the_comparison_tables(two_runs_db: Path) -> None:
    db = str(two_runs_db)
    cases = [
        (["--table", "run_comparison"], "need two runs: --runs A,B"),
        (["--runs", "tuned,nope"], "unknown run 'nope'"),
        (["--runs", "tuned,base", "--table", "run_problems", "--k", "99"], "--k 99 must be"),
        (["--runs", "tuned@0.3,base@1"], "no graded pools at T=0.3"),
    ]
    for args, message in cases:
        res = run_divtui("report", "--db", db, *args)
        assert res.returncode == 1
        assert res.stderr.startswith("error: ") and message in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_database_text_reaches_the_markdown_as_inert_text(tmp_path: Path) -> None:
    evil = "[red]x[/]|\x1b[31m\u202e\u200b"
    pools: Pools = {
        "A": {evil: [(evil, True)] * 4, "p2": [("1", True)] * 4},
        "B": {evil: [("2", False)] * 4, "p2": [("1", True)] * 4},
    }
    db = write_pools(tmp_path / "evil.duckdb", pools)
    res = run_divtui("report", "--db", str(db), "--runs", "A,B", "--table", "run_problems")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert not any(ch in out for ch in "\x1b\u202e\u200b")
    assert "[red]x[/]\\|\\x1b[31m\\u202e\\u200b ×4 ✓" in out
    js = run_divtui("report", "--db", str(db), "--runs", "A,B", "--format", "json")
    assert json.loads(js.stdout)["tables"]["run_problems"][0]["problem_id"] == evil


def test_paired_interval_agrees_with_scipy_paired_percentile_bootstrap(tmp_path: Path) -> None:
    from scipy import stats as st

    rng = np.random.default_rng(21)
    pools = random_pools(rng, 40)
    pools["B"] = {
        p: [(a, c if rng.random() > 0.2 else (not c if c is not None else None)) for a, c in m]
        for p, m in pools["A"].items()
    }
    con = open_db(write_pools(tmp_path / "p.duckdb", pools))
    rows = rc.comparison_table(con, "A,B", n_boot=6000, seed=2)
    con.close()
    probs = shared(pools)
    for row in rows[:3]:
        k = row["k"]
        per = [
            np.array(
                [
                    float(comb_pass(len(m), sum(c for _, c in m), k))
                    for m in (graded(pools[r][p]) for p in probs)
                ]
            )
            for r in ("A", "B")
        ]
        res = st.bootstrap(
            (per[0], per[1]),
            lambda a, b, axis: np.mean(b, axis=axis) - np.mean(a, axis=axis),
            paired=True,
            vectorized=True,
            method="percentile",
            n_resamples=6000,
            rng=np.random.default_rng(3),
        )
        lo, hi = res.confidence_interval
        width = hi - lo
        assert row["diff_lo"] == pytest.approx(lo, abs=0.06 * width + 1e-9)
        assert row["diff_hi"] == pytest.approx(hi, abs=0.06 * width + 1e-9)
