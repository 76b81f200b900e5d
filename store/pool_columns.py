"""Pools and their draws as NumPy columns (the browser's frame), pool search, a draw's members."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from .catalog import embedder_names, scorer_names
from .draws import draw_row
from .problems import problem_text
from .vocabulary import OUTCOMES


def options(con: duckdb.DuckDBPyConnection) -> dict[str, list[Any]]:
    """Choices the UI offers: scorers, embedders, temperatures, draw sizes, metric names."""
    scorers = scorer_names(con)
    embedders = embedder_names(con)
    temps = [
        float(r[0])
        for r in con.execute("SELECT DISTINCT temperature FROM samples ORDER BY 1").fetchall()
    ]
    ks = [int(r[0]) for r in con.execute("SELECT DISTINCT k FROM draws ORDER BY 1").fetchall()]
    metrics = [
        r[0] for r in con.execute("SELECT DISTINCT metric FROM draw_metrics ORDER BY 1").fetchall()
    ]
    return {
        "scorers": scorers,
        "embedders": embedders,
        "temperatures": temps,
        "ks": ks,
        "metrics": metrics,
    }


def pools(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    """One row per pool (run, problem, temperature): sample count n, correct count c, question
    and gold answer."""
    return con.execute(
        """
        SELECT s.run_id, s.problem_id, s.temperature,
               count(*)::BIGINT AS n, count_if(s.correct)::BIGINT AS c,
               any_value(p.question) AS question, any_value(p.gold_answer) AS gold_answer
        FROM samples s LEFT JOIN problems p USING (problem_id)
        GROUP BY s.run_id, s.problem_id, s.temperature
        ORDER BY s.run_id, s.problem_id, s.temperature
        """
    ).fetchnumpy()


_POOLS = """
    SELECT run_id, problem_id, temperature,
           (row_number() OVER (ORDER BY run_id, problem_id, temperature) - 1)::BIGINT AS pool
    FROM (SELECT DISTINCT run_id, problem_id, temperature FROM samples)
