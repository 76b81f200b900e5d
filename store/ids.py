"""Deterministic ids: a 64-bit hash of an entity's defining fields, so every stage is idempotent."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

SEP = "\x1f"


def _fmt(value: object) -> str:
    """Canonical text for one defining field (floats rounded so 0.7 and 0.70000001 agree)."""
    if isinstance(value, float | np.floating):
        return format(round(float(value), 6), ".6f")
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    return str(value)


def stable_id(*fields: object) -> int:
    """Signed 64-bit BLAKE2b hash of the canonical text of ``fields``."""
    parts = [_fmt(f) for f in fields]
    key = SEP.join(f"{len(p)}:{p}" for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little", signed=True)


def sample_id(run_id: str, problem_id: str, temperature: float, idx: int) -> int:
    """Id of the ``idx``-th sample of one pool."""
    return stable_id("sample", run_id, problem_id, float(temperature), int(idx))


def draw_id(run_id: str, problem_id: str, temperature: float, k: int, rep: int, seed: int) -> int:
    """Id of the ``rep``-th draw of size ``k`` from one pool under ``seed``."""
    return stable_id("draw", run_id, problem_id, float(temperature), int(k), int(rep), int(seed))


def sample_ids(
    run_id: str, problem_ids: Sequence[str], temperatures: Sequence[float], idxs: Sequence[int]
) -> np.ndarray:
    """Vector form of :func:`sample_id` over aligned columns."""
    return np.fromiter(
        (
            sample_id(run_id, p, t, i)
            for p, t, i in zip(problem_ids, temperatures, idxs, strict=True)
        ),
        dtype=np.int64,
        count=len(problem_ids),
    )


def draw_ids(rows: Iterable[tuple[str, str, float, int, int, int]]) -> np.ndarray:
    """Vector form of :func:`draw_id` over (run, problem, temperature, k, rep, seed) rows."""
    return np.fromiter((draw_id(*r) for r in rows), dtype=np.int64)
