"""Reward scoring for real on tiny saved models: padded batches, the + position, DB resume, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divtui.engine.rewards import ScorerError, load_classifier, load_orm, parse_scorer, score_db
from divtui.engine.specs import ScoreSpec
from divtui.store import insert, open_db, sample_id

from .conftest import run_divtui
from .tiny_models import (
    CORPUS,
    build_causal_lm,
    build_classifier,
    device_for_tests,
    dtype_for_tests,
)


def tol() -> float:
    """Tolerance on a probability or logit: tight in float32, a few bf16 steps (1/64 near 3) in 16-bit."""
    return 1e-5 if dtype_for_tests() == "float32" else 1e-1


@pytest.fixture(scope="module")
def orm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny causal LM used as an outcome reward model."""
    return build_causal_lm(tmp_path_factory.mktemp("orm") / "tiny-orm", seed=4, eos_logit=None)


@pytest.fixture(scope="module")
def clf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sequence-classification reward model with one output."""
    return build_classifier(tmp_path_factory.mktemp("clf") / "tiny-clf", seed=2)


def random_pairs(rng: np.random.Generator, k: int) -> tuple[list[str], list[str]]:
    """k (question, solution) pairs of very different lengths from the corpus, '+' inside some."""
    qs, ss = [], []
    for _ in range(k):
        words = " ".join(rng.choice(CORPUS, size=int(rng.integers(1, 5)))).split()
        cut = int(rng.integers(1, len(words)))
        qs.append(" ".join(words[:cut]))
        ss.append(" ".join(words[cut:]) or "+")
    return qs, ss


def independent_orm(model_dir: Path, question: str, solution: str) -> float:
    """P(+) computed from scratch: template text, tokens, one forward, the index before '+'."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(device_for_tests())
    text = (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
        f"{question} {solution}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>"
    )
    ids = tok(text, add_special_tokens=False).input_ids
    plus, minus = tok.convert_tokens_to_ids("+"), tok.convert_tokens_to_ids("-")
    assert ids[-2] == plus  # '+' then end-of-turn: RLHFlow's -3 on this template
    with torch.no_grad():
        logits = model(torch.tensor([ids], device=model.device)).logits[0, -3].double()
    pair = logits[[plus, minus]]
    return float(torch.softmax(pair, dim=0)[0])


def test_orm_padded_batch_equals_each_row_alone(orm_dir: Path) -> None:
    rm = load_orm(str(orm_dir), device=device_for_tests(), dtype=dtype_for_tests())
    rng = np.random.default_rng(0)
    for _ in range(3):
        qs, ss = random_pairs(rng, int(rng.integers(2, 7)))
        batch = rm.score(qs, ss, True)
        assert batch.hidden is not None and batch.hidden.shape == (len(qs), 32)
        for i in range(len(qs)):
            alone = rm.score([qs[i]], [ss[i]], True)
            assert batch.values[i] == pytest.approx(alone.values[0], abs=tol())
            np.testing.assert_allclose(batch.hidden[i], alone.hidden[0], atol=tol() * 10)
    assert batch.values.std() > 1e-3  # rows differ, so a wrong position would show


def test_orm_score_matches_rlhflow_reference_computation(orm_dir: Path) -> None:
    rm = load_orm(str(orm_dir), device=device_for_tests(), dtype=dtype_for_tests())
    qs, ss = random_pairs(np.random.default_rng(1), 4)
    got = rm.score(qs, ss, False).values
    want = [independent_orm(orm_dir, q, s) for q, s in zip(qs, ss, strict=True)]
    np.testing.assert_allclose(got, want, atol=tol())


