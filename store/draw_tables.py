"""Filtered draws joined with their metrics and outcomes as frames, pool counts, the report cache.

Columns of the wide per-draw frame are chosen by the caller as (label, name, embedder, scorer)
tuples, so one query pivots any mix of metrics and aggregators under several scorers/embedders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

Column = tuple[str, str, str, str]
"""(label, metric or aggregator name, embedder, scorer)."""


def draw_filter(
    *, run_id: str | None = None, temperature: float | None = None, k: int | None = None
) -> tuple[str, list[Any]]:
    """A WHERE clause on the draws table (alias d) and its parameters."""
    parts, params = ["TRUE"], []
    for col, value in (("run_id", run_id), ("temperature", temperature), ("k", k)):
        if value is not None:
            parts.append(f"d.{col} = ?")
            params.append(value)
    return " AND ".join(parts), params


def count_draws(
    con: duckdb.DuckDBPyConnection, where: str = "TRUE", params: Sequence[Any] = ()
) -> int:
    """Number of draws matching a draw filter."""
    return int(
        con.execute(f"SELECT count(*) FROM draws d WHERE {where}", list(params)).fetchall()[0][0]
    )


def draw_values(
    con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]
) -> dict[str, list[Any]]:
    """Distinct runs, temperatures and sizes among the draws matching a filter."""
    out = {}
    for col in ("run_id", "temperature", "k"):
        rows = con.execute(
            f"SELECT DISTINCT d.{col} FROM draws d WHERE {where} ORDER BY 1", list(params)
        ).fetchall()
        out[col] = [r[0] for r in rows]
    return out


def variants(
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: Sequence[Any]
) -> list[tuple[str, str, str]]:
    """Distinct (name, embedder, scorer) of draw_metrics or draw_outcomes on the filtered draws."""
    name = {"draw_metrics": "metric", "draw_outcomes": "aggregator"}[table]
    rows = con.execute(
        f"""
        SELECT DISTINCT t.{name}, t.embedder, t.scorer
        FROM {table} t JOIN draws d USING (draw_id)
        WHERE {where} ORDER BY 1, 2, 3
        """,
        list(params),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _quote(label: str) -> str:
    """A label as a DuckDB identifier."""
    return '"' + label.replace('"', '""') + '"'


def _pivot(table: str, name: str, value: str, cols: Sequence[Column]) -> tuple[str, list[Any]]:
    """SELECT draw_id and one column per (label, name, embedder, scorer), with parameters."""
    exprs, params = [], []
    for label, n, emb, sc in cols:
        exprs.append(
            f"max({value}) FILTER (WHERE {name} = ? AND embedder = ? AND scorer = ?) "
            f"AS {_quote(label)}"
        )
        params += [n, emb, sc]
    names = sorted({c[1] for c in cols})
    marks = ", ".join("?" for _ in names)
    sql = f"SELECT draw_id, {', '.join(exprs)} FROM {table} WHERE {name} IN ({marks}) GROUP BY draw_id"
    return sql, params + names


def draw_frame(
    con: duckdb.DuckDBPyConnection,
    where: str,
    params: Sequence[Any],
    metrics: Sequence[Column],
    outcomes: Sequence[Column],
) -> pd.DataFrame:
    """One row per filtered draw: its pool keys, k, each metric, each aggregator's correct (0/1).

    Missing values (a metric not computed, an ungraded pick) are NaN.
    """
    sel = ["d.draw_id", "d.run_id", "d.problem_id", "d.temperature", "d.k"]
    joins, all_params = [], []
    for alias, table, name, value, cols in (
        ("m", "draw_metrics", "metric", "value", metrics),
        ("o", "draw_outcomes", "aggregator", "correct::DOUBLE", outcomes),
    ):
        if not cols:
            continue
        sql, p = _pivot(table, name, value, cols)
        joins.append(f"LEFT JOIN ({sql}) {alias} USING (draw_id)")
        all_params += p
        sel += [f"{alias}.{_quote(c[0])}" for c in cols]
    query = (
        f"SELECT {', '.join(sel)} FROM draws d {' '.join(joins)} "
        f"WHERE {where} ORDER BY d.run_id, d.k, d.temperature, d.problem_id, d.draw_id"
    )
    return con.execute(query, all_params + list(params)).df()


def problem_accuracy(
    con: duckdb.DuckDBPyConnection,
    where: str,
    params: Sequence[Any],
    outcomes: Sequence[Column],
    by: Sequence[str],
) -> pd.DataFrame:
    """Per (run_id, *by, problem_id, temperature, label): correct picks, graded draws and
    draws of one pool, summed in DuckDB (temperature is a key once, whether or not in by)."""
    keys_ = ["run_id", *by, "problem_id"] + ([] if "temperature" in by else ["temperature"])
    if not outcomes:
        return pd.DataFrame(columns=[*keys_, "label", "hits", "n", "n_draws"])
    values = ", ".join("(?, ?, ?, ?)" for _ in outcomes)
    lab_params = [v for c in outcomes for v in c]
    keys = ", ".join(f"d.{c}" for c in keys_)
    query = f"""
        WITH labels(label, aggregator, embedder, scorer) AS (VALUES {values})
        SELECT {keys}, l.label,
               sum(o.correct::INTEGER)::DOUBLE AS hits,
               count(o.correct)::DOUBLE AS n,
               count(*) AS n_draws
        FROM draws d
        JOIN draw_outcomes o USING (draw_id)
        JOIN labels l ON o.aggregator = l.aggregator AND o.embedder = l.embedder
                     AND o.scorer = l.scorer
        WHERE {where}
        GROUP BY ALL
        ORDER BY ALL
    """
    return con.execute(query, lab_params + list(params)).df()


def pool_counts(
    con: duckdb.DuckDBPyConnection, *, run_id: str | None = None, temperature: float | None = None
) -> pd.DataFrame:
    """Per pool (run_id, temperature, problem_id): graded samples n and correct ones c."""
    where, params = draw_filter(run_id=run_id, temperature=temperature)
    query = f"""
        SELECT d.run_id, d.temperature, d.problem_id,
               count(d.correct) AS n, sum(d.correct::INTEGER) AS c
        FROM samples d
        WHERE d.correct IS NOT NULL AND {where}
        GROUP BY ALL ORDER BY ALL
    """
    return con.execute(query, params).df()


def scored_samples(
    con: duckdb.DuckDBPyConnection, *, run_id: str | None = None, temperature: float | None = None
) -> pd.DataFrame:
    """Graded samples with each scorer's value: run_id, scorer, problem_id, temperature,
    value, correct."""
    where, params = draw_filter(run_id=run_id, temperature=temperature)
    query = f"""
        SELECT d.run_id, c.scorer, d.problem_id, d.temperature, c.value, d.correct
        FROM samples d JOIN scores c USING (sample_id)
        WHERE d.correct IS NOT NULL AND {where}
        ORDER BY d.run_id, c.scorer, d.sample_id
    """
    return con.execute(query, params).df()


def draw_mean_reward(
    con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any], scorer: str
) -> pd.DataFrame:
    """Per filtered draw: draw_id and ``reward``, the mean of its members' rewards under
    ``scorer`` as the engine uses them (a probability; scores outside [0, 1] through a
    sigmoid); NULL when a member has no score."""
    query = f"""
        WITH s AS (SELECT min(value) >= 0 AND max(value) <= 1 AS prob
                   FROM scores WHERE scorer = ?),
        m AS (SELECT d.draw_id, unnest(d.sample_ids) AS sample_id FROM draws d WHERE {where})
        SELECT m.draw_id,
               CASE WHEN count(c.value) < count(*) THEN NULL
                    WHEN (SELECT prob FROM s) THEN avg(c.value)
                    ELSE avg(1.0 / (1.0 + exp(-c.value))) END AS reward
        FROM m LEFT JOIN scores c ON c.sample_id = m.sample_id AND c.scorer = ?
        GROUP BY m.draw_id
    """
    return con.execute(query, [scorer, *params, scorer]).df()


def prune_accuracy(
    con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]
) -> pd.DataFrame:
    """Per (run, k, metric, m, selector, weighted, embedder, scorer, problem, temperature,
    aggregator): correct picks (hits), graded rows (n) and draws of one pool."""
    return con.execute(
        f"""
        SELECT d.run_id, d.k, p.metric, p.m, p.selector, p.weighted, p.embedder, p.scorer,
               d.problem_id, d.temperature, p.aggregator,
               sum(p.correct::INTEGER)::DOUBLE AS hits, count(p.correct)::DOUBLE AS n,
               count(*) AS n_draws
        FROM prune_outcomes p JOIN draws d USING (draw_id)
        WHERE {where}
        GROUP BY ALL ORDER BY ALL
        """,
        list(params),
    ).df()


def prune_paired(con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]) -> pd.DataFrame:
    """Per (run, k, metric, m, weighted, embedder, scorer, problem, aggregator) of the medoid
    rows: the summed paired difference medoid correct - random correct over the draws where
    both are graded (``diff``, ``n``), the random subset being the one of the same draw, m,
    aggregator, embedder and scorer."""
    return con.execute(
        f"""
        SELECT d.run_id, d.k, p.metric, p.m, p.weighted, p.embedder, p.scorer,
               d.problem_id, p.aggregator,
               sum(p.correct::INTEGER - r.correct::INTEGER)::DOUBLE AS diff,
               count(*)::DOUBLE AS n
        FROM prune_outcomes p
        JOIN prune_outcomes r ON r.draw_id = p.draw_id AND r.m = p.m
             AND r.aggregator = p.aggregator AND r.embedder = p.embedder
             AND r.scorer = p.scorer AND r.selector = 'random'
        JOIN draws d ON d.draw_id = p.draw_id
        WHERE p.selector = 'medoids' AND p.correct IS NOT NULL AND r.correct IS NOT NULL
              AND {where}
        GROUP BY ALL ORDER BY ALL
        """,
        list(params),
    ).df()


def report_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of everything the report reads (draws and their rows, grades, scores,
    pruning rows): row counts and an order-free XOR of row hashes per table, so it changes
    whenever a row is added, removed or changed (and not with the scan order)."""
    parts = {
        "draws": "draw_id, sample_ids",
        "draw_metrics": "draw_id, metric, embedder, scorer, value",
        "draw_outcomes": "draw_id, aggregator, embedder, scorer, sample_id, correct",
        "prune_outcomes": "draw_id, metric, m, weighted, selector, aggregator, embedder, "
        "scorer, correct",
        "samples": "sample_id, run_id, problem_id, temperature, correct, answer_class",
        "scores": "sample_id, scorer, value",
    }
    cols = ", ".join(
        f"(SELECT count(*) || ':' || coalesce(bit_xor(hash({c})), 0) FROM {t})"
        for t, c in parts.items()
    )
    row = con.execute(f"SELECT {cols}").fetchall()[0]
    return "|".join(str(v) for v in row)


def read_cache(con: duckdb.DuckDBPyConnection, key: str) -> tuple[str, str] | None:
    """(fingerprint, report JSON) stored under ``key``, or None."""
    rows = con.execute(
        "SELECT fingerprint, report FROM report_cache WHERE key = ?", [key]
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def write_cache(con: duckdb.DuckDBPyConnection, key: str, fingerprint: str, report: str) -> None:
    """Store (replace) a cached report under ``key``."""
    con.execute(
        "INSERT OR REPLACE INTO report_cache (key, fingerprint, report) VALUES (?, ?, ?)",
        [key, fingerprint, report],
    )
