"""The draws tables: pools' samples with their scores and embeddings, stored draws, bulk writes."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from .db import transaction
from .ids import SEP, _fmt
from .write import insert, unregister

SAMPLE_COLUMNS = (
    "sample_id",
    "run_id",
    "problem_id",
    "temperature",
    "idx",
    "text",
    "answer",
    "correct",
    "answer_class",
    "mean_logprob",
)


def draw_ids_for_reps(
    run_id: str, problem_id: str, temperature: float, k: int, reps: int, seed: int
) -> np.ndarray:
    """``[draw_id(run_id, problem_id, temperature, k, rep, seed) for rep in range(reps)]``, fast.

    Same canonical encoding as ids.stable_id; the shared prefix is hashed once and copied.
    """
    import hashlib

    def enc(v: object) -> str:
        """Length-prefixed canonical text of one field, as stable_id writes it."""
        p = _fmt(v)
        return f"{len(p)}:{p}"

    head = SEP.join(enc(v) for v in ("draw", run_id, problem_id, float(temperature), int(k)))
    prefix = hashlib.blake2b((head + SEP).encode("utf-8"), digest_size=8)
    tail = (SEP + enc(int(seed))).encode("utf-8")
    out = np.empty(reps, dtype=np.int64)
    for rep in range(reps):
        h = prefix.copy()
        h.update(f"{len(str(rep))}:{rep}".encode() + tail)
        out[rep] = int.from_bytes(h.digest(), "little", signed=True)
    return out


def pool_keys(
    con: duckdb.DuckDBPyConnection, run_id: str | None = None
) -> list[tuple[str, str, float, int]]:
    """Every pool (run_id, problem_id, temperature) with its sample count, in a fixed order."""
    where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
    return con.execute(
        f"""SELECT run_id, problem_id, temperature, count(*) FROM samples {where}
            GROUP BY ALL ORDER BY run_id, problem_id, temperature""",
        params,
    ).fetchall()


def pool_samples(con: duckdb.DuckDBPyConnection, run_id: str, problem_ids: list[str]) -> pa.Table:
    """Samples of the given problems of one run, ordered by pool then idx."""
    cols = ", ".join(SAMPLE_COLUMNS)
    return con.sql(
        f"""SELECT {cols} FROM samples WHERE run_id = ? AND list_contains(?, problem_id)
            ORDER BY problem_id, temperature, idx""",
        params=[run_id, problem_ids],
    ).to_arrow_table()


def samples_by_id(con: duckdb.DuckDBPyConnection, sample_ids: list[int]) -> pa.Table:
    """Samples with the given ids (any order)."""
    cols = ", ".join(SAMPLE_COLUMNS)
    return con.sql(
        f"SELECT {cols} FROM samples WHERE list_contains(?, sample_id)", params=[sample_ids]
    ).to_arrow_table()


def scorer_is_probability(con: duckdb.DuckDBPyConnection, scorer: str) -> bool:
    """True when every value of ``scorer`` lies in [0, 1] (else the engine applies a sigmoid)."""
    lo, hi = con.execute(
        "SELECT min(value), max(value) FROM scores WHERE scorer = ?", [scorer]
    ).fetchall()[0]
    return lo is not None and lo >= 0.0 and hi <= 1.0


def _rows_of(
    table: str,
    name_col: str,
    value_col: str,
    name: str,
    run_id: str | None,
    sample_ids: list[int] | None,
) -> tuple[str, list[Any]]:
    """SQL and parameters for (sample_id, value) rows of one scorer or embedder, filtered."""
    sql = f"SELECT t.sample_id, t.{value_col} FROM {table} t"
    params: list[Any] = []
    if sample_ids is not None:  # a join on the ids is 2-3x faster than list_contains per row
        sql += " SEMI JOIN (SELECT DISTINCT unnest(?::BIGINT[]) AS sid) u ON u.sid = t.sample_id"
        params.append(sample_ids)
    if run_id is not None:
        sql += " SEMI JOIN samples s ON s.sample_id = t.sample_id AND s.run_id = ?"
        params.append(run_id)
    sql += f" WHERE t.{name_col} = ?"
    params.append(name)
    return sql, params


def scores_of(
    con: duckdb.DuckDBPyConnection,
    scorer: str,
    *,
    run_id: str | None = None,
    sample_ids: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(sample_ids, values) of one scorer, restricted to a run or to given samples."""
    sql, params = _rows_of("scores", "scorer", "value", scorer, run_id, sample_ids)
    t = con.sql(sql, params=params).to_arrow_table()
    return (
        t.column("sample_id").to_numpy().astype(np.int64),
        t.column("value").to_numpy().astype(np.float64),
    )


