"""Import speed: `divtui import --format jsonl --no-grade` of a generated 200k-sample file.

Prints samples/s of the real import (open the file, parse, check, one-transaction ingest, close
with its checkpoint; grading excluded) against a naive baseline measured in the same run:
json.loads per line and one INSERT per row (no executemany), timed on a subset and extrapolated.
The machine may be shared, so it prints the load average next to the figures, and the time of
each fast-path stage. ``--floor`` also times what DuckDB alone needs to write the same rows with
no validation at all (typed columns, ids from DuckDB's own hash, no Python between statements):
the ceiling of any import built on read_json and INSERT on this machine.
Run as ``python -m bench.import_speed [--samples N] [--repeat R] [--floor]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

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


class Timed:
    """A connection proxy that records the seconds each ``execute`` takes, for the stage table."""

    def __init__(self, con: Any) -> None:
        """Wrap ``con``."""
        self.con = con
        self.log: list[tuple[float, str]] = []

    def execute(self, sql: str, *args: Any) -> Any:
        """Run and time one statement."""
        start = time.perf_counter()
        out = self.con.execute(sql, *args)
        self.log.append((time.perf_counter() - start, " ".join(sql.split())))
        return out

    def __getattr__(self, name: str) -> Any:
        """Everything else goes to the wrapped connection."""
        return getattr(self.con, name)


STAGES = (
    ("read_json into temp table", "CREATE TEMP TABLE _divtui_jsonl_raw"),
    ("checks (SQL aggregates)", "SELECT"),
    ("keys and ids", "CREATE TEMP TABLE _divtui_jsonl_"),
    ("insert samples", "INSERT INTO samples"),
    ("insert embeddings", "INSERT INTO embeddings"),
    ("other inserts", "INSERT"),
    ("commit", "COMMIT"),
)


def stages(log: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds per fast-path stage, by the first matching statement prefix."""
    out = dict.fromkeys([name for name, _ in STAGES], 0.0)
    for seconds, sql in log:
        for name, prefix in STAGES:
            if sql.startswith(prefix):
                out[name] += seconds
                break
    return out


def timed_import(
    src: Path, db: Path, threads: int | None = None
) -> tuple[float, str, dict[str, float]]:
    """Seconds of one import into a new database (open to close), its parser, stage times."""
    from divtui.engine.file_import import import_file
    from divtui.store import open_db

    start = time.perf_counter()
    con = Timed(open_db(db))
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    out = import_file(con, src, "jsonl", run_id="bench")
    parser = json.loads(con.execute("SELECT config FROM runs").fetchall()[0][0])["parser"]
    con.close()
    elapsed = time.perf_counter() - start
    assert out["counts"]["samples"]["new"] == out["counts"]["samples"]["rows"]
    return elapsed, parser, stages(con.log)


FLOOR_COLUMNS = (
    "problem_id: 'VARCHAR', question: 'VARCHAR', gold_answer: 'VARCHAR', "
    "temperature: 'DOUBLE', sample_idx: 'INTEGER', text: 'VARCHAR', n_tokens: 'INTEGER', "
    "sum_logprob: 'DOUBLE', mean_logprob: 'DOUBLE', finish_reason: 'VARCHAR', "
    "scores: 'STRUCT(\"orm:bench\" DOUBLE)', embeddings: 'STRUCT(\"bench@256\" FLOAT[])'"
)


def floor(src: Path, db: Path) -> float:
    """Seconds of an unvalidated import of the generated file: one typed read_json into a temp
    table, the four inserts (embeddings uncompressed, as the real import writes them), commit.

    It checks nothing and knows the file's one scorer and embedder, so it is a bound, not an
    import: what is left for parsing, checking and hashing ids is the real import's overhead.
    """
    from divtui.store import open_db

    start = time.perf_counter()
    con = open_db(db)
    con.execute(
        "CREATE TEMP TABLE raw AS SELECT (hash(problem_id, temperature, sample_idx) >> 1)::BIGINT "
        f"AS sample_id, * FROM read_json('{src}', format='newline_delimited', "
        f"columns={{{FLOOR_COLUMNS}}})"
    )
    con.execute("BEGIN")
    con.execute("SET force_compression = 'uncompressed'")
    con.execute(
        "INSERT INTO embeddings SELECT sample_id, 'bench@256', embeddings['bench@256'] FROM raw"
    )
    con.execute("RESET force_compression")
    con.execute(
        "INSERT INTO problems BY NAME SELECT problem_id, first(question) AS question, "
        "first(gold_answer) AS gold_answer FROM raw GROUP BY problem_id"
    )
    con.execute(
        "INSERT INTO samples BY NAME SELECT sample_id, 'floor' AS run_id, problem_id, "
        "temperature, sample_idx AS idx, text, n_tokens, sum_logprob, mean_logprob, "
        "finish_reason FROM raw"
    )
    con.execute("INSERT INTO scores SELECT sample_id, 'orm:bench', scores['orm:bench'] FROM raw")
    con.execute("COMMIT")
    con.close()
    return time.perf_counter() - start


def load() -> str:
    """The 1-minute load average and the core count, for the report."""
    cores = len(os.sched_getaffinity(0))
    return f"load average {os.getloadavg()[0]:.1f} on {cores} usable cores"


def main() -> None:
    """Generate, import, compare, print."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--samples", "--n", dest="samples", type=int, default=200_000, help="samples in the file"
    )
    ap.add_argument("--naive", type=int, default=2_000, help="rows timed for the baseline")
    ap.add_argument("--repeat", type=int, default=1, help="imports timed (the best is reported)")
    ap.add_argument(
        "--threads", type=int, default=None, help="DuckDB threads (default: one per core)"
    )
    ap.add_argument(
        "--floor", action="store_true", help="also time DuckDB alone with no validation"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "bench.jsonl"
        generate(src, args.samples)
        size = src.stat().st_size / 1e6
        print(f"file: {args.samples} samples, {size:.0f} MB (384-float embedding, ~150-word text)")
        runs = []
        for i in range(args.repeat):
            load_before = load()
            fast, parser, times = timed_import(src, Path(tmp) / f"fast{i}.duckdb", args.threads)
            runs.append((fast, parser, times))
            rate = args.samples / fast
            print(
                f"divtui import ({parser} parser): {fast:.2f} s, {rate:,.0f} samples/s "
                f"({load_before} before, {load()} after)"
            )
            print("  " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
        fast = min(r[0] for r in runs)
        if args.floor:
            best = min(floor(src, Path(tmp) / f"floor{i}.duckdb") for i in range(args.repeat))
            print(
                f"floor (DuckDB alone, nothing checked): {best:.2f} s, "
                f"{args.samples / best:,.0f} samples/s; the import takes {fast / best:.2f}x that"
            )
        per_row = naive(src, Path(tmp) / "naive.duckdb", min(args.naive, args.samples))
    rate = args.samples / fast
    print(f"row-by-row baseline: {1 / per_row:,.0f} samples/s (timed on {args.naive} rows)")
    print(
        f"best: {rate:,.0f} samples/s; ratio {rate * per_row:.1f}x; target >= 50,000 samples/s: "
        f"{'met' if rate >= 50_000 else 'NOT met'} ({load()})"
    )


if __name__ == "__main__":
    main()
