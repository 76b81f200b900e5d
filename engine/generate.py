"""The backend-independent sampling loop: missing pools, per-pool seeds, one commit per pool, runs row."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from divtui.store import insert, sample_id, stable_id, transaction
from divtui.store import problems as pq
from divtui.store import runs as gq

from .prompts import render_prompt
from .specs import GenerateSpec

Progress = Callable[[int, int, str], None]


@dataclass
class Completion:
    """One sampled solution: text, its tokens (EOS included) and their raw log-probs."""

    text: str
    token_ids: list[int]
    token_logprobs: list[float]
    finish_reason: str


@dataclass
class Backend:
    """A loaded model: its tokenizer (for the chat template), a sampler, and version facts."""

    name: str
    tokenizer: Any
    sample: Callable[[list[str], list[int], float, int, int], list[list[Completion]]]
    info: dict[str, Any] = field(default_factory=dict)
    engine: Any = None


def vllm_named(spec: GenerateSpec) -> dict[str, Any]:
    """The named vLLM engine settings of ``spec`` (None: vLLM's default)."""
    tp = spec.tensor_parallel_size if spec.tensor_parallel_size != 1 else None
    return {
        "gpu_memory_utilization": spec.gpu_memory_utilization,
        "max_model_len": spec.max_model_len,
        "tensor_parallel_size": tp,
        "enforce_eager": spec.enforce_eager,
        "dtype": spec.dtype,
        "max_num_seqs": spec.max_num_seqs,
    }


def run_id_for(spec: GenerateSpec) -> str:
    """The run's id: the user's, or a hash of what fixes its samples (restarts find the same run)."""
    if spec.run_id:
        return spec.run_id
    h = stable_id(
        "generate",
        spec.model,
        spec.dataset,
        spec.backend,
        spec.n,
        spec.max_tokens,
        spec.seed,
        spec.system_prompt,
        spec.batch_size if spec.backend == "transformers" else 0,
    )
    short = spec.model.rstrip("/").rsplit("/", 1)[-1]
    return f"{spec.backend}:{short}:{h & 0xFFFF_FFFF:08x}"


def pool_seed(seed: int, problem_id: str, temperature: float) -> int:
    """The seed of one pool, from the user seed, problem and temperature (31-bit, non-negative).

    It does not depend on which other pools exist or in what order they run, so a restarted
    run draws the same samples for the pools it still has to do.
    """
    return stable_id("pool", int(seed), problem_id, float(temperature)) & 0x7FFF_FFFF


def load_backend(spec: GenerateSpec) -> Backend:
    """Load the backend named by ``spec.backend`` (its heavy library is imported only here)."""
    if spec.backend == "transformers":
        from .backend_transformers import load as load_transformers

        return load_transformers(
            spec.model, device=spec.device, dtype=spec.dtype, batch_size=spec.batch_size
        )
    if spec.backend == "vllm":
        from .backend_vllm import load as load_vllm

        return load_vllm(
            spec.model, seed=spec.seed, named=vllm_named(spec), engine_args=spec.engine_args
        )
    raise ValueError(f"unknown backend {spec.backend!r} (use vllm or transformers)")


def sample_rows(
    run_id: str, problem_id: str, temperature: float, outs: list[Completion]
) -> pd.DataFrame:
    """The ``samples`` rows of one finished pool."""
    n_tokens = [len(c.token_ids) for c in outs]
    sums = [float(sum(c.token_logprobs)) for c in outs]
    return pd.DataFrame(
        {
            "sample_id": [sample_id(run_id, problem_id, temperature, i) for i in range(len(outs))],
            "run_id": run_id,
            "problem_id": problem_id,
            "temperature": float(temperature),
            "idx": list(range(len(outs))),
            "text": [c.text for c in outs],
            "n_tokens": n_tokens,
            "sum_logprob": sums,
            "mean_logprob": [s / k if k else None for s, k in zip(sums, n_tokens, strict=True)],
            "finish_reason": [c.finish_reason for c in outs],
        }
    )


def run_row(run_id: str, spec: GenerateSpec, backend: Backend) -> pd.DataFrame:
    """The ``runs`` row: model, backend, library versions and every setting."""
    from divtui import __version__

    config = {**asdict(spec), "run_id": run_id, "backend_info": backend.info}
    return pd.DataFrame(
        {
            "run_id": [run_id],
            "source": [backend.name],
            "model": [spec.model],
            "config": [json.dumps(config, default=str)],
            "host": [platform.node()],
            "divtui_version": [__version__],
        }
    )


def check_run_matches(con: Any, run_id: str, spec: GenerateSpec) -> None:
    """Refuse to extend an existing run under settings that would change its samples."""
    stored = gq.run_config(con, run_id)
    if stored is None:
        return
    old = json.loads(stored)
    for key in ("model", "n", "max_tokens", "seed", "system_prompt", "backend"):
        if key in old and old[key] != getattr(spec, key):
            raise ValueError(
                f"run {run_id!r} was generated with {key}={old[key]!r}, not "
                f"{getattr(spec, key)!r}; pass another --run-id to start a new run"
            )


VLLM_ONLY = ("gpu_memory_utilization", "max_model_len", "enforce_eager", "max_num_seqs")
PoolsSink = Callable[[list[pd.DataFrame]], None]


def check_spec(spec: GenerateSpec) -> None:
    """Refuse settings that cannot work together, before any model loads (one-line errors)."""
    from .engine_settings import check_engine_args, check_named

    if spec.n < 1 or spec.max_tokens < 1 or not spec.temperatures:
        raise ValueError("n and max_tokens must be positive and temperatures non-empty")
    if spec.backend not in ("vllm", "transformers"):
        raise ValueError(f"unknown backend {spec.backend!r} (use vllm or transformers)")
    if spec.launcher not in ("local", "ray"):
        raise ValueError(f"unknown launcher {spec.launcher!r} (use local or ray)")
    if spec.data_parallel_size < 1 or spec.tensor_parallel_size < 1:
        raise ValueError("data_parallel_size and tensor_parallel_size must be positive")
    if spec.backend == "transformers":
        named = [k for k in VLLM_ONLY if getattr(spec, k) is not None]
        if spec.engine_args:
            named.append("engine_args")
        if spec.tensor_parallel_size != 1:
            named.append("tensor_parallel_size")
        if spec.launcher == "ray":
            named.append("launcher")
        if named:
            raise ValueError(
                f"{named[0]} applies to the vllm backend only (this run uses transformers)"
            )
    check_named(vllm_named(spec) if spec.backend == "vllm" else {})
    check_engine_args(spec.engine_args)


def todo_pools(
    con: Any, run_id: str, spec: GenerateSpec, problems: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], float]]:
    """The (problem, temperature) pools of ``spec`` that the run has not stored yet."""
    temps = sorted({round(float(t), 6) for t in spec.temperatures})
    done = gq.finished_pools(con, run_id)
    return [(p, t) for t in temps for p in problems if (p["problem_id"], t) not in done]