def test_classifier_padded_batch_equals_each_row_and_hf_own_pooling(clf_dir: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rm = load_classifier(str(clf_dir), device=device_for_tests(), dtype=dtype_for_tests())
    qs, ss = random_pairs(np.random.default_rng(2), 5)
    batch = rm.score(qs, ss, False).values
    tok = AutoTokenizer.from_pretrained(clf_dir)
    hf = AutoModelForSequenceClassification.from_pretrained(
        clf_dir, dtype=getattr(torch, dtype_for_tests())
    ).to(device_for_tests())
    for i, (q, s) in enumerate(zip(qs, ss, strict=True)):
        ids = tok.apply_chat_template(
            [{"role": "user", "content": q}, {"role": "assistant", "content": s}],
            return_tensors="pt",
            return_dict=True,
        )["input_ids"]
        with torch.no_grad():
            want = hf(ids.to(hf.device)).logits[0, 0].item()
        assert batch[i] == pytest.approx(want, abs=tol())
        assert batch[i] == pytest.approx(rm.score([q], [s], False).values[0], abs=tol())


def test_scorer_names_are_checked() -> None:
    assert parse_scorer("orm:RLHFlow/Llama3.1-8B-ORM-Mistral-Data") == (
        "orm",
        "RLHFlow/Llama3.1-8B-ORM-Mistral-Data",
    )
    with pytest.raises(ScorerError, match="unknown scorer kind 'probe'"):
        parse_scorer("probe:sbert")
    with pytest.raises(ScorerError, match="expected KIND:MODEL"):
        parse_scorer("orm")


def seed_db(path: Path, n_problems: int = 3, n: int = 4) -> list[int]:
    """A database with problems and samples written in bulk; returns the sample ids."""
    rng = np.random.default_rng(3)
    qs, ss = random_pairs(rng, n_problems * n)
    con = open_db(path)
    insert(
        con,
        "problems",
        pd.DataFrame(
            {"problem_id": [f"p{i}" for i in range(n_problems)], "question": qs[:n_problems]}
        ),
    )
    insert(con, "runs", pd.DataFrame({"run_id": ["r"], "source": ["demo (simulated)"]}))
    ids = [sample_id("r", f"p{i // n}", 0.7, i % n) for i in range(n_problems * n)]
    insert(
        con,
        "samples",
        pd.DataFrame(
            {
                "sample_id": ids,
                "run_id": "r",
                "problem_id": [f"p{i // n}" for i in range(len(ids))],
                "temperature": 0.7,
                "idx": [i % n for i in range(len(ids))],
                "text": ss,
            }
        ),
    )
    con.close()
    return ids


def test_score_db_resumes_and_stores_hidden_states(tmp_path: Path, orm_dir: Path) -> None:
    ids = seed_db(tmp_path / "s.duckdb")
    rm = load_orm(str(orm_dir), device=device_for_tests(), dtype=dtype_for_tests())
    scorer = f"orm:{orm_dir}"
    con = open_db(tmp_path / "s.duckdb")

    def stop_after_first_batch(done: int, total: int, label: str) -> None:
        if done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_db(
            con,
            ScoreSpec(scorer=scorer, batch_size=5, store_hidden=True),
            reward_model=rm,
            progress=stop_after_first_batch,
        )
    assert con.execute("SELECT count(*) FROM scores").fetchall()[0][0] == 5
    stats = score_db(
        con, ScoreSpec(scorer=scorer, batch_size=5, store_hidden=True), reward_model=rm
    )
    assert stats["scored"] == 7
    rows = con.execute(
        "SELECT s.sample_id, p.question, s.text, c.value FROM samples s JOIN problems p "
        "USING (problem_id) JOIN scores c USING (sample_id) WHERE c.scorer = ? ORDER BY 1",
        [scorer],
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)
    alone = rm.score([r[1] for r in rows], [r[2] for r in rows], False).values
    np.testing.assert_allclose([r[3] for r in rows], alone, atol=tol())
    emb = con.execute(
        "SELECT embedder, count(*), max(len(vec)) FROM embeddings GROUP BY 1"
    ).fetchall()
    assert emb == [(f"orm-hidden:{orm_dir}", 12, 32)]
    assert score_db(con, ScoreSpec(scorer=scorer), reward_model=rm)["scored"] == 0
    con.close()


def test_cli_score_and_unknown_kind(tmp_path: Path, clf_dir: Path) -> None:
    db = tmp_path / "c.duckdb"
    seed_db(db, 2, 3)
    out = run_divtui(
        "score",
        "--db",
        str(db),
        "--scorer",
        f"classifier:{clf_dir}",
        "--device",
        device_for_tests(),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("6 samples scored")
    bad = run_divtui("score", "--db", str(db), "--scorer", "reward:x")
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: scorer 'reward:x': unknown scorer kind 'reward'")
    missing = run_divtui("score", "--db", str(db), "--scorer", "probe:x")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: embedder 'x' is not in the database (present: none)"
    con = open_db(db, read_only=True)
    assert con.execute("SELECT count(*) FROM scores").fetchall()[0][0] == 6
    con.close()
