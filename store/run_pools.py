"""Pools across runs: per-pool counts and answer classes, draw metric means, a pool's draws.

A pool is one (run_id, problem_id, temperature). Counts use graded samples only (``correct IS NOT
NULL``), the same samples the pass@k estimator sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd


def run_pools(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per (run_id, temperature): pools, graded samples and the smallest pool, for pickers."""
    rows = con.execute(
        """
        SELECT run_id, temperature, count(*) AS pools, sum(n) AS samples, min(n) AS smallest
        FROM (SELECT run_id, temperature, problem_id, count(correct) AS n
              FROM samples GROUP BY ALL)
        WHERE n > 0
        GROUP BY ALL ORDER BY run_id, temperature
        """
    ).fetchall()
    cols = ["run_id", "temperature", "pools", "samples", "smallest"]
    return [dict(zip(cols, r, strict=True)) for r in rows]


def pool_summary(
    con: duckdb.DuckDBPyConnection, run_id: str, temperature: float | None = None
) -> pd.DataFrame:
    """Per pool of a run: temperature, problem_id, graded n, correct c, ungraded samples,
    distinct answer classes among the graded (no answer is not a class) and the largest class."""
    where, params = "run_id = ?", list[str | float]([run_id])
    if temperature is not None:
        where += " AND temperature = ?"
        params.append(float(temperature))
    return con.execute(
        f"""
        WITH s AS (SELECT temperature, problem_id, answer_class, correct
                   FROM samples WHERE {where}),
        cls AS (SELECT temperature, problem_id, answer_class, count(*) AS m
                FROM s WHERE correct IS NOT NULL AND answer_class IS NOT NULL GROUP BY ALL),
        per AS (SELECT temperature, problem_id, count(*) AS n_classes, max(m) AS top
                FROM cls GROUP BY ALL)
        SELECT p.temperature, p.problem_id, p.n, p.c, p.ungraded,
               coalesce(per.n_classes, 0) AS n_classes, coalesce(per.top, 0) AS top
        FROM (SELECT temperature, problem_id, count(correct) AS n,
                     coalesce(sum(correct::INTEGER), 0) AS c,
                     count(*) - count(correct) AS ungraded
              FROM s GROUP BY ALL) p
        LEFT JOIN per USING (temperature, problem_id)
        ORDER BY p.temperature, p.problem_id
        """,
        params,
    ).df()


def pool_classes(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    temperature: float,
    problem_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Answer classes of graded samples per pool: problem_id, answer_class (NULL: no answer),
    the first member's answer and correctness (by idx), member count and first idx."""
    where, params = (
        "run_id = ? AND temperature = ? AND correct IS NOT NULL",
        [
            run_id,
            float(temperature),
        ],
    )
    if problem_ids is not None:
        where += " AND list_contains(?, problem_id)"
        params.append(list(problem_ids))
    return con.execute(
        f"""
        SELECT problem_id, answer_class, arg_min(answer, idx) AS answer,
               arg_min(correct, idx) AS correct, count(*) AS count, min(idx) AS first_idx
        FROM samples WHERE {where}
        GROUP BY ALL ORDER BY problem_id, count DESC, first_idx
        """,
        params,
    ).df()


def metric_names(con: duckdb.DuckDBPyConnection, run_ids: Sequence[str], metric: str) -> list[str]:
    """Embedders under which ``metric`` is stored for draws of these runs (sorted)."""
    rows = con.execute(
        """
        SELECT DISTINCT m.embedder FROM draw_metrics m JOIN draws d USING (draw_id)
        WHERE m.metric = ? AND list_contains(?, d.run_id) ORDER BY 1
        """,
        [metric, list(run_ids)],
    ).fetchall()
    return [r[0] for r in rows]


def metric_means(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    temperature: float,
    metric: str,
    embedder: str,
) -> pd.DataFrame:
    """Per (problem_id, k) of one run and temperature: mean of ``metric`` over its draws, draws."""
    return con.execute(
        """
        SELECT d.problem_id, d.k, avg(m.value) AS value, count(*) AS draws
        FROM draws d JOIN draw_metrics m USING (draw_id)
        WHERE d.run_id = ? AND d.temperature = ? AND m.metric = ? AND m.embedder = ?
              AND m.scorer = '' AND isfinite(m.value)
        GROUP BY ALL ORDER BY ALL
        """,
        [run_id, float(temperature), metric, embedder],
    ).df()


def pool_draws(
    con: duckdb.DuckDBPyConnection, run_id: str, problem_id: str, temperature: float
) -> list[dict[str, Any]]:
    """The stored draws of one pool: draw_id, k, rep, seed, sample_ids (by k, seed, rep)."""
    rows = con.execute(
        """
        SELECT draw_id, k, rep, seed, sample_ids FROM draws
        WHERE run_id = ? AND problem_id = ? AND temperature = ?
        ORDER BY k, seed, rep
        """,
        [run_id, problem_id, float(temperature)],
    ).fetchall()
    return [
        {"draw_id": int(d), "k": int(k), "rep": int(r), "seed": int(s), "sample_ids": list(ids)}
        for d, k, r, s, ids in rows
    ]


def batch_members(
    con: duckdb.DuckDBPyConnection, sample_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """The given samples in the given order: sample_id, idx, answer, correct, answer_class, text."""
    rows = con.execute(
        """
        SELECT s.sample_id, s.idx, s.answer, s.correct, s.answer_class, s.text
        FROM unnest(?::BIGINT[]) WITH ORDINALITY AS u(sample_id, pos)
        JOIN samples s USING (sample_id)
        ORDER BY u.pos
        """,
        [[int(s) for s in sample_ids]],
    ).fetchall()
    cols = ["sample_id", "idx", "answer", "correct", "answer_class", "text"]
    return [dict(zip(cols, r, strict=True)) for r in rows]
