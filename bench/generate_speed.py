"""Generation speed: the transformers backend against a one-at-a-time loop, or the vLLM backend
against a bare ``LLM.generate`` loop (and the transformers backend), or N data-parallel engines.

- ``python -m bench.generate_speed [--device cuda --dtype bfloat16] [--size 1b]``: transformers
  batched vs batch 1.
- ``python -m bench.generate_speed --backend vllm [--enforce-eager] [--compare-transformers]``:
  engine start time; tokens/s of a bare ``llm.generate`` over pre-tokenized prompts with the
  same SamplingParams, of divtui's backend (``Backend.sample``) and of ``generate_db`` (with its
  DuckDB commits) on the same engine, prompts and seeds; divtui's overhead in %.
- ``python -m bench.generate_speed --backend vllm --data-parallel-size 2 [--gpus 0,0]``:
  ``generate_db`` with N engine processes against one engine on the same pools; checks the
  samples are equal and prints tokens/s of both.

Without ``--model`` a random Llama is built in a temp folder (``--size``: tiny, hd64, small, 1b).
``--json PATH`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = {
    "tiny": {},
    "hd64": {
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "small": {
        "hidden_size": 1024,
        "intermediate_size": 2816,
        "num_hidden_layers": 8,
        "num_attention_heads": 16,
        "num_key_value_heads": 4,
        "max_position_embeddings": 4096,
    },
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


def questions(k: int) -> list[str]:
    """``k`` distinct short questions."""
    return [f"What is {i} + {i + 1}? Then multiply by {i % 7 + 2}." for i in range(k)]


def bench_transformers(args: argparse.Namespace, model: str) -> dict[str, Any]:
    """Batched transformers sampling against batch size 1."""
    from divtui.engine.backend_transformers import load
    from divtui.engine.prompts import DEFAULT_SYSTEM_PROMPT, render_prompt

    batched = load(model, device=args.device, dtype=args.dtype, batch_size=args.n)
    naive = load(model, device=args.device, dtype=args.dtype, batch_size=1)
    prompts = [
        render_prompt(batched.tokenizer, q, DEFAULT_SYSTEM_PROMPT) for q in questions(args.prompts)
    ]
    measure(batched.sample, prompts[:1], 2, 8)  # warm-up
    tok_b, sec_b = measure(batched.sample, prompts, args.n, args.max_tokens)
    tok_n, sec_n = measure(naive.sample, prompts[:1], min(args.n, 4), args.max_tokens)
    info = batched.info
    print(f"model {model} on {info['device']} {info['dtype']}")
    print(f"batched (batch {args.n}): {tok_b} tokens in {sec_b:.2f} s = {tok_b / sec_b:,.0f} tok/s")
    print(f"naive   (batch 1):  {tok_n} tokens in {sec_n:.2f} s = {tok_n / sec_n:,.0f} tok/s")
    print(f"ratio batched/naive: {(tok_b / sec_b) / (tok_n / sec_n):.1f}x")
    return {"batched_tok_s": tok_b / sec_b, "naive_tok_s": tok_n / sec_n}


def named(args: argparse.Namespace) -> dict[str, Any]:
    """The vLLM engine settings given on the command line."""
    return {
        "gpu_memory_utilization": args.gpu_memory_utilization,
        "enforce_eager": True if args.enforce_eager else None,
        "max_num_seqs": args.max_num_seqs,
    }


def bench_vllm(args: argparse.Namespace, model: str, tmp: Path) -> dict[str, Any]:
    """Bare ``llm.generate`` vs divtui's backend vs ``generate_db`` on one engine."""
    from vllm import LLM

    from divtui.engine.backend_vllm import backend_from_llm, sampling_params
    from divtui.engine.engine_settings import llm_kwargs
    from divtui.engine.generate import GenerateSpec, generate_db
    from divtui.engine.prompts import DEFAULT_SYSTEM_PROMPT, render_prompt
    from divtui.store import open_db

    extra = {}
    if args.no_prefix_caching:
        extra["enable_prefix_caching"] = False
    kwargs = llm_kwargs(model, 0, named(args), extra)
    start = time.perf_counter()
    llm = LLM(**kwargs)
    load_s = time.perf_counter() - start
    backend = backend_from_llm(llm, kwargs, load_s)
    print(
        f"engine start {load_s:.1f} s (enforce_eager={bool(args.enforce_eager)}); {backend.info['engine']}"
    )
    tok = backend.tokenizer
    qs = questions(args.prompts)
    prompts = [render_prompt(tok, q, DEFAULT_SYSTEM_PROMPT) for q in qs]
    seeds = [1000 + i for i in range(len(prompts))]
    t, n, m = 1.0, args.n, args.max_tokens

    def bare() -> tuple[int, float, list]:
        """The hand loop: pre-tokenized prompts, one SamplingParams per prompt, one call."""
        ids = [{"prompt_token_ids": tok(p, add_special_tokens=False).input_ids} for p in prompts]
        params = [sampling_params(n, t, m, s) for s in seeds]
        s0 = time.perf_counter()
        res = llm.generate(ids, params, use_tqdm=False)
        spent = time.perf_counter() - s0
        toks = [[list(c.token_ids) for c in sorted(r.outputs, key=lambda c: c.index)] for r in res]
        return sum(len(x) for p in toks for x in p), spent, toks

    def divtui() -> tuple[int, float, list]:
        """divtui's backend: tokenizes, samples, converts every output (log-probs included)."""
        s0 = time.perf_counter()
        outs = backend.sample(prompts, seeds, t, n, m)
        spent = time.perf_counter() - s0
        toks = [[c.token_ids for c in p] for p in outs]
        return sum(len(x) for p in toks for x in p), spent, toks

    backend.sample(prompts[:4], seeds[:4], t, 2, 16)  # warm-up
    runs: dict[str, list[float]] = {"bare": [], "divtui": []}
    tokens = {}
    seen: dict[str, list[list]] = {"bare": [], "divtui": []}
    for _ in range(args.rounds):
        for name, fn in (("bare", bare), ("divtui", divtui)):
            k, s, toks = fn()
            runs[name].append(s)
            tokens[name] = k
            seen[name].append([x for p in toks for x in p])

    def agree(a: list, b: list) -> float:
        """Share of samples whose tokens are identical in two calls."""
        return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)

    bare_bare = min(agree(seen["bare"][0], b) for b in seen["bare"][1:]) if args.rounds > 1 else 1.0
    bare_divtui = min(agree(a, b) for a, b in zip(seen["bare"], seen["divtui"], strict=True))
    same = bare_divtui == 1.0
    med = {k: statistics.median(v) for k, v in runs.items()}
    overhead = (med["divtui"] - med["bare"]) / med["bare"] * 100
    out = {
        "engine_start_s": round(load_s, 1),
        "enforce_eager": bool(args.enforce_eager),
        "prompts": len(prompts),
        "n": n,
        "max_tokens": m,
        "bare_tok_s": tokens["bare"] / med["bare"],
        "divtui_tok_s": tokens["divtui"] / med["divtui"],
        "overhead_pct": overhead,
        "same_tokens": same,
        "identical_samples_bare_vs_bare": bare_bare,
        "identical_samples_bare_vs_divtui": bare_divtui,
        "engine_args": kwargs,
        "rounds": runs,
    }
    print(
        f"bare llm.generate: {tokens['bare']} tokens, median {med['bare']:.2f} s = {out['bare_tok_s']:,.0f} tok/s"
    )
    print(
        f"divtui backend:    {tokens['divtui']} tokens, median {med['divtui']:.2f} s = {out['divtui_tok_s']:,.0f} tok/s"
    )
    print(f"divtui overhead: {overhead:+.2f}% (median of {args.rounds})")
    print(f"identical samples: bare vs bare {bare_bare:.1%}, bare vs divtui {bare_divtui:.1%}")

    data = tmp / "probs.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": "0"}) + "\n" for q in qs))
    spec = GenerateSpec(
        model=model,
        dataset=str(data),
        temperatures=[t],
        n=n,
        max_tokens=m,
        backend="vllm",
        pools_per_call=len(qs),
        **{k: v for k, v in named(args).items() if v is not None},
    )
    con = open_db(tmp / "speed.duckdb")
    s0 = time.perf_counter()
    stats = generate_db(con, spec, backend=backend)
    db_s = time.perf_counter() - s0
    con.close()
    out["generate_db_tok_s"] = stats["tokens"] / db_s
    out["generate_db_overhead_pct"] = (db_s - med["bare"]) / med["bare"] * 100
    print(
        f"generate_db (with DuckDB commits): {stats['tokens']} tokens in {db_s:.2f} s = {out['generate_db_tok_s']:,.0f} tok/s ({out['generate_db_overhead_pct']:+.2f}% vs bare)"
    )
    if args.compare_transformers:
        del llm, backend
        import gc

        import torch

        gc.collect()
        torch.cuda.empty_cache()
        from divtui.engine.backend_transformers import load

        hf = load(model, device="cuda", dtype="bfloat16", batch_size=n)
        few = prompts[: args.transformers_prompts]
        hf.sample(few[:1], [0], t, 2, 8)
        s0 = time.perf_counter()
        outs = hf.sample(few, seeds[: len(few)], t, n, m)
        spent = time.perf_counter() - s0
        k = sum(len(c.token_ids) for p in outs for c in p)
        out["transformers_tok_s"] = k / spent
        print(
            f"transformers backend (bf16, batch {n}, {len(few)} prompts): {k} tokens in {spent:.2f} s = {k / spent:,.0f} tok/s"
        )
        print(
            f"vLLM backend / transformers backend: {out['divtui_tok_s'] / out['transformers_tok_s']:.1f}x"
        )
    return out