def sample_pools(
    backend: Backend,
    spec: GenerateSpec,
    run_id: str,
    todo: list[tuple[dict[str, Any], float]],
    sink: PoolsSink,
) -> None:
    """Sample ``todo`` in calls of ``pools_per_call`` pools; ``sink`` gets each call's pool rows.

    Every pool carries its own seed, so what it draws does not depend on the other pools of the
    call, on their order, or on which engine (shard) samples it.
    """
    prompts = {
        p["problem_id"]: render_prompt(backend.tokenizer, p["question"], spec.system_prompt)
        for p, _ in todo
    }
    for start in range(0, len(todo), spec.pools_per_call):
        by_temp: dict[float, list[str]] = {}
        for p, t in todo[start : start + spec.pools_per_call]:
            by_temp.setdefault(t, []).append(p["problem_id"])
        for t, pids in by_temp.items():
            seeds = [pool_seed(spec.seed, pid, t) for pid in pids]
            outs = backend.sample([prompts[pid] for pid in pids], seeds, t, spec.n, spec.max_tokens)
            if len(outs) != len(pids):
                raise RuntimeError(f"backend returned {len(outs)} pools, expected {len(pids)}")
            for pool in outs:
                if len(pool) != spec.n:
                    raise RuntimeError(f"backend returned {len(pool)} samples, expected {spec.n}")
            sink([sample_rows(run_id, pid, t, pool) for pid, pool in zip(pids, outs, strict=True)])


def generate_db(
    con: Any,
    spec: GenerateSpec,
    *,
    problems: list[dict[str, Any]] | None = None,
    backend: Backend | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Sample every missing pool of ``spec`` into the database; each pool commits on its own.

    With ``data_parallel_size`` > 1 (or the ``ray`` launcher) the pools are sampled by other
    processes that land Parquet batches beside the database, and this process ingests them.
    Returns counts: pools done now, pools already there, samples written, tokens generated.
    """
    from .datasets import fields_from, load_problems

    check_spec(spec)
    if problems is None:
        problems = load_problems(
            spec.dataset,
            split=spec.split,
            config=spec.dataset_config,
            name=spec.dataset_name,
            fields=fields_from(spec.fields) if spec.fields else None,
            limit=spec.limit,
        )
    run_id = run_id_for(spec)
    check_run_matches(con, run_id, spec)
    sharded = spec.data_parallel_size > 1 or spec.launcher == "ray"
    if sharded:
        from .shard import ingest_leftovers

        ingest_leftovers(con, run_id)
    todo = todo_pools(con, run_id, spec, problems)
    total_pools = len({round(float(t), 6) for t in spec.temperatures}) * len(problems)
    stats: dict[str, Any] = {
        "run_id": run_id,
        "pools_done": 0,
        "pools_skipped": total_pools - len(todo),
    }
    stats.update(samples=0, tokens=0)
    if not todo:
        return stats
    conflict = pq.frame_conflict(
        con, pd.DataFrame(problems)[["problem_id", "question", "gold_answer"]]
    )
    if conflict:
        raise ValueError(
            f"problem {conflict[0]!r} is already stored with a different {conflict[1]}; "
            "the file's problems are kept (name the dataset differently with --dataset-name)"
        )
    if sharded:
        with transaction(con):
            insert(con, "problems", pd.DataFrame(problems))
        if spec.launcher == "ray":
            from .ray_generate import generate_ray

            return {**stats, **generate_ray(con, spec, run_id, todo, progress)}
        from .shard import generate_sharded

        return {**stats, **generate_sharded(con, spec, run_id, todo, progress)}
    backend = backend or load_backend(spec)
    with transaction(con):
        insert(con, "problems", pd.DataFrame(problems))
        insert(con, "runs", run_row(run_id, spec, backend))
    total = len(todo)
    if progress:
        progress(0, total, "pools")

    def commit(pools: list[pd.DataFrame]) -> None:
        """Each pool in its own transaction, then counted."""
        for rows in pools:
            with transaction(con):
                insert(con, "samples", rows)
            stats["pools_done"] += 1
            stats["samples"] += len(rows)
            stats["tokens"] += int(rows["n_tokens"].sum())
            if progress:
                progress(stats["pools_done"], total, "pools")

    sample_pools(backend, spec, run_id, todo, commit)
    return stats
