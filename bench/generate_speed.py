"""Tokens/s of the transformers backend (batched generate) against a naive one-sample-at-a-time loop.

Run ``python -m bench.generate_speed [--model PATH] [--device cuda] [--dtype bfloat16]``; without
``--model`` a tiny Llama is built in a temp folder (as the tests do).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

SIZES = {
    "tiny": {},
    "1b": {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 22,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "max_position_embeddings": 4096,
    },
}


def built_model(folder: Path, size: str) -> str:
    """Build a random-weight Llama of ``size`` over the tests' tokenizer (no hub access needed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.tiny_models import build_causal_lm

    return str(build_causal_lm(folder / f"llama-{size}", eos_logit=None, **SIZES[size]))


def measure(sample: object, prompts: list[str], n: int, max_tokens: int) -> tuple[int, float]:
    """Generated tokens and seconds for n samples of each prompt."""
    start = time.perf_counter()
    outs = sample(prompts, list(range(len(prompts))), 1.0, n, max_tokens)  # type: ignore[operator]
    spent = time.perf_counter() - start
    return sum(len(c.token_ids) for pool in outs for c in pool), spent


def main() -> None:
    """Print tokens/s of batched sampling and of a batch-size-1 baseline, and their ratio."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument(
        "--size",
        choices=sorted(SIZES),
        default="tiny",
        help="without --model: a random Llama, tiny (tests) or 1b (TinyLlama-1.1B shape)",
    )
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    args = ap.parse_args()

    from divtui.engine.backend_transformers import load
    from divtui.engine.prompts import DEFAULT_SYSTEM_PROMPT, render_prompt

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or built_model(Path(tmp), args.size)
        batched = load(model, device=args.device, dtype=args.dtype, batch_size=args.n)
        naive = load(model, device=args.device, dtype=args.dtype, batch_size=1)
        prompts = [
            render_prompt(batched.tokenizer, f"What is {i} + {i + 1}?", DEFAULT_SYSTEM_PROMPT)
            for i in range(args.prompts)
        ]
        measure(batched.sample, prompts[:1], 2, 8)  # warm-up
        tok_b, sec_b = measure(batched.sample, prompts, args.n, args.max_tokens)
        tok_n, sec_n = measure(naive.sample, prompts[:1], min(args.n, 4), args.max_tokens)
    info = batched.info
    print(
        f"model {args.model or f'random llama-{args.size} (built)'} on {info['device']} {info['dtype']}"
    )
    print(f"batched (batch {args.n}): {tok_b} tokens in {sec_b:.2f} s = {tok_b / sec_b:,.0f} tok/s")
    print(f"naive   (batch 1):  {tok_n} tokens in {sec_n:.2f} s = {tok_n / sec_n:,.0f} tok/s")
    print(f"ratio batched/naive: {(tok_b / sec_b) / (tok_n / sec_n):.1f}x")


if __name__ == "__main__":
    main()
