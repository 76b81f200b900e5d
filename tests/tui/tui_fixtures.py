"""A small deterministic study written straight into a real DuckDB file, with hostile texts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from divtui.store import draw_id, insert, open_db, sample_id, transaction

SCORER = "orm:test-rm"
EMBEDDER = "test-embedder@8"
RUN = "run-a"
TEMPS = (0.5, 1.0)
N_SAMPLES = 8
SIZES = (2, 4)
REPS = 3
METRICS = ("cosine_sim", "distinct_n", "dpp", "mean_logprob", "n_correct", "qual_dpp")
HOSTILE = (
    "[bold red]x[/] is the answer \\boxed{7}",
    "[link=https://evil.example]click[/link] so \\boxed{7}",
    "\x1b[31mred\x1b[0m and \x1b]0;title\x07 then \\boxed{3}",
    "a lone [ bracket and $\\frac{1}{2}$ gives \\boxed{7}",
)
QUESTIONS = {
    "p-alpha": "What is $3 + 4$?",
    "p-beta": "Compute [the] value of $\\sqrt{49}$.",
    "p-gamma": "Find x if 2x = 14.",
}


SECOND_RUN = "run-b"
SECOND_QUESTIONS = {
    "gsm8k:10": "Tom has $\\frac{1}{2}$ of 20 apples. How many?",
    "gsm8k:2": "What is 14 / 2?",
    "gsm8k:1": "Seven minus zero?",
}
SECOND_TEMPS = (0.7,)


def _texts(problem: str, temperature: float, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(text, answer) for each sample of a pool; the first pool holds the hostile samples."""
    out = []
    for i in range(N_SAMPLES):
        if problem == "p-alpha" and temperature == TEMPS[0] and i < len(HOSTILE):
            text = HOSTILE[i]
            ans = text.rsplit("\\boxed{", 1)[1].split("}")[0]
        else:
            ans = str(int(rng.choice([7, 7, 7, 3, 5])))
            steps = " ".join(f"step{j} adds {int(rng.integers(1, 9))}" for j in range(5))
            text = f"Solution {i} for {problem}: {steps}.\nSo the answer is \\boxed{{{ans}}}."
        out.append((text, ans))
    return out


def _append(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Bulk-append to a table without a key (store.insert's OR IGNORE needs one)."""
    con.register("_tui_fixture_rows", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _tui_fixture_rows")
    finally:
        con.unregister("_tui_fixture_rows")


def build_study(
    path: Path,
    seed: int = 0,
    *,
    run: str = RUN,
    questions: dict[str, str] = QUESTIONS,
    temps: tuple[float, ...] = TEMPS,
    source: str = "test",
) -> Path:
    """Write problems, one run, samples, scores, embeddings, draws, metrics and outcomes (into
    a new file, or as one more run of an existing one)."""
    rng = np.random.default_rng(seed)
    con = open_db(path)
    problems, samples, scores, embs, draws, mets, outs = [], [], [], [], [], [], []
    for pid, q in questions.items():
        problems.append({"problem_id": pid, "dataset": "test", "question": q, "gold_answer": "7"})
    for pid in questions:
        for t in temps:
            ids, correct = [], []
            for i, (text, ans) in enumerate(_texts(pid, t, rng)):
                sid = sample_id(run, pid, t, i)
                ok = ans == "7"
                lp = float(-rng.uniform(0.05, 1.5))
                samples.append(
                    {
                        "sample_id": sid,
                        "run_id": run,
                        "problem_id": pid,
                        "temperature": t,
                        "idx": i,
                        "text": text,
                        "n_tokens": len(text.split()),
                        "mean_logprob": lp,
                        "sum_logprob": lp * len(text.split()),
                        "finish_reason": "stop",
                        "answer": ans,
                        "correct": ok,
                    }
                )
                scores.append({"sample_id": sid, "scorer": SCORER, "value": float(rng.random())})
                v = rng.normal(size=8).astype(np.float32)
                embs.append({"sample_id": sid, "embedder": EMBEDDER, "vec": v.tolist()})
                ids.append(sid)
                correct.append(ok)
            for k in SIZES:
                for rep in range(REPS):
                    pick = rng.choice(N_SAMPLES, size=k, replace=False)
                    did = draw_id(run, pid, t, k, rep, seed)
                    members = [ids[j] for j in pick]
                    draws.append(
                        {
                            "draw_id": did,
                            "run_id": run,
                            "problem_id": pid,
                            "temperature": t,
                            "k": k,
                            "rep": rep,
                            "seed": seed,
                            "sample_ids": members,
                        }
                    )
                    for m in METRICS:
                        emb = EMBEDDER if m in ("cosine_sim", "dpp", "qual_dpp") else ""
                        mets.append(
                            {
                                "draw_id": did,
                                "metric": m,
                                "embedder": emb,
                                "scorer": "",
                                "value": float(rng.normal()),
                            }
                        )
                    for a in ("maj", "wmaj", "bst", "mbr_lex", "mbr_sem"):
                        j = int(rng.integers(k))
                        emb = EMBEDDER if a == "mbr_sem" else ""
                        sc = SCORER if a in ("wmaj", "bst") else ""
                        outs.append(
                            {
                                "draw_id": did,
                                "aggregator": a,
                                "embedder": emb,
                                "scorer": sc,
                                "sample_id": members[j],
                                "answer": samples[-N_SAMPLES + pick[j]]["answer"],
                                "correct": correct[pick[j]],
                            }
                        )
                    outs.append(
                        {
                            "draw_id": did,
                            "aggregator": "coverage",
                            "embedder": "",
                            "scorer": "",
                            "sample_id": None,
                            "answer": None,
                            "correct": any(correct[j] for j in pick),
                        }
                    )
    with transaction(con):
        insert(con, "runs", pd.DataFrame([{"run_id": run, "source": source, "model": "m"}]))
        insert(con, "problems", pd.DataFrame(problems))
        insert(con, "samples", pd.DataFrame(samples))
        insert(con, "scores", pd.DataFrame(scores))
        insert(con, "embeddings", pd.DataFrame(embs))
        insert(con, "draws", pd.DataFrame(draws))
        _append(con, "draw_metrics", pd.DataFrame(mets))
        out_frame = pd.DataFrame(outs)
        out_frame["sample_id"] = pd.array([o["sample_id"] for o in outs], dtype="Int64")
        _append(con, "draw_outcomes", out_frame)
    con.close()
    return path


def add_second_run(path: Path) -> Path:
    """Add run-b: three gsm8k-style problems (ids 1, 2, 10; a LaTeX question) at T=0.7."""
    return build_study(path, seed=1, run=SECOND_RUN, questions=SECOND_QUESTIONS, temps=SECOND_TEMPS)