def embeddings_of(
    con: duckdb.DuckDBPyConnection,
    embedder: str,
    *,
    run_id: str | None = None,
    sample_ids: list[int] | None = None,
) -> tuple[np.ndarray, pa.ListArray]:
    """(sample_ids, vectors as an Arrow list array) of one embedder for a run or given samples."""
    sql, params = _rows_of("embeddings", "embedder", "vec", embedder, run_id, sample_ids)
    t = con.sql(sql, params=params).to_arrow_table()
    vec = t.column("vec").combine_chunks()
    return t.column("sample_id").to_numpy().astype(np.int64), vec


def stored_draws(
    con: duckdb.DuckDBPyConnection, run_id: str, seed: int, sizes: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stored draws of a run, seed and sizes as (sorted draw_ids, start of each draw's
    members in the flat array, flat sample_ids): what a draw stage compares with each pool as
    it is now, to find pools changed since they were drawn."""
    t = con.sql(
        "SELECT draw_id, sample_ids FROM draws "
        "WHERE run_id = ? AND seed = ? AND list_contains(?, k) ORDER BY draw_id",
        params=[run_id, seed, sizes],
    ).to_arrow_table()
    members = t.column("sample_ids").combine_chunks()
    starts = members.offsets.to_numpy()[:-1].astype(np.int64)
    flat = members.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    return t.column("draw_id").to_numpy().astype(np.int64), starts, flat


STALE_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("problem_id", pa.string()),
        ("temperature", pa.float64()),
        ("k", pa.int32()),
        ("seed", pa.int64()),
    ]
)


SETS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("problem_id", pa.string()),
        ("temperature", pa.float64()),
        ("k", pa.int32()),
        ("seed", pa.int64()),
        ("pool_size", pa.int32()),
        ("n_subsets", pa.int64()),
        ("n_draws", pa.int32()),
        ("exhaustive", pa.bool_()),
    ]
)
"""A draw_sets row: per (pool, k, seed) the pool size, C(n, k) (NULL past BIGINT), the number
of distinct draws stored and whether they are every subset."""


def delete_draws(con: duckdb.DuckDBPyConnection, ids: str) -> None:
    """Delete the draws whose ids the SQL query ``ids`` gives, with their metric, outcome and
    pruning rows (inside the caller's transaction; ``ids`` is read before draws go)."""
    for table in ("draw_metrics", "draw_outcomes", "prune_outcomes", "draws"):
        con.execute(f"DELETE FROM {table} WHERE draw_id IN ({ids})")


def delete_draws_of(con: duckdb.DuckDBPyConnection, stale: pa.Table) -> None:
    """Delete every draw of the given (run, problem, temperature, k, seed), as delete_draws."""
    name = "_divtui_stale_draws"
    con.register(name, stale)
    try:
        delete_draws(
            con,
            "SELECT d.draw_id FROM draws d JOIN "
            f"{name} s USING (run_id, problem_id, temperature, k, seed)",
        )
    finally:
        unregister(con, name)


def done_rows(
    con: duckdb.DuckDBPyConnection, run_id: str, seed: int, sizes: list[int]
) -> dict[tuple[str, str, str], np.ndarray]:
    """Per (metric or aggregator, embedder, scorer): sorted draw_ids that already have that row.

    Only draws of this run, seed and sizes are looked at; used to skip rows already stored.
    """
    t = con.sql(
        """
        WITH d AS (SELECT draw_id FROM draws
                   WHERE run_id = ? AND seed = ? AND list_contains(?, k))
        SELECT m.metric AS name, m.embedder, m.scorer, list(m.draw_id ORDER BY m.draw_id) AS ids
        FROM draw_metrics m SEMI JOIN d ON d.draw_id = m.draw_id GROUP BY ALL
        UNION ALL
        SELECT o.aggregator, o.embedder, o.scorer, list(o.draw_id ORDER BY o.draw_id)
        FROM draw_outcomes o SEMI JOIN d ON d.draw_id = o.draw_id GROUP BY ALL
        """,
        params=[run_id, seed, sizes],
    ).to_arrow_table()
    out = {}
    for i in range(t.num_rows):
        key = (t["name"][i].as_py(), t["embedder"][i].as_py(), t["scorer"][i].as_py())
        out[key] = t["ids"][i].values.to_numpy().astype(np.int64)
    return out


def append_rows(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    """Plain bulk INSERT BY NAME into a table without a key (the caller ensures uniqueness)."""
    name = f"_divtui_draw_rows_{table}"
    con.register(name, data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
    finally:
        unregister(con, name)


def write_draw_batch(
    con: duckdb.DuckDBPyConnection,
    draws: pa.Table,
    metrics: pa.Table,
    outcomes: pa.Table,
    stale: pa.Table | None = None,
    sets: pa.Table | None = None,
) -> None:
    """Insert draws, their metrics and outcomes in ONE transaction (all or nothing), first
    deleting the ``stale`` (run, problem, temperature, k, seed) draws they replace; ``sets``
    (draw_sets rows) replace the stored ones of their (pool, k, seed)."""
    with transaction(con):
        if stale is not None and stale.num_rows:
            delete_draws_of(con, stale)
        if sets is not None and sets.num_rows:
            insert(con, "draw_sets", sets, on_conflict="replace")
        if draws.num_rows:
            insert(con, "draws", draws)
        if metrics.num_rows:
            append_rows(con, "draw_metrics", metrics)
        if outcomes.num_rows:
            append_rows(con, "draw_outcomes", outcomes)


def draw_row(con: duckdb.DuckDBPyConnection, draw_id: int) -> dict[str, Any] | None:
    """One draw's defining fields and sample_ids, or None."""
    rows = con.execute(
        """SELECT draw_id, run_id, problem_id, temperature, k, rep, seed, sample_ids
           FROM draws WHERE draw_id = ?""",
        [draw_id],
    ).fetchall()
    if not rows:
        return None
    cols = ["draw_id", "run_id", "problem_id", "temperature", "k", "rep", "seed", "sample_ids"]
    return dict(zip(cols, rows[0], strict=True))


def draw_metric_rows(
    con: duckdb.DuckDBPyConnection, draw_id: int
) -> list[tuple[str, str, str, float | None]]:
    """(metric, embedder, scorer, value) rows of one draw."""
    return con.execute(
        "SELECT metric, embedder, scorer, value FROM draw_metrics WHERE draw_id = ? ORDER BY ALL",
        [draw_id],
    ).fetchall()


def draw_outcome_rows(
    con: duckdb.DuckDBPyConnection, draw_id: int
) -> list[tuple[str, str, str, int | None, str | None, bool | None]]:
    """(aggregator, embedder, scorer, sample_id, answer, correct) rows of one draw."""
    return con.execute(
        """SELECT aggregator, embedder, scorer, sample_id, answer, correct
           FROM draw_outcomes WHERE draw_id = ? ORDER BY aggregator, embedder, scorer""",
        [draw_id],
    ).fetchall()
