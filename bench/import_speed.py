"""Import speed: `divtui import --format jsonl --no-grade` of a generated 200k-sample file.

Prints samples/s of the real import (parse + one-transaction ingest) against a naive baseline
measured in the same run: json.loads per line and one INSERT per row (no executemany), timed on
a subset and extrapolated. Run as ``python -m bench.import_speed [--n N]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

WORDS = [
    "the",
    "of",
    "a",
    "to",
    "is",
    "and",
    "we",
    "so",
    "then",
    "let",
    "be",
    "x",
    "y",
    "z",
    "number",
    "sum",
    "equals",
    "find",
    "solve",
    "value",
    "product",
    "total",
    "answer",
    "therefore",
    "since",
    "which",
    "gives",
    "first",
    "second",
    "step",
    "compute",
    "check",
    "both",
    "sides",
]


def generate(path: Path, n: int, seed: int = 0) -> None:
    """Write ``n`` native records: ~150-word texts, logprobs, one score, a 384-float embedding."""
    rng = np.random.default_rng(seed)
    distinct = 2000
    embs = []
    for _ in range(distinct):
        v = rng.standard_normal(384).astype(np.float32)
        v /= np.linalg.norm(v)
        embs.append("[" + ",".join(f"{x:.6g}" for x in v) + "]")
    texts = [
        json.dumps(" ".join(rng.choice(WORDS, 150)) + f" so \\boxed{{{i}}}")
        for i in range(distinct)
    ]
    with open(path, "w") as f:
        for i in range(n):
            p, k = divmod(i, 64)
            n_tok = int(rng.integers(100, 400))
            s = -rng.random() * 60
            f.write(
                f'{{"problem_id": "p{p}", "question": "What is {p} + 1?", "gold_answer": "{p + 1}", '
                f'"temperature": 0.7, "sample_idx": {k}, "text": {texts[(i * 13) % distinct]}, '
                f'"n_tokens": {n_tok}, "sum_logprob": {s:.5f}, "mean_logprob": {s / n_tok:.6f}, '
                f'"finish_reason": "stop", "scores": {{"orm:bench": {rng.random():.6f}}}, '
                f'"embeddings": {{"bench@256": {embs[(i * 7) % distinct]}}}}}\n'
            )


def naive(path: Path, db: Path, limit: int) -> float:
    """Seconds per sample of the row-by-row baseline on the first ``limit`` lines."""
    from divtui.store import open_db, sample_id

    con = open_db(db)
    start = time.perf_counter()
    con.execute("BEGIN")
    with open(path) as f:
        for i, line in enumerate(f):
            if i >= limit:
                break
            r = json.loads(line)
            sid = sample_id("naive", r["problem_id"], r["temperature"], r["sample_idx"])
            con.execute(
                "INSERT OR IGNORE INTO problems (problem_id, question, gold_answer) VALUES (?, ?, ?)",
                [r["problem_id"], r["question"], r["gold_answer"]],
            )
            con.execute(
                "INSERT INTO samples (sample_id, run_id, problem_id, temperature, idx, text, "
                "n_tokens, sum_logprob, mean_logprob, finish_reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    sid,
                    "naive",
                    r["problem_id"],
                    r["temperature"],
                    r["sample_idx"],
                    r["text"],
                    r["n_tokens"],
                    r["sum_logprob"],
                    r["mean_logprob"],
                    r["finish_reason"],
                ],
            )
            for name, v in r["scores"].items():
                con.execute("INSERT INTO scores VALUES (?, ?, ?)", [sid, name, v])
            for name, v in r["embeddings"].items():
                con.execute("INSERT INTO embeddings VALUES (?, ?, ?)", [sid, name, v])
    con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed / limit


def main() -> None:
    """Generate, import, compare, print."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200_000, help="samples in the generated file")
    ap.add_argument("--naive", type=int, default=2_000, help="rows timed for the baseline")
    args = ap.parse_args()
    from divtui.commands.import_ import import_file
    from divtui.store import open_db

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "bench.jsonl"
        generate(src, args.n)
        size = src.stat().st_size / 1e6
        con = open_db(Path(tmp) / "fast.duckdb")
        start = time.perf_counter()
        out = import_file(con, src, "jsonl", run_id="bench")
        fast = time.perf_counter() - start
        parser = json.loads(con.execute("SELECT config FROM runs").fetchall()[0][0])["parser"]
        con.close()
        assert out["counts"]["samples"]["new"] == args.n
        per_row = naive(src, Path(tmp) / "naive.duckdb", min(args.naive, args.n))
    rate = args.n / fast
    print(f"file: {args.n} samples, {size:.0f} MB (384-float embedding, ~150-word text per line)")
    print(f"divtui import ({parser} parser): {fast:.2f} s, {rate:,.0f} samples/s")
    print(f"row-by-row baseline: {1 / per_row:,.0f} samples/s (timed on {args.naive} rows)")
    print(
        f"ratio: {rate * per_row:.1f}x; target >= 50,000 samples/s: "
        f"{'met' if rate >= 50_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
