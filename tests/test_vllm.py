"""divtui's vLLM backend on a real GPU engine (skipped where vLLM does not import or no GPU).

The model is a tiny random Llama with head_dim 64 (vLLM's kernels hang or refuse head_dim 8).
vLLM runs it in bfloat16; its log-probs are compared with a float32 transformers forward pass
over the same tokens, per token within BF16_TOKEN_TOL nats (mean within BF16_MEAN_TOL).
With $DIVTUI_GPU_REPORT set, the measured figures are appended there as JSON lines.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from divtui.engine.generate import GenerateSpec, generate_db, pool_seed
from divtui.engine.prompts import render_prompt
from divtui.store import open_db

from .test_generate import QUESTIONS, problems_file, stored, teacher_forced
from .tiny_models import build_vllm_lm

vllm = pytest.importorskip("vllm")
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU", allow_module_level=True)

BF16_TOKEN_TOL = 0.2
BF16_MEAN_TOL = 0.05
SETTINGS = {"gpu_memory_utilization": 0.25, "enforce_eager": True}


def report(name: str, **figures: Any) -> None:
    """Append one JSON line of figures to $DIVTUI_GPU_REPORT (when set)."""
    path = os.environ.get("DIVTUI_GPU_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"test": name, **figures}, default=str) + "\n")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The head_dim-64 tiny Llama, saved to a folder."""
    return build_vllm_lm(tmp_path_factory.mktemp("tiny") / "tiny-llama-hd64")