def bench_data_parallel(args: argparse.Namespace, model: str, tmp: Path) -> dict[str, Any]:
    """``generate_db`` on N engine processes against one engine: equal samples, tokens/s."""
    from divtui.engine.generate import GenerateSpec, generate_db, load_backend
    from divtui.store import open_db

    data = tmp / "probs.jsonl"
    data.write_text(
        "".join(json.dumps({"question": q, "answer": "0"}) + "\n" for q in questions(args.prompts))
    )
    base: dict[str, Any] = dict(
        model=model,
        dataset=str(data),
        temperatures=[0.7, 1.0],
        n=args.n,
        max_tokens=args.max_tokens,
        seed=5,
        backend=args.backend,
        pools_per_call=args.prompts,
    )
    if args.backend == "vllm":
        base.update({k: v for k, v in named(args).items() if v is not None})
    else:
        base.update(device=args.device, dtype=args.dtype, batch_size=args.n)
    dp = args.data_parallel_size
    gpus = [g for g in args.gpus.split(",")] if args.gpus else None
    sharded = GenerateSpec(**base, data_parallel_size=dp, gpus=gpus)
    con = open_db(tmp / "dp.duckdb")
    s0 = time.perf_counter()
    stats = generate_db(con, sharded)
    dp_wall = time.perf_counter() - s0
    con.close()
    gen_s = max(e["generate_seconds"] for e in stats["engine_stats"])
    print(
        f"{dp} engines: {stats['tokens']} tokens; wall {dp_wall:.1f} s (engine starts included); "
        f"generation {gen_s:.2f} s = {stats['tokens'] / gen_s:,.0f} tok/s; per engine {stats['engine_stats']}"
    )

    one = GenerateSpec(**base)
    s0 = time.perf_counter()
    backend = load_backend(one)
    load_s = time.perf_counter() - s0
    con = open_db(tmp / "one.duckdb")
    s0 = time.perf_counter()
    single = generate_db(con, one, backend=backend)
    one_s = time.perf_counter() - s0
    con.close()
    print(
        f"1 engine: {single['tokens']} tokens; start {load_s:.1f} s; generation {one_s:.2f} s = {single['tokens'] / one_s:,.0f} tok/s"
    )

    def rows(path: Path) -> list[tuple]:
        c = open_db(path, read_only=True)
        try:
            return c.execute(
                "SELECT sample_id, text, n_tokens, finish_reason, sum_logprob FROM samples ORDER BY sample_id"
            ).fetchall()
        finally:
            c.close()

    a, b = rows(tmp / "dp.duckdb"), rows(tmp / "one.duckdb")
    same = len(a) == len(b) > 0 and all(x[:4] == y[:4] for x, y in zip(a, b, strict=True))
    diff = max((abs(x[4] - y[4]) for x, y in zip(a, b, strict=True)), default=float("nan"))
    print(
        f"samples equal to the one-engine run: {same} ({len(a)} vs {len(b)} samples; max |sum_logprob diff| {diff:.2e})"
    )
    return {
        "engines": dp,
        "gpus": gpus,
        "samples": len(a),
        "equal": same,
        "max_sum_logprob_diff": diff,
        "dp_tok_s_generation": stats["tokens"] / gen_s,
        "dp_wall_s": dp_wall,
        "one_tok_s": single["tokens"] / one_s,
        "one_start_s": load_s,
        "speedup_generation": (stats["tokens"] / gen_s) / (single["tokens"] / one_s),
        "engine_stats": stats["engine_stats"],
    }


def main() -> None:
    """Parse the options and run the chosen comparison."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    ap.add_argument("--model", default=None)
    ap.add_argument(
        "--size", choices=sorted(SIZES), default=None, help="tiny (transformers), hd64 (vllm)"
    )
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--enforce-eager", action="store_true")
    ap.add_argument("--gpu-memory-utilization", type=float, default=None)
    ap.add_argument("--max-num-seqs", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-prefix-caching", action="store_true")
    ap.add_argument("--compare-transformers", action="store_true")
    ap.add_argument("--transformers-prompts", type=int, default=2)
    ap.add_argument("--data-parallel-size", type=int, default=1)
    ap.add_argument("--gpus", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    size = args.size or ("tiny" if args.backend == "transformers" else "hd64")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or built_model(Path(tmp), size)
        if args.data_parallel_size > 1:
            out = bench_data_parallel(args, model, Path(tmp))
        elif args.backend == "transformers":
            out = bench_transformers(args, model)
        else:
            out = bench_vllm(args, model, Path(tmp))
    out["model"] = args.model or f"random llama-{size} (built)"
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    if out.get("equal") is False:
        sys.exit(1)


if __name__ == "__main__":
    main()
