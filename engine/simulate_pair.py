"""A simulated two-run study for the run comparison: a diverse "base" model and a sharpened
"tuned" one on the same word problems, written as native JSONL files for `divtui import`.

Both runs use the demo's simulator (engine.simulate) on the same problems and are recorded as
sampled at T = 1. The base run is the simulator at T = 1: varied text, slips and each problem's
typical mistake at the simulator's rates. The tuned run imitates RL-sharpening: its choices are
drawn at an effective temperature of 0.3, and each problem's typical mistake is either always
made (where the base makes it often: ``sys_rate >= LOCK_RATE``) or never. So the tuned run has
the higher pass@1, but on the locked problems no sample is correct and its pass@k stops rising,
while the base run's keeps rising: the curves cross.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from . import simulate as sim

RECORDED_T = 1.0
TUNED_T = 0.3
LOCK_RATE = 0.45
RUNS = ("base", "tuned")
SOURCE = "simulated"


def _tuned(problem: sim.Problem) -> sim.Problem:
    """The problem as the sharpened model sees it: its typical mistake always or never made."""
    locked = problem.systematic[0] != "none" and problem.sys_rate >= LOCK_RATE
    return dataclasses.replace(problem, sys_rate=1.5 if locked else 0.0)


def simulate_pair(
    n_problems: int = sim.N_PROBLEMS, n_samples: int = sim.N_SAMPLES, seed: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """Native-JSONL records (one per sample) of the base and the tuned run, deterministic."""
    problems = sim.make_problems(n_problems, seed)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in RUNS}
    for i, p in enumerate(problems):
        for name in RUNS:
            model, t = (p, RECORDED_T) if name == "base" else (_tuned(p), TUNED_T)
            rng = np.random.default_rng([seed, i, RUNS.index(name), 4099])
            for idx in range(n_samples):
                s = sim.sample_one(model, t, rng)
                out[name].append(
                    {
                        "problem_id": p.problem_id,
                        "dataset": sim.DATASET,
                        "question": p.question,
                        "gold_answer": sim.fmt(p.gold),
                        "subject": p.template,
                        "temperature": RECORDED_T,
                        "sample_idx": idx,
                        "text": s.text,
                        "n_tokens": s.n_tokens,
                        "sum_logprob": s.sum_logprob,
                        "mean_logprob": s.mean_logprob,
                        "finish_reason": s.finish_reason,
                        "source_answer": s.answer,
                        "source_correct": s.correct,
                        "scores": {sim.SCORER: s.reward},
                    }
                )
    return out


def write_pair(
    folder: str | Path,
    n_problems: int = sim.N_PROBLEMS,
    n_samples: int = sim.N_SAMPLES,
    seed: int = 0,
) -> list[Path]:
    """Write ``base.jsonl`` and ``tuned.jsonl`` into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, records in simulate_pair(n_problems, n_samples, seed).items():
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        paths.append(path)
    return paths
