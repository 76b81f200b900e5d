"""A synthetic study at any scale (MATH-500 size by default) for the benchmarks.

Texts are built from per-problem "sentences" of a Zipf-distributed vocabulary so n-grams repeat
the way real solutions do; answers, classes, correctness, rewards (logits), log-probs and 384-d
embeddings are random but correlated with correctness and temperature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from divtui.store import insert, open_db, sample_id, transaction

RUN_ID = "synthetic"
SCORER = "orm:synthetic"
EMBEDDER = "synthetic-384@256"


def _vocab(rng: np.random.Generator, size: int = 3000) -> np.ndarray:
    """Random lower-case words plus math-looking tokens."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(size)]
    words[:12] = ["=", "+", "the", "we", "so", "$x$", "\\frac{1}{2}", "is", "of", "(", ")", "."]
    return np.array(words, dtype=object)


def _texts(
    rng: np.random.Generator, vocab: np.ndarray, n: int, answers: list[str | None]
) -> list[str]:
    """``n`` solutions of ~150-300 words that share phrasing within one problem."""
    zipf = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    zipf /= zipf.sum()
    sentences = [" ".join(rng.choice(vocab, size=rng.integers(8, 20), p=zipf)) for _ in range(40)]
    out = []
    for ans in answers:
        target = int(rng.integers(150, 300))
        parts: list[str] = []
        words = 0
        while words < target:
            s = sentences[int(rng.integers(0, len(sentences)))]
            if rng.random() < 0.3:
                s = s + " " + " ".join(rng.choice(vocab, size=3, p=zipf))
            parts.append(s)
            words += s.count(" ") + 1
        tail = f"The final answer is $\\boxed{{{ans}}}$." if ans is not None else "I am not sure."
        out.append(" ".join(parts) + " " + tail)
    return out


def build_study(
    path: str | Path,
    problems: int = 500,
    temperatures: int = 4,
    n: int = 64,
    *,
    dim: int = 384,
    seed: int = 0,
) -> dict:
    """Write a synthetic study (one run) into the DuckDB file ``path``; returns its counts."""
    rng = np.random.default_rng(seed)
    vocab = _vocab(rng)
    temps = [round(0.3 + 0.7 * t / max(1, temperatures - 1), 2) for t in range(temperatures)]
    con = open_db(path)
    prob_rows = {"problem_id": [], "dataset": [], "question": [], "gold_answer": []}
    cols: dict[str, list] = {
        c: []
        for c in (
            "sample_id",
            "run_id",
            "problem_id",
            "temperature",
            "idx",
            "text",
            "n_tokens",
            "sum_logprob",
            "mean_logprob",
            "finish_reason",
            "answer",
            "correct",
            "answer_class",
        )
    }
    vecs = []
    logits = []
    for p in range(problems):
        pid = f"synthetic/{p:04d}"
        gold = str(int(rng.integers(1, 1000)))
        prob_rows["problem_id"].append(pid)
        prob_rows["dataset"].append("synthetic")
        prob_rows["question"].append(f"Synthetic problem {p}: compute the value.")
        prob_rows["gold_answer"].append(gold)
        skill = rng.random()
        center = rng.normal(size=dim)
        wrong = [str(int(rng.integers(1, 1000))) for _ in range(4)]
        for t in temps:
            p_right = max(0.02, skill - 0.3 * t)
            answers: list[str | None] = []
            for _ in range(n):
                u = rng.random()
                answers.append(
                    gold if u < p_right else (None if u > 0.97 else wrong[int(rng.integers(0, 4))])
                )
            classes: dict[str, int] = {}
            texts = _texts(rng, vocab, n, answers)
            emb = center + (0.5 + t) * rng.normal(size=(n, dim))
            dup = rng.random(n) < 0.03
            emb[dup] = emb[0]
            vecs.append(emb.astype(np.float32))
            for i, (ans, text) in enumerate(zip(answers, texts, strict=True)):
                ok = ans == gold
                n_tok = text.count(" ") + 1
                mlp = -0.1 - 0.4 * t * rng.random() - (0.0 if ok else 0.1)
                cols["sample_id"].append(sample_id(RUN_ID, pid, t, i))
                cols["run_id"].append(RUN_ID)
                cols["problem_id"].append(pid)
                cols["temperature"].append(t)
                cols["idx"].append(i)
                cols["text"].append(text)
                cols["n_tokens"].append(n_tok)
                cols["sum_logprob"].append(mlp * n_tok)
                cols["mean_logprob"].append(mlp)
                cols["finish_reason"].append("stop")
                cols["answer"].append(ans)
                cols["correct"].append(ok)
                cols["answer_class"].append(
                    None if ans is None else classes.setdefault(ans, len(classes))
                )
                logits.append(rng.normal(1.5 if ok else -1.0, 1.0))
    flat = np.concatenate(vecs).reshape(-1)
    offsets = np.arange(0, len(flat) + 1, dim, dtype=np.int32)
    sids = np.array(cols["sample_id"], dtype=np.int64)
    with transaction(con):
        insert(
            con,
            "runs",
            pa.table({"run_id": [RUN_ID], "source": ["demo (simulated)"], "model": ["synthetic"]}),
        )
        insert(con, "problems", pa.table(prob_rows))
        insert(con, "samples", pa.table(cols))
        insert(
            con,
            "scores",
            pa.table({"sample_id": sids, "scorer": [SCORER] * len(sids), "value": logits}),
        )
        insert(
            con,
            "embeddings",
            pa.table(
                {
                    "sample_id": sids,
                    "embedder": [EMBEDDER] * len(sids),
                    "vec": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat)),
                }
            ),
        )
    con.close()
    return {"problems": problems, "temperatures": temps, "samples": len(sids)}
