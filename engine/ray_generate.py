"""The cluster path: Ray Data's vLLM batch processor samples the pools and lands them as Parquet.

Ray's vLLM stage keeps only the first completion of a request, so each sample is its own row:
sample ``idx`` of a pool is a request of n=1 with seed ``pool_seed + idx``, which is the seed vLLM
gives the idx-th child of divtui's n-sample request. So the Ray path draws the samples of the
local vLLM backend, whatever the cluster's sharding. Everything but ``generate_ray`` is plain
Python (tested without Ray); ``generate_ray`` needs the ``cluster`` extra (``ray[data,llm]``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from divtui.store import sample_id
from divtui.store.landing import ingest_landing, publish_batch

from .backend_vllm import sampling_fields
from .engine_settings import RAW_LOGPROBS, llm_kwargs
from .generate import Backend, Completion, GenerateSpec, Progress, pool_seed, run_row, vllm_named
from .prompts import render_prompt


def _sampled_in_ray(
    prompts: list[str], seeds: list[int], temperature: float, n: int, max_tokens: int
) -> list[list[Completion]]:
    """The sampler of the runs row's Backend: Ray's workers sample, never this process."""
    raise RuntimeError("the ray launcher samples in Ray workers, not through this Backend")


def request_rows(
    spec: GenerateSpec, run_id: str, todo: list[tuple[dict[str, Any], float]], tokenizer: Any
) -> list[dict[str, Any]]:
    """One row per sample: its pool, index, tokenized chat prompt and vLLM sampling params."""
    rows = []
    for problem, t in todo:
        prompt = render_prompt(tokenizer, problem["question"], spec.system_prompt)
        ids = tokenizer(prompt, add_special_tokens=False).input_ids
        seed = pool_seed(spec.seed, problem["problem_id"], t)
        for idx in range(spec.n):
            rows.append(
                {
                    "run_id": run_id,
                    "problem_id": problem["problem_id"],
                    "temperature": float(t),
                    "idx": idx,
                    "tokenized_prompt": list(ids),
                    "sampling_params": sampling_fields(1, t, spec.max_tokens, seed + idx),
                }
            )
    return rows


def chosen_logprob(step: Any, token: int) -> float:
    """The log-prob of ``token`` in one step of Ray's ``logprobs`` column (a token -> info map,
    which may arrive with int or str keys, or as (key, value) pairs after Arrow)."""
    if isinstance(step, dict):
        info = step.get(token, step.get(str(token)))
    else:
        info = next((v for k, v in step if int(k) == token), None)
    if info is None:
        raise RuntimeError(f"Ray's vLLM stage returned no log-prob for token {token}")
    return float(info["logprob"] if isinstance(info, dict) else info)


def sample_row(row: dict[str, Any], eos: list[int], max_tokens: int) -> dict[str, Any]:
    """A ``samples`` row from one output row of Ray's vLLM stage (its carried columns included).

    Ray does not pass vLLM's finish reason on: a sample ending in an EOS token stopped, one that
    used all ``max_tokens`` ran out; anything else (a stop string, an abort) is refused.
    """
    tokens = [int(t) for t in row["generated_tokens"]]
    steps = row.get("logprobs")
    if steps is None or len(steps) != len(tokens):
        raise RuntimeError("Ray's vLLM stage returned no log-probs; request logprobs=0")
    lps = [chosen_logprob(s, t) for t, s in zip(tokens, steps, strict=True)]
    if tokens and tokens[-1] in eos:
        reason = "stop"
    elif len(tokens) == max_tokens:
        reason = "length"
    else:
        raise RuntimeError(f"a sample of {row['problem_id']!r} ended without EOS before max_tokens")
    total = float(sum(lps))
    return {
        "sample_id": sample_id(row["run_id"], row["problem_id"], row["temperature"], row["idx"]),
        "run_id": row["run_id"],
        "problem_id": row["problem_id"],
        "temperature": float(row["temperature"]),
        "idx": int(row["idx"]),
        "text": row["generated_text"],
        "n_tokens": len(tokens),
        "sum_logprob": total,
        "mean_logprob": total / len(tokens) if tokens else None,
        "finish_reason": reason,
    }


def eos_token_ids(model: str) -> list[int]:
    """The tokens vLLM stops at for ``model``: its generation config's EOS ids and the tokenizer's."""
    from transformers import AutoTokenizer, GenerationConfig

    ids: set[int] = set()
    try:
        eos = GenerationConfig.from_pretrained(model).eos_token_id
        ids |= set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    except OSError:
        pass
    tok = AutoTokenizer.from_pretrained(model)
    if tok.eos_token_id is not None:
        ids.add(int(tok.eos_token_id))
    if not ids:
        raise ValueError(f"{model}: defines no end-of-sequence token")
    return sorted(ids)


def _run_tokens(con: Any, run_id: str) -> int:
    """Tokens stored for a run (to count what an ingest added)."""
    from divtui.store import runs as gq

    return gq.run_tokens(con, run_id)


def generate_ray(
    con: Any,
    spec: GenerateSpec,
    run_id: str,
    todo: list[tuple[dict[str, Any], float]],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Sample ``todo`` with Ray Data's vLLM processor (``data_parallel_size`` engine replicas),
    land the result as one batch beside the database and ingest it (one transaction)."""
    try:
        import ray
        from ray.data.llm import build_processor, vLLMEngineProcessorConfig
    except ImportError:
        raise ValueError(
            "the ray launcher needs Ray Data LLM: pip install 'divtui[cluster]'"
        ) from None
    from functools import partial

    from transformers import AutoTokenizer

    from .shard import land, landing_dir

    kwargs = llm_kwargs(spec.model, spec.seed, vllm_named(spec), spec.engine_args or {})
    kwargs.pop("model")
    rows = request_rows(spec, run_id, todo, AutoTokenizer.from_pretrained(spec.model))
    config = vLLMEngineProcessorConfig(
        model_source=spec.model,
        engine_kwargs=kwargs,
        concurrency=spec.data_parallel_size,
        batch_size=max(1, spec.pools_per_call),
        chat_template_stage=False,
        tokenize_stage=False,
        detokenize_stage=False,
    )
    post = partial(sample_row, eos=eos_token_ids(spec.model), max_tokens=spec.max_tokens)
    processor = build_processor(config, postprocess=post)
    folder = landing_dir(con, run_id)
    name = f"ray-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    part = folder / f".{name}.part"
    started = time.perf_counter()
    if progress:
        progress(0, len(todo), "pools")
    processor(ray.data.from_items(rows)).write_parquet(str(part / "samples"))
    info = {
        "launcher": "ray",
        "ray": ray.__version__,
        "logprobs_mode": kwargs.get("logprobs_mode", RAW_LOGPROBS) + " (requested)",
        "engine_args": kwargs,
        "replicas": spec.data_parallel_size,
    }
    backend = Backend("vllm", None, _sampled_in_ray, info)
    land(folder, name + "-runs", {"runs": run_row(run_id, spec, backend)})
    publish_batch(part, folder / name)
    before = _run_tokens(con, run_id)
    added = ingest_landing(con, folder, remove=True)
    n = added.get("samples", 0)
    if progress:
        progress(n // spec.n, len(todo), "pools")
    return {
        "pools_done": n // spec.n,
        "samples": n,
        "tokens": _run_tokens(con, run_id) - before,
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
