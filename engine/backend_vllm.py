"""Sampling with vLLM (the `gpu` extra): one LLM, n samples per request, per-request seeds."""

from __future__ import annotations

import time
from typing import Any

from .engine_settings import RAW_LOGPROBS, SettingError, llm_kwargs
from .generate import Backend, Completion


def load(
    model_name: str,
    *,
    seed: int = 0,
    named: dict[str, Any] | None = None,
    engine_args: dict[str, Any] | None = None,
) -> Backend:
    """Start one vLLM engine for ``model_name`` with the given settings; return its Backend."""
    kwargs = llm_kwargs(model_name, seed, named or {}, engine_args or {})
    try:
        from vllm import LLM
    except ImportError:
        raise ValueError(
            "the vllm backend needs vLLM on a CUDA machine: pip install 'divtui[gpu]'"
        ) from None
    check_known(kwargs)
    start = time.perf_counter()
    llm = LLM(**kwargs)
    return backend_from_llm(llm, kwargs, time.perf_counter() - start)


def check_known(kwargs: dict[str, Any]) -> None:
    """Refuse keywords that neither ``LLM`` nor vLLM's ``EngineArgs`` knows, naming the first."""
    import dataclasses
    import inspect

    from vllm import LLM
    from vllm.engine.arg_utils import EngineArgs

    known = set(inspect.signature(LLM.__init__).parameters)
    known |= {f.name for f in dataclasses.fields(EngineArgs)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise SettingError(f"engine_args.{unknown[0]}: not a vLLM engine argument")


def logprobs_mode(llm: Any) -> str:
    """The engine's real log-prob mode (``llm.model_config.logprobs_mode``)."""
    return str(llm.model_config.logprobs_mode)


def engine_facts(llm: Any) -> dict[str, Any]:
    """What the engine actually runs with (after vLLM resolved its defaults)."""
    cfg = llm.llm_engine.vllm_config
    facts = {
        "dtype": str(cfg.model_config.dtype).removeprefix("torch."),
        "max_model_len": cfg.model_config.max_model_len,
        "enforce_eager": cfg.model_config.enforce_eager,
        "gpu_memory_utilization": cfg.cache_config.gpu_memory_utilization,
        "num_gpu_blocks": cfg.cache_config.num_gpu_blocks,
        "block_size": cfg.cache_config.block_size,
        "max_num_seqs": cfg.scheduler_config.max_num_seqs,
        "tensor_parallel_size": cfg.parallel_config.tensor_parallel_size,
    }
    return {
        k: v if isinstance(v, bool | int | float | str | None) else str(v) for k, v in facts.items()
    }


def backend_from_llm(
    llm: Any, kwargs: dict[str, Any], load_seconds: float | None = None
) -> Backend:
    """A divtui Backend over a started ``LLM``; refuses an engine that returns processed log-probs."""
    import vllm

    mode = logprobs_mode(llm)
    if mode != RAW_LOGPROBS:
        raise SettingError(
            f"vLLM returns {mode} (logprobs_mode); divtui stores raw log-probs: "
            f"start the engine with logprobs_mode={RAW_LOGPROBS}"
        )
    tokenizer = llm.get_tokenizer()

    def sample(
        prompts: list[str], seeds: list[int], temperature: float, n: int, max_tokens: int
    ) -> list[list[Completion]]:
        """n completions of each prompt in one batched call, each request seeded on its own."""
        params = [sampling_params(n, temperature, max_tokens, s) for s in seeds]
        inputs = [
            {"prompt_token_ids": tokenizer(p, add_special_tokens=False).input_ids} for p in prompts
        ]
        results = llm.generate(inputs, params, use_tqdm=False)
        return [
            [to_completion(c) for c in sorted(r.outputs, key=lambda c: c.index)] for r in results
        ]

    info = {
        "vllm": vllm.__version__,
        "logprobs_mode": mode,
        "engine_args": {k: v for k, v in kwargs.items() if k != "model"},
        "engine": engine_facts(llm),
    }
    if load_seconds is not None:
        info["load_seconds"] = round(load_seconds, 1)
    return Backend("vllm", tokenizer, sample, info, engine=llm)


def sampling_params(n: int, temperature: float, max_tokens: int, seed: int) -> Any:
    """Pure temperature sampling with the sampled token's log-prob (``logprobs=0``) and a seed.

    vLLM seeds the i-th of the n samples with ``seed + i`` (its parallel-sampling rule), so one
    request of n equals n requests of one with seeds seed..seed+n-1 (what the Ray path sends).
    """
    from vllm import SamplingParams

    return SamplingParams(**sampling_fields(n, temperature, max_tokens, seed))


def sampling_fields(n: int, temperature: float, max_tokens: int, seed: int) -> dict[str, Any]:
    """The SamplingParams fields of one request, as plain data."""
    return {
        "n": int(n),
        "temperature": float(temperature),
        "top_p": 1.0,
        "top_k": -1,
        "max_tokens": int(max_tokens),
        "logprobs": 0,
        "seed": int(seed),
    }


def to_completion(out: Any) -> Completion:
    """A divtui Completion from a vLLM CompletionOutput (chosen-token log-probs per step)."""
    token_ids = [int(t) for t in out.token_ids]
    steps = out.logprobs
    if steps is None or len(steps) != len(token_ids):
        raise RuntimeError("vLLM returned no log-probs; it must be called with logprobs=0")
    lps = [float(step[t].logprob) for t, step in zip(token_ids, steps, strict=True)]
    if out.finish_reason not in ("stop", "length"):
        raise RuntimeError(
            f"vLLM finished a sample with {out.finish_reason!r} (not stop or length)"
        )
    return Completion(
        text=out.text,
        token_ids=token_ids,
        token_logprobs=lps,
        finish_reason=out.finish_reason,
    )