@pytest.fixture(scope="module")
def backend(model_dir: Path) -> Any:
    """One eager vLLM engine for the module."""
    from divtui.engine.backend_vllm import load

    start = time.perf_counter()
    b = load(str(model_dir), seed=0, named=SETTINGS)
    report("engine_start", eager=True, seconds=round(time.perf_counter() - start, 1), info=b.info)
    return b


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> Any:
    """The same checkpoint in float32 through transformers, for teacher forcing."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).to("cuda")


def prompts_of(backend: Any) -> list[str]:
    """The test questions through the chat template."""
    return [render_prompt(backend.tokenizer, q, "Reason.") for q in QUESTIONS]


def eos_of(backend: Any) -> int:
    """The end-of-turn token of the test tokenizer."""
    return int(backend.tokenizer.eos_token_id)


def test_engine_records_real_logprobs_mode_version_and_settings(backend: Any) -> None:
    info = backend.info
    assert info["logprobs_mode"] == "raw_logprobs" == str(backend.engine.model_config.logprobs_mode)
    assert info["vllm"] == vllm.__version__
    assert info["engine_args"] == {"seed": 0, **SETTINGS}
    assert info["engine"]["enforce_eager"] is True
    assert info["engine"]["gpu_memory_utilization"] == SETTINGS["gpu_memory_utilization"]
    assert info["engine"]["dtype"] == "bfloat16" and info["engine"]["num_gpu_blocks"] > 0


def test_n_samples_per_prompt_eos_and_finish_reason(backend: Any) -> None:
    eos = eos_of(backend)
    outs = backend.sample(prompts_of(backend), [1, 2, 3], 1.0, 8, 24)
    assert [len(p) for p in outs] == [8, 8, 8]
    reasons = set()
    for pool in outs:
        assert len({tuple(c.token_ids) for c in pool}) > 1
        for c in pool:
            reasons.add(c.finish_reason)
            assert len(c.token_logprobs) == len(c.token_ids) <= 24
            assert eos not in c.token_ids[:-1]
            if c.finish_reason == "stop":
                assert c.token_ids[-1] == eos
            else:
                assert len(c.token_ids) == 24 and c.token_ids[-1] != eos
            body = c.token_ids[:-1] if c.finish_reason == "stop" else c.token_ids
            full = backend.tokenizer.decode(body, skip_special_tokens=True)
            # vLLM's incremental detokenizer holds back a trailing incomplete UTF-8 character
            # (decode shows it as U+FFFD); everything before it is the same text
            assert c.text == full or (
                full.startswith(c.text) and set(full[len(c.text) :]) == {"\ufffd"}
            )
    assert reasons == {"stop", "length"}


def test_seeds_reproduce_across_batch_compositions(backend: Any) -> None:
    p = prompts_of(backend)
    tok = lambda pools: [[c.token_ids for c in pool] for pool in pools]  # noqa: E731
    together = backend.sample(p, [11, 12, 13], 0.8, 4, 20)
    alone = [backend.sample([p[i]], [11 + i], 0.8, 4, 20)[0] for i in range(3)]
    shuffled = backend.sample([p[2], p[0], p[1], p[0]], [13, 11, 12, 99], 0.8, 4, 20)
    fewer = backend.sample([p[1]], [12], 0.8, 2, 20)[0]
    assert tok(together) == tok(alone) == tok([shuffled[1], shuffled[2], shuffled[0]])
    assert tok([fewer]) == [tok(together)[1][:2]]
    assert tok([shuffled[3]]) != tok([together[0]])
    diffs = [
        abs(a - b)
        for x, y in zip(together, alone, strict=True)
        for ca, cb in zip(x, y, strict=True)
        for a, b in zip(ca.token_logprobs, cb.token_logprobs, strict=True)
    ]
    report("batch_composition", max_logprob_diff=max(diffs))
    assert max(diffs) < 1e-2


def test_n_children_equal_single_requests_seeded_plus_index(backend: Any, tmp_path: Path) -> None:
    """What the Ray path sends (one n=1 request per sample, seed pool_seed + idx) samples
    exactly divtui's pools."""
    from vllm import SamplingParams

    from divtui.engine.datasets import load_problems
    from divtui.engine.generate import run_id_for, todo_pools
    from divtui.engine.ray_generate import request_rows

    spec = GenerateSpec(
        model="m", dataset=str(problems_file(tmp_path)), temperatures=[0.7, 1.0], n=4, max_tokens=16
    )
    problems = load_problems(spec.dataset)
    con = open_db(tmp_path / "x.duckdb")
    todo = todo_pools(con, run_id_for(spec), spec, problems)
    con.close()
    rows = request_rows(spec, "r", todo, backend.tokenizer)
    outs = backend.engine.generate(
        [{"prompt_token_ids": r["tokenized_prompt"]} for r in rows],
        [SamplingParams(**r["sampling_params"]) for r in rows],
        use_tqdm=False,
    )
    single = {
        (r["problem_id"], r["temperature"], r["idx"]): list(o.outputs[0].token_ids)
        for r, o in zip(rows, outs, strict=True)
    }
    for p, t in todo:
        prompt = render_prompt(backend.tokenizer, p["question"], spec.system_prompt)
        pool = backend.sample([prompt], [pool_seed(spec.seed, p["problem_id"], t)], t, 4, 16)[0]
        assert [c.token_ids for c in pool] == [single[(p["problem_id"], t, i)] for i in range(4)]


def test_logprobs_equal_teacher_forced_transformers_within_bf16(
    backend: Any, reference: Any
) -> None:
    raw, tempered, per_t = [], [], {}
    for t in (0.5, 1.0, 1.5):
        outs = backend.sample(prompts_of(backend), [21, 22, 23], t, 4, 24)
        diffs = []
        for prompt, pool in zip(prompts_of(backend), outs, strict=True):
            ids = backend.tokenizer(prompt, add_special_tokens=False).input_ids
            for c in pool:
                ref = teacher_forced(reference, ids, c.token_ids)
                got = np.array(c.token_logprobs)
                diffs.append(np.abs(got - ref))
                if t != 1.0:
                    x = torch.tensor([ids + c.token_ids], device="cuda")
                    with torch.no_grad():
                        logits = reference(x).logits[0].double() / t
                    lp = torch.log_softmax(logits, -1)[
                        len(ids) - 1 : len(ids) - 1 + len(c.token_ids)
                    ]
                    tp = lp.gather(1, torch.tensor(c.token_ids, device="cuda")[:, None]).squeeze(1)
                    tempered.append(np.abs(got - tp.cpu().numpy()))
                    raw.append(diffs[-1])
        d = np.concatenate(diffs)
        per_t[t] = {"tokens": int(d.size), "max": float(d.max()), "mean": float(d.mean())}
    report(
        "logprob_agreement",
        per_temperature=per_t,
        tol_token=BF16_TOKEN_TOL,
        tol_mean=BF16_MEAN_TOL,
        mean_vs_raw=float(np.concatenate(raw).mean()),
        mean_vs_tempered=float(np.concatenate(tempered).mean()),
    )
    for figures in per_t.values():
        assert figures["max"] <= BF16_TOKEN_TOL and figures["mean"] <= BF16_MEAN_TOL
    assert np.concatenate(tempered).mean() > 5 * np.concatenate(raw).mean()


