"""The prune_outcomes table: draws to prune, rows stored already, bulk writes, accuracy curves."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from .db import transaction
from .write import unregister

GroupKey = tuple[str, int, bool, str]
"""(metric, m, weighted, selector) of a set of prune_outcomes rows."""


def draws_of_pools(
    con: duckdb.DuckDBPyConnection, run_id: str, problem_ids: list[str], sizes: list[int]
) -> pa.Table:
    """Draws of the given sizes of some problems of one run, by pool then k, rep, seed."""
    return con.sql(
        """SELECT draw_id, problem_id, temperature, k, rep, seed, sample_ids FROM draws
           WHERE run_id = ? AND list_contains(?, problem_id) AND list_contains(?, k)
           ORDER BY problem_id, temperature, k, seed, rep""",
        params=[run_id, problem_ids, sizes],
    ).to_arrow_table()


def count_draws(con: duckdb.DuckDBPyConnection, run_id: str | None, sizes: list[int]) -> int:
    """Number of draws of the given sizes (of one run, or all)."""
    where, params = ("AND run_id = ?", [run_id]) if run_id else ("", [])
    return int(
        con.execute(
            f"SELECT count(*) FROM draws WHERE list_contains(?, k) {where}", [sizes, *params]
        ).fetchall()[0][0]
    )


def done_groups(
    con: duckdb.DuckDBPyConnection, run_id: str, sizes: list[int], embedder: str, scorer: str
) -> dict[GroupKey, np.ndarray]:
    """Per (metric, m, weighted, selector): sorted draw_ids that already have rows stored."""
    t = con.sql(
        """
        WITH d AS (SELECT draw_id FROM draws WHERE run_id = ? AND list_contains(?, k))
        SELECT p.metric, p.m, p.weighted, p.selector,
               list(DISTINCT p.draw_id ORDER BY p.draw_id) AS ids
        FROM prune_outcomes p SEMI JOIN d ON d.draw_id = p.draw_id
        WHERE p.embedder = ? AND p.scorer = ?
        GROUP BY ALL
        """,
        params=[run_id, sizes, embedder, scorer],
    ).to_arrow_table()
    out: dict[GroupKey, np.ndarray] = {}
    for i in range(t.num_rows):
        key = (
            t["metric"][i].as_py(),
            int(t["m"][i].as_py()),
            bool(t["weighted"][i].as_py()),
            t["selector"][i].as_py(),
        )
        out[key] = np.sort(t["ids"][i].values.to_numpy().astype(np.int64))
    return out


def write_prune_rows(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> None:
    """Append prune_outcomes rows in one transaction (the caller skips what is stored)."""
    if rows.num_rows == 0:
        return
    name = "_divtui_prune_rows"
    with transaction(con):
        con.register(name, rows)
        try:
            con.execute(f"INSERT INTO prune_outcomes BY NAME SELECT * FROM {name}")
        finally:
            unregister(con, name)


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
