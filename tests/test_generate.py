"""Sampling for real with a tiny Llama saved to disk: prompts, log-probs, seeds, resume, CLI, datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from divtui.engine.datasets import PRESETS, DatasetError, Fields, load_problems, read_hf
from divtui.engine.generate import GenerateSpec, generate_db, pool_seed
from divtui.engine.prompts import DEFAULT_SYSTEM_PROMPT, render_prompt
from divtui.store import open_db

from .conftest import run_divtui
from .tiny_models import build_causal_lm, device_for_tests, dtype_for_tests, logprob_tolerance

QUESTIONS = ["What is 2 + 3?", "Find x if 3x + 4 = 19.", "Compute 12 - 7 in \\boxed{}."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny causal LM with its tokenizer, saved to a folder and loaded later by path."""
    return build_causal_lm(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="module")
def backend(model_dir: Path) -> Any:
    """The transformers backend on the test device and dtype."""
    from divtui.engine.backend_transformers import load

    return load(str(model_dir), device=device_for_tests(), dtype=dtype_for_tests(), batch_size=4)


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> Any:
    """A second, independent copy of the model for teacher-forced scoring."""
    from transformers import AutoModelForCausalLM

    from divtui.engine.backend_transformers import resolve_dtype

    dtype = resolve_dtype(dtype_for_tests(), device_for_tests())
    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype).to(device_for_tests())


