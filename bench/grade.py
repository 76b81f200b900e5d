"""Benchmark of grading a hard pool: the keyed path against the plain one, in the same run.

    python -m bench.grade                              # 256 samples, 150 distinct answers
    python -m bench.grade --samples 64 --distinct 40   # quicker (the plain path is slow)

One pool (one run, problem, temperature) of answers from ``bench/hard_answers.py`` (fractions,
radicals, sums, intervals, expressions in equivalent spellings), written as boxed solutions into
two real DuckDB files and graded end to end by ``grade_db``: extraction, grading against the
gold, answer classes, write-back. Once with ``plain=True`` (every comparison the definition
names: each sample against the gold, each new answer against every class representative in
turn) and once keyed (each distinct string parsed and keyed once, only comparisons the keys
allow). Both use the same worker count and timeout, and a generous default timeout so that no
comparison is cut off (a cut-off comparison makes the plain path's result depend on load).
Prints wall seconds, math-verify comparisons, the ratio, and checks that every stored answer,
grade and class is identical.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from divtui.engine.grading import grade_db, verifier
from divtui.engine.specs import GradeSpec
from divtui.store import insert, open_db, sample_id, transaction

from .hard_answers import hard_pool


def build_db(path: Path, answers: list[str], gold: str) -> None:
    """A real divtui file with one problem (gold ``gold``) and one pool of boxed ``answers``."""
    con = open_db(path)
    samples = pd.DataFrame(
        {
            "sample_id": [sample_id("bench", "p", 0.8, i) for i in range(len(answers))],
            "run_id": "bench",
            "problem_id": "p",
            "temperature": 0.8,
            "idx": range(len(answers)),
            "text": [f"Working.\nSo the answer is $\\boxed{{{a}}}$." for a in answers],
        }
    )
    with transaction(con):
        insert(con, "runs", pd.DataFrame({"run_id": ["bench"], "source": ["bench"]}))
        problem = {"problem_id": "p", "question": "q", "gold_answer": gold}
        insert(con, "problems", pd.DataFrame([problem]))
        insert(con, "samples", samples)
    con.close()


def grade(path: Path, plain: bool, workers: int, timeout: float) -> tuple[float, dict[str, int]]:
    """Wall seconds and counts of ``grade_db`` on the file."""
    con = open_db(path)
    t0 = time.perf_counter()
    counts = grade_db(con, GradeSpec(workers=workers, timeout=timeout), plain=plain)
    wall = time.perf_counter() - t0
    con.close()
    return wall, counts


def stored(path: Path) -> list[tuple]:
    """(idx, answer, correct, answer_class) of every sample, by idx."""
    con = open_db(path, read_only=True)
    rows = con.execute(
        "SELECT idx, answer, correct, answer_class FROM samples ORDER BY idx"
    ).fetchall()
    con.close()
    return rows


def main() -> None:
    """Grade the same pool both ways and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--distinct", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    answers, gold = hard_pool(args.seed, samples=args.samples, distinct=args.distinct)
    print(
        f"one pool: {len(answers)} samples, {len(set(answers))} distinct answers, gold {gold!r}; "
        f"{args.workers} workers, timeout {args.timeout:g} s; load {os.getloadavg()[0]:.1f}"
    )
    with verifier(args.workers, args.timeout) as v:
        v.grade(["1"], ["1"])
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{name}.duckdb" for name in ("plain", "keyed")}
        for path in paths.values():
            build_db(path, answers, gold)
        results = {}
        for name, path in paths.items():
            results[name] = grade(path, name == "plain", args.workers, args.timeout)
            wall, counts = results[name]
            print(
                f"{name:>6}: {wall:8.2f} s, {counts['comparisons']:6d} comparisons, "
                f"{counts['timeouts']} timed out, {counts['correct']} correct"
            )
        rows = {name: stored(path) for name, path in paths.items()}
    classes = len({r[3] for r in rows["keyed"] if r[3] is not None})
    same = rows["plain"] == rows["keyed"]
    ratio = results["plain"][0] / results["keyed"][0]
    print(
        f"keyed is {ratio:.1f}x faster; {classes} classes; identical answers, grades, classes: {same}"
    )
    print(f"load after: {os.getloadavg()[0]:.1f}")
    if not same:
        diff = [(p, k) for p, k in zip(rows["plain"], rows["keyed"], strict=True) if p != k]
        print("differences (plain, keyed):", diff[:10])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