"""


def _aligned(
    ids: np.ndarray, got_ids: np.ndarray, values: np.ndarray, fill: Any, dtype: Any
) -> np.ndarray:
    """``values`` keyed by ``got_ids`` placed at the positions of the sorted ``ids``."""
    out = np.full(ids.shape, fill, dtype=dtype)
    if got_ids.size:
        pos = np.clip(np.searchsorted(ids, got_ids), 0, max(len(ids) - 1, 0))
        hit = ids[pos] == got_ids
        out[pos[hit]] = values[hit]
    return out


def _filled(col: Any, fill: Any) -> np.ndarray:
    """A fetched column with NULLs replaced by ``fill``."""
    return np.ma.filled(col, fill) if np.ma.isMaskedArray(col) else np.asarray(col)


def draw_columns(
    con: duckdb.DuckDBPyConnection,
    metrics: list[str],
    *,
    scorer: str = "",
    embedder: str = "",
) -> dict[str, np.ndarray]:
    """Every draw as one row: pool index, k, rep, each aggregator's correctness, each metric.

    Rows are ordered by (pool, k, rep). Correctness is -1 where absent, 0 or 1 otherwise;
    metrics are NaN where absent. Aggregators and metrics are those stored under
    ``scorer``/``embedder`` (or '' where they use none); ``qual_dpp`` is the one with quality
    exp(mean_logprob), scorer ''. One plain scan per aggregator and metric, aligned by draw_id
    in NumPy, is much faster than a pivot over millions of rows.
    """
    d = con.execute(
        f"""
        WITH pl AS ({_POOLS})
        SELECT d.draw_id, pl.pool, d.k, d.rep, d.temperature
        FROM draws d JOIN pl USING (run_id, problem_id, temperature)
        ORDER BY d.draw_id
        """
    ).fetchnumpy()
    ids = np.asarray(d["draw_id"], dtype=np.int64)
    out: dict[str, np.ndarray] = {
        "draw_id": ids,
        "pool": np.asarray(d["pool"], dtype=np.int64),
        "k": np.asarray(d["k"], dtype=np.int64),
        "rep": np.asarray(d["rep"], dtype=np.int64),
        "temperature": np.asarray(d["temperature"], dtype=np.float64),
    }
    for a in OUTCOMES:
        got = con.execute(
            "SELECT draw_id, coalesce(correct::TINYINT, -1) AS c FROM draw_outcomes "
            "WHERE aggregator = ? AND embedder IN ('', ?) AND scorer IN ('', ?)",
            [a, embedder, scorer],
        ).fetchnumpy()
        out[a] = _aligned(
            ids, np.asarray(got["draw_id"], np.int64), _filled(got["c"], -1), -1, np.int8
        )
    for name in metrics:
        got = con.execute(
            "SELECT draw_id, value FROM draw_metrics "
            "WHERE metric = ? AND embedder IN ('', ?) AND scorer = ''",
            [name, embedder],
        ).fetchnumpy()
        out[f"metric:{name}"] = _aligned(
            ids,
            np.asarray(got["draw_id"], np.int64),
            _filled(got["value"], np.nan).astype(np.float64),
            np.nan,
            np.float64,
        )
    order = np.lexsort((out["draw_id"], out["rep"], out["k"], out["pool"]))
    return {name: col[order] for name, col in out.items()}


def pools_matching(
    con: duckdb.DuckDBPyConnection,
    pattern: str | None = None,
    *,
    text: tuple[str, ...] | list[str] = (),
) -> np.ndarray:
    """Indices (in :func:`pools` order) of pools whose question, or one of whose solutions,
    contains every ``text`` term (case-insensitive, as typed: no pattern syntax) and matches the
    regular expression ``pattern`` (RE2, DuckDB's). An invalid pattern raises ValueError."""
    conds, params = [], []
    for t in map(str, text):
        if "%" in t or "_" in t:  # LIKE wildcards: compare the lowered texts instead
            conds.append("contains(lower({col}), ?)")
            params.append(t.lower())
        else:  # no default escape character in DuckDB's LIKE, and ILIKE is the faster scan
            conds.append("{col} ILIKE ?")
            params.append(f"%{t}%")
    if pattern is not None:
        conds.append("regexp_matches({col}, ?)")
        params.append(pattern)
    if not conds:
        return np.arange(0, dtype=np.int64)
    where_q = " AND ".join(c.format(col="question") for c in conds)
    where_s = " AND ".join(c.format(col="text") for c in conds)
    try:
        rows = con.execute(
            f"""
            WITH pl AS ({_POOLS}),
            hit_q AS (SELECT problem_id FROM problems WHERE {where_q}),
            hit_s AS (
                SELECT DISTINCT run_id, problem_id, temperature FROM samples WHERE {where_s}
            )
            SELECT pool FROM pl
            WHERE problem_id IN (SELECT problem_id FROM hit_q)
               OR (run_id, problem_id, temperature) IN (SELECT * FROM hit_s)
            ORDER BY pool
            """,
            [*params, *params],
        ).fetchall()
    except duckdb.InvalidInputException as e:
        first = (str(e).strip().splitlines() or ["invalid"])[0]
        raise ValueError(f"field regex: {pattern!r} is not a valid pattern: {first}") from None
    return np.array([r[0] for r in rows], dtype=np.int64)


def accuracy_by_k(
    con: duckdb.DuckDBPyConnection, *, scorer: str = "", embedder: str = ""
) -> list[dict[str, Any]]:
    """Mean correctness of each aggregator per run and draw size k (the overview's plot),
    pooled over the run's problems and temperatures; ``draws`` counts the draws averaged."""
    rows = con.execute(
        """
        SELECT d.run_id, o.aggregator, d.k, avg(o.correct::INTEGER) AS accuracy,
               count(*) AS draws
        FROM draw_outcomes o JOIN draws d USING (draw_id)
        WHERE o.embedder IN ('', ?) AND o.scorer IN ('', ?) AND o.correct IS NOT NULL
        GROUP BY ALL ORDER BY 1, 2, 3
        """,
        [embedder, scorer],
    ).fetchall()
    return [
        {"run_id": r, "aggregator": a, "k": int(k), "accuracy": float(v), "draws": int(n)}
        for r, a, k, v, n in rows
    ]


def draw_info(con: duckdb.DuckDBPyConnection, draw_id: int) -> dict[str, Any] | None:
    """A draw's defining fields (draws.draw_row) and its problem's text (problems.problem_text)."""
    row = draw_row(con, int(draw_id))
    return None if row is None else with_problem(con, row)


def with_problem(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> dict[str, Any]:
    """A draw row read already, with its problem's question and gold answer (sample ids as
    ints), so a caller holding the row does not read it again."""
    info = dict(row)
    problem = problem_text(con, info["problem_id"])
    info["question"], info["gold_answer"] = problem.get("question"), problem.get("gold_answer")
    info["sample_ids"] = [int(s) for s in info["sample_ids"]]
    return info


def members(
    con: duckdb.DuckDBPyConnection, sample_ids: list[int], *, scorer: str = ""
) -> list[dict[str, Any]]:
    """The samples of a batch in the given order: idx, text, answer, correct, log-probs, token
    count, finish reason, reward."""
    rows = con.execute(
        """
        SELECT s.sample_id, s.idx, s.text, s.answer, s.correct, s.mean_logprob, s.sum_logprob,
               s.n_tokens, s.finish_reason, sc.value
        FROM unnest(?::BIGINT[]) WITH ORDINALITY AS u(sample_id, pos)
        JOIN samples s USING (sample_id)
        LEFT JOIN scores sc ON sc.sample_id = s.sample_id AND sc.scorer = ?
        ORDER BY u.pos
        """,
        [list(map(int, sample_ids)), scorer],
    ).fetchall()
    cols = [
        "sample_id", "idx", "text", "answer", "correct", "mean_logprob", "sum_logprob",
        "n_tokens", "finish_reason", "reward",
    ]  # fmt: skip
    return [dict(zip(cols, r, strict=True)) for r in rows]


def outcomes(
    con: duckdb.DuckDBPyConnection, draw_id: int, *, scorer: str = "", embedder: str = ""
) -> list[dict[str, Any]]:
    """What each stored aggregator picked for a draw under ``scorer``/``embedder``."""
    rows = con.execute(
        """
        SELECT aggregator, sample_id, answer, correct FROM draw_outcomes
        WHERE draw_id = ? AND embedder IN ('', ?) AND scorer IN ('', ?)
        ORDER BY aggregator
        """,
        [int(draw_id), embedder, scorer],
    ).fetchall()
    cols = ["aggregator", "sample_id", "answer", "correct"]
    return [dict(zip(cols, r, strict=True)) for r in rows]