def problems_file(folder: Path, n: int = 3) -> Path:
    """A local JSONL problem file with question/answer fields."""
    path = folder / "probs.jsonl"
    rows = [{"question": q, "answer": str(i)} for i, q in enumerate(QUESTIONS[:n])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def spec_for(model_dir: Path, dataset: Path, **kw: Any) -> GenerateSpec:
    """A small generation spec on the test device."""
    base = dict(
        model=str(model_dir),
        dataset=str(dataset),
        temperatures=[0.7, 1.0],
        n=4,
        max_tokens=12,
        seed=3,
        batch_size=3,
        device=device_for_tests(),
        dtype=dtype_for_tests(),
    )
    return GenerateSpec(**{**base, **kw})


def test_chat_template_prompt_character_by_character(backend: Any) -> None:
    q = "Let $f(x) = x^2$. Find \\boxed{f(3)}."
    expected = (
        "<|begin_of_text|>"
        "<|start_header_id|>system<|end_header_id|>\n\n"
        "Please reason step by step, and put your final answer within \\boxed{}."
        "<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n" + q + "<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    got = render_prompt(backend.tokenizer, q, DEFAULT_SYSTEM_PROMPT)
    assert list(got) == list(expected)
    bare = render_prompt(backend.tokenizer, q, "")
    assert bare == expected.replace(
        "<|start_header_id|>system<|end_header_id|>\n\n"
        "Please reason step by step, and put your final answer within \\boxed{}.<|eot_id|>",
        "",
    )


def test_sampling_returns_n_samples_with_consistent_stops(backend: Any) -> None:
    eos = set(backend.info["eos_token_ids"])
    prompts = [render_prompt(backend.tokenizer, q, "Think.") for q in QUESTIONS]
    outs = backend.sample(prompts, [1, 2, 3], 1.0, 5, 10)
    assert [len(o) for o in outs] == [5, 5, 5]
    reasons = set()
    for pool in outs:
        for c in pool:
            reasons.add(c.finish_reason)
            assert len(c.token_ids) == len(c.token_logprobs) <= 10
            assert all(t not in eos for t in c.token_ids[:-1])
            if c.finish_reason == "stop":
                assert c.token_ids[-1] in eos
            else:
                assert len(c.token_ids) == 10 and c.token_ids[-1] not in eos
            assert c.text == backend.tokenizer.decode(
                [t for t in c.token_ids if t not in eos], skip_special_tokens=True
            )
    assert reasons == {"stop", "length"}


def teacher_forced(model: Any, prompt_ids: list[int], tokens: list[int]) -> np.ndarray:
    """Log-probs of ``tokens`` after ``prompt_ids`` from one full forward pass (no cache)."""
    import torch

    ids = torch.tensor([prompt_ids + tokens], device=model.device)
    with torch.no_grad():
        logits = model(ids).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    start = len(prompt_ids) - 1
    return np.array([logp[start + i, t].item() for i, t in enumerate(tokens)])


def test_logprobs_equal_teacher_forced_pass_on_random_settings(
    backend: Any, reference: Any
) -> None:
    rng = np.random.default_rng(11)
    tol = logprob_tolerance()
    for _ in range(4):
        q = QUESTIONS[rng.integers(len(QUESTIONS))]
        temperature = float(rng.choice([0.0, 0.3, 0.7, 1.0, 1.5]))
        n = int(rng.integers(1, 6))
        prompt = render_prompt(backend.tokenizer, q, "Reason.")
        prompt_ids = backend.tokenizer(prompt, add_special_tokens=False).input_ids
        pool = backend.sample([prompt], [int(rng.integers(1 << 30))], temperature, n, 15)[0]
        assert len(pool) == n
        for c in pool:
            expect = teacher_forced(reference, prompt_ids, c.token_ids)
            np.testing.assert_allclose(c.token_logprobs, expect, atol=tol, rtol=0)
            assert sum(c.token_logprobs) == pytest.approx(expect.sum(), abs=tol * len(expect))


def test_same_seed_same_samples_other_seed_others(backend: Any) -> None:
    prompt = render_prompt(backend.tokenizer, QUESTIONS[0], "Reason.")
    a = backend.sample([prompt], [123], 1.0, 6, 12)[0]
    b = backend.sample([prompt], [123], 1.0, 6, 12)[0]
    c = backend.sample([prompt], [124], 1.0, 6, 12)[0]
    assert [x.token_ids for x in a] == [x.token_ids for x in b]
    assert [x.token_ids for x in a] != [x.token_ids for x in c]


def stored(db: Path) -> list[tuple]:
    """Every sample row (id order) of a database."""
    con = open_db(db, read_only=True)
    try:
        return con.execute(
            "SELECT sample_id, problem_id, temperature, idx, text, n_tokens, sum_logprob, "
            "mean_logprob, finish_reason FROM samples ORDER BY sample_id"
        ).fetchall()
    finally:
        con.close()


def test_generate_db_stores_pools_and_run_and_skips_finished(
    tmp_path: Path, model_dir: Path, backend: Any
) -> None:
    spec = spec_for(model_dir, problems_file(tmp_path))
    con = open_db(tmp_path / "a.duckdb")
    stats = generate_db(con, spec, backend=backend)
    assert stats["pools_done"] == 6 and stats["samples"] == 24
    again = generate_db(con, spec, backend=backend)
    assert again["pools_done"] == 0 and again["pools_skipped"] == 6
    rows = con.execute(
        "SELECT problem_id, temperature, count(*), list(idx ORDER BY idx) FROM samples "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert [(r[2], r[3]) for r in rows] == [(4, [0, 1, 2, 3])] * 6
    for n_tok, s, m, reason in con.execute(
        "SELECT n_tokens, sum_logprob, mean_logprob, finish_reason FROM samples"
    ).fetchall():
        assert 1 <= n_tok <= 12 and m == pytest.approx(s / n_tok)
        assert reason in ("stop", "length") and (reason == "stop" or n_tok == 12)
    (run,) = con.execute("SELECT run_id, source, model, config FROM runs").fetchall()
    config = json.loads(run[3])
    assert run[1] == "transformers" and run[2] == str(model_dir)
    assert config["backend_info"]["transformers"] and config["backend_info"]["torch"]
    assert config["n"] == 4 and config["seed"] == 3 and config["temperatures"] == [0.7, 1.0]
    assert con.execute("SELECT count(*) FROM problems").fetchall()[0][0] == 3
    con.close()


def test_interrupted_generation_resumes_with_the_same_samples(
    tmp_path: Path, model_dir: Path, backend: Any
) -> None:
    spec = spec_for(model_dir, problems_file(tmp_path), pools_per_call=2)
    con = open_db(tmp_path / "whole.duckdb")
    generate_db(con, spec, backend=backend)
    con.close()

    def stop_after_three(done: int, total: int, label: str) -> None:
        if done == 3:
            raise KeyboardInterrupt

    con = open_db(tmp_path / "cut.duckdb")
    with pytest.raises(KeyboardInterrupt):
        generate_db(con, spec, backend=backend, progress=stop_after_three)
    assert con.execute("SELECT count(*) FROM samples").fetchall()[0][0] == 12
    rest = generate_db(con, spec, backend=backend)
    assert rest["pools_done"] == 3 and rest["pools_skipped"] == 3
    con.close()
    whole, cut = stored(tmp_path / "whole.duckdb"), stored(tmp_path / "cut.duckdb")
    assert len(whole) == 24 and len(cut) == 24
    for a, b in zip(whole, cut, strict=True):
        assert a[:6] == b[:6] and a[8] == b[8]
        assert a[6] == pytest.approx(b[6], abs=1e-3)


def test_pool_seed_is_order_free_and_distinct() -> None:
    rng = np.random.default_rng(5)
    keys = {
        (int(rng.integers(0, 5)), f"p{rng.integers(50)}", float(rng.choice([0.3, 0.7])))
        for _ in range(200)
    }
    seeds = {k: pool_seed(*k) for k in keys}
    assert len(set(seeds.values())) == len(keys)
    assert all(0 <= s < 2**31 and pool_seed(*k) == s for k, s in seeds.items())


def test_cli_generate_then_rerun_and_bad_input(tmp_path: Path, model_dir: Path) -> None:
    data = problems_file(tmp_path, 2)
    db = tmp_path / "cli.duckdb"
    args = [
        "generate",
        "--db",
        str(db),
        "--model",
        str(model_dir),
        "--dataset",
        str(data),
        "--temperatures",
        "0.5,1",
        "--n",
        "3",
        "--max-tokens",
        "6",
        "--device",
        device_for_tests(),
    ]
    out = run_divtui(*args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(
        "4 pools sampled, 0 already done, 12 samples, "
        + (f"{sum(r[5] for r in stored(db))} tokens")
    )
    assert len(stored(db)) == 12

    bad = run_divtui(*args[:-6], "--temperatures", "0.5,hot", "--n", "3")
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "error: option --temperatures: 'hot' is not a number"
    )
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "1+1?", "answer": "2"}\n{"question": 5, "answer": "3"}\n')
    bad = run_divtui(
        "generate", "--db", str(db), "--model", str(model_dir), "--dataset", str(broken), "--n", "2"
    )
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        f"error: {broken}:2: field question: missing or not a non-empty string"
    )
    bad = run_divtui(
        "generate",
        "--db",
        str(db),
        "--model",
        str(tmp_path / "nope"),
        "--dataset",
        str(data),
        "--n",
        "2",
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: cannot load model")
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    assert len(stored(db)) == 12


def test_jsonl_field_mapping_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(
        json.dumps({"problem": "Q1", "answer": "1", "unique_id": "test/a/1.json", "level": 3})
        + "\n\n"
        + json.dumps({"problem": "Q2", "answer": "2", "unique_id": "test/a/2.json"})
        + "\n"
    )
    fields = PRESETS["math-500"].fields
    probs = load_problems(str(path), fields=fields)
    assert [p["problem_id"] for p in probs] == ["test/a/1.json", "test/a/2.json"]
    assert probs[0]["level"] == "3" and probs[1]["level"] is None
    path.write_text(path.read_text() + "{oops\n")
    with pytest.raises(DatasetError, match=rf"^{path}:4: not valid JSON"):
        load_problems(str(path), fields=fields)
    path.write_text(
        json.dumps({"problem": "Q", "answer": "1", "unique_id": "x"}) * 1
        + "\n"
        + json.dumps({"problem": "R", "answer": "1", "unique_id": "x"})
        + "\n"
    )
    with pytest.raises(DatasetError, match=r":2: field unique_id: duplicate id 'x'"):
        load_problems(str(path), fields=fields)


def test_hf_loader_reads_math500_fields_through_datasets(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    folder = tmp_path / "MATH-500"
    folder.mkdir()
    rows = [
        {
            "problem": f"P{i}",
            "solution": "s",
            "answer": f"{i}",
            "subject": "Algebra",
            "level": i % 5 + 1,
            "unique_id": f"test/algebra/{i}.json",
        }
        for i in range(7)
    ]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    src = PRESETS["math-500"]
    from dataclasses import replace

    probs = read_hf(replace(src, path=str(folder)), limit=5)
    assert [p["problem_id"] for p in probs] == [r["unique_id"] for r in rows[:5]]
    assert [(p["question"], p["gold_answer"], p["subject"], p["level"]) for p in probs] == [
        (r["problem"], r["answer"], r["subject"], str(r["level"])) for r in rows[:5]
    ]
    assert json.loads(probs[0]["meta"]) == {"solution": "s"}


def test_gsm8k_gold_after_marker_on_real_file(shared_data: Path) -> None:
    probs = load_problems(
        str(shared_data / "gsm8k_test.jsonl"), fields=PRESETS["gsm8k"].fields, name="gsm8k"
    )
    raw = [json.loads(x) for x in (shared_data / "gsm8k_test.jsonl").read_text().splitlines()]
    assert len(probs) == len(raw) == 1319
    assert probs[0]["problem_id"] == "gsm8k:0" and probs[-1]["problem_id"] == "gsm8k:1318"
    for p, r in zip(probs, raw, strict=True):
        gold = r["answer"].split("####")[-1].strip().replace(",", "")
        assert p["gold_answer"] == gold and float(gold) == float(p["gold_answer"])
    assert Fields().question == "question"


def test_vllm_backend_samples_when_vllm_is_installed(model_dir: Path) -> None:
    pytest.importorskip("vllm")
    from divtui.engine.backend_vllm import load

    backend = load(str(model_dir), tensor_parallel_size=1, seed=0, dtype=None)
    prompt = render_prompt(backend.tokenizer, QUESTIONS[0], "Reason.")
    a = backend.sample([prompt, prompt], [7, 8], 1.0, 3, 8)
    b = backend.sample([prompt], [7], 1.0, 3, 8)
    assert [len(p) for p in a] == [3, 3]
    assert [c.token_ids for c in a[0]] == [c.token_ids for c in b[0]]
    for c in a[0]:
        assert len(c.token_logprobs) == len(c.token_ids) and c.finish_reason in ("stop", "length")