def test_both_backends_record_the_same_quantity(backend: Any, model_dir: Path) -> None:
    """Tokens sampled by the transformers backend, scored by vLLM (prompt log-probs of
    prompt + sample): vLLM's values equal what the transformers backend stored."""
    from vllm import SamplingParams

    from divtui.engine.backend_transformers import load

    hf = load(str(model_dir), device="cuda", dtype="float32", batch_size=4)
    diffs = []
    for prompt in prompts_of(backend):
        ids = backend.tokenizer(prompt, add_special_tokens=False).input_ids
        for c in hf.sample([prompt], [5], 0.9, 4, 20)[0]:
            (out,) = backend.engine.generate(
                [{"prompt_token_ids": ids + c.token_ids}],
                SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.9),
                use_tqdm=False,
            )
            steps = out.prompt_logprobs[len(ids) :]
            got = [float(s[t].logprob) for t, s in zip(c.token_ids, steps, strict=True)]
            diffs.append(np.abs(np.array(got) - np.array(c.token_logprobs)))
    d = np.concatenate(diffs)
    report("cross_backend", tokens=int(d.size), max=float(d.max()), mean=float(d.mean()))
    assert d.max() <= BF16_TOKEN_TOL and d.mean() <= BF16_MEAN_TOL


def test_generate_db_resumes_skipping_finished_pools(
    backend: Any, model_dir: Path, tmp_path: Path
) -> None:
    spec = GenerateSpec(
        model=str(model_dir),
        dataset=str(problems_file(tmp_path)),
        temperatures=[0.7, 1.0],
        n=4,
        max_tokens=12,
        seed=3,
        backend="vllm",
        pools_per_call=2,
        **SETTINGS,
    )
    con = open_db(tmp_path / "whole.duckdb")
    assert generate_db(con, spec, backend=backend)["pools_done"] == 6
    (config,) = con.execute("SELECT config FROM runs").fetchall()[0]
    con.close()
    cfg = json.loads(config)
    assert cfg["gpu_memory_utilization"] == 0.25 and cfg["enforce_eager"] is True
    assert cfg["backend_info"]["logprobs_mode"] == "raw_logprobs"
    assert cfg["backend_info"]["vllm"] == vllm.__version__

    def stop_after_three(done: int, total: int, label: str) -> None:
        if done == 3:
            raise KeyboardInterrupt

    con = open_db(tmp_path / "cut.duckdb")
    with pytest.raises(KeyboardInterrupt):
        generate_db(con, spec, backend=backend, progress=stop_after_three)
    rest = generate_db(con, spec, backend=backend)
    assert rest["pools_done"] == 3 and rest["pools_skipped"] == 3
    con.close()
    whole, cut = stored(tmp_path / "whole.duckdb"), stored(tmp_path / "cut.duckdb")
    assert len(whole) == len(cut) == 24
    for a, b in zip(whole, cut, strict=True):
        assert a[:6] == b[:6] and a[8] == b[8]
        assert a[6] == pytest.approx(b[6], abs=1e-2)
