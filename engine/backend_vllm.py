"""Sampling with vLLM (the `gpu` extra): one LLM, n samples per request, per-request seeds."""

from __future__ import annotations

from typing import Any

from .generate import Backend, Completion


def load(
    model_name: str, *, tensor_parallel_size: int = 1, seed: int = 0, dtype: str | None = None
) -> Backend:
    """Start one vLLM engine for ``model_name``; return a Backend sampling with it."""
    try:
        import vllm
        from vllm import LLM
    except ImportError:
        raise ValueError(
            "the vllm backend needs vLLM on a CUDA machine: pip install 'divtui[gpu]'"
        ) from None
    llm = LLM(
        model=model_name,
        tensor_parallel_size=tensor_parallel_size,
        seed=seed,
        dtype=dtype or "auto",
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
        "tensor_parallel_size": tensor_parallel_size,
        "logprobs_mode": "raw_logprobs (vLLM V1 default)",
    }
    return Backend("vllm", tokenizer, sample, info)


def sampling_params(n: int, temperature: float, max_tokens: int, seed: int) -> Any:
    """Pure temperature sampling with the sampled token's log-prob (``logprobs=0``) and a seed."""
    from vllm import SamplingParams

    return SamplingParams(
        n=n,
        temperature=temperature,
        top_p=1.0,
        top_k=-1,
        max_tokens=max_tokens,
        logprobs=0,
        seed=seed,
    )


def to_completion(out: Any) -> Completion:
    """A divtui Completion from a vLLM CompletionOutput (chosen-token log-probs per step)."""
    token_ids = [int(t) for t in out.token_ids]
    steps = out.logprobs or []
    lps = [float(step[t].logprob) for t, step in zip(token_ids, steps, strict=True)]
    if len(lps) != len(token_ids):
        raise RuntimeError("vLLM returned no log-probs; it must be called with logprobs=0")
    return Completion(
        text=out.text,
        token_ids=token_ids,
        token_logprobs=lps,
        finish_reason="length" if out.finish_reason == "length" else "stop",
    )
