"""Read queries of the UI's pruning screen: this problem's stored accuracy-vs-m curve."""

from __future__ import annotations

from typing import Any

import duckdb


def problem_prune_curve(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    problem_id: str,
    temperature: float,
    k: int,
    metric: str,
    weighted: bool,
    embedder: str,
    scorer: str,
) -> list[dict[str, Any]]:
    """Per (selector, m, aggregator): mean correctness over the pool's size-k draws' stored rows.

    Medoid rows are those of ``metric`` and ``weighted``; random rows (metric '', never weighted)
    come with them. Rows with an unknown correctness are left out of the mean.
    """
    rows = con.execute(
        """
        SELECT p.selector, p.m, p.aggregator, avg(p.correct::DOUBLE) AS accuracy,
               count(p.correct) AS n_draws
        FROM prune_outcomes p JOIN draws d USING (draw_id)
        WHERE d.run_id = ? AND d.problem_id = ? AND d.temperature = ? AND d.k = ?
          AND p.embedder = ? AND p.scorer = ?
          AND ((p.selector = 'medoids' AND p.metric = ? AND p.weighted = ?)
               OR (p.selector = 'random' AND p.metric = ''))
        GROUP BY ALL
        HAVING count(p.correct) > 0
        ORDER BY ALL
        """,
        [run_id, problem_id, temperature, k, embedder, scorer, metric, weighted],
    ).fetchall()
    cols = ("selector", "m", "aggregator", "accuracy", "n_draws")
    return [dict(zip(cols, r, strict=True)) for r in rows]
