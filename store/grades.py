"""Grades of samples: pools holding ungraded samples, samples with gold answers, the write-back."""

from __future__ import annotations

import itertools
from typing import Any

import duckdb
import pyarrow as pa

from .write import unregister, update

_names = itertools.count()

PoolKey = tuple[str, str, float]


def pools_to_grade(
    con: duckdb.DuckDBPyConnection, *, run_id: str | None = None, regrade: bool = False
) -> list[PoolKey]:
    """Pools (run_id, problem_id, temperature) holding an ungraded sample (every pool if regrade)."""
    where = ["(CAST(? AS VARCHAR) IS NULL OR run_id = ?)"]
    if not regrade:
        where.append("correct IS NULL")
    rows = con.execute(
        f"SELECT DISTINCT run_id, problem_id, temperature FROM samples "
        f"WHERE {' AND '.join(where)} ORDER BY ALL",
        [run_id, run_id],
    ).fetchall()
    return [(r, p, float(t)) for r, p, t in rows]


def samples_with_gold(con: duckdb.DuckDBPyConnection, pools: list[PoolKey]) -> dict[str, list[Any]]:
    """Every sample of ``pools`` with its problem's gold answer, by pool then idx, as columns."""
    keys = pa.table(
        {
            "run_id": pa.array([p[0] for p in pools], pa.string()),
            "problem_id": pa.array([p[1] for p in pools], pa.string()),
            "temperature": pa.array([p[2] for p in pools], pa.float64()),
        }
    )
    name = f"_divtui_grade_pools_{next(_names)}"
    con.register(name, keys)
    try:
        cur = con.execute(
            f"""
            SELECT s.sample_id, s.run_id, s.problem_id, s.temperature, s.idx, s.text,
                   s.answer, s.correct, p.gold_answer
            FROM samples s
            JOIN {name} k ON s.run_id = k.run_id AND s.problem_id = k.problem_id
                          AND s.temperature = k.temperature
            LEFT JOIN problems p ON p.problem_id = s.problem_id
            ORDER BY s.run_id, s.problem_id, s.temperature, s.idx
            """
        )
        rows = cur.fetchall()
        cols = [d[0] for d in cur.description]
    finally:
        unregister(con, name)
    return {c: [r[j] for r in rows] for j, c in enumerate(cols)}


def write_grades(con: duckdb.DuckDBPyConnection, grades: Any) -> None:
    """Set answer, correct and answer_class from a table keyed by sample_id, in one statement."""
    update(con, "samples", ["sample_id"], grades)
