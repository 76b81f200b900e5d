"""Runs: whether one exists, their ids, finished pools, tokens and config, unscored samples."""

from __future__ import annotations

from typing import Any

import duckdb


def finished_pools(con: duckdb.DuckDBPyConnection, run_id: str) -> set[tuple[str, float]]:
    """(problem_id, temperature) of every pool of ``run_id`` already stored (pools commit whole)."""
    rows = con.execute(
        "SELECT DISTINCT problem_id, temperature FROM samples WHERE run_id = ?", [run_id]
    ).fetchall()
    return {(p, round(float(t), 6)) for p, t in rows}


def run_tokens(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """Generated tokens stored for ``run_id``."""
    rows = con.execute(
        "SELECT coalesce(sum(n_tokens), 0) FROM samples WHERE run_id = ?", [run_id]
    ).fetchall()
    return int(rows[0][0])


def run_config(con: duckdb.DuckDBPyConnection, run_id: str) -> str | None:
    """The stored ``config`` JSON of a run, or None when the run does not exist."""
    rows = con.execute("SELECT config FROM runs WHERE run_id = ?", [run_id]).fetchall()
    return rows[0][0] if rows else None


def unscored_samples(
    con: duckdb.DuckDBPyConnection, scorer: str, *, run_id: str | None = None
) -> list[tuple[int, str, str]]:
    """(sample_id, question, text) of samples with no ``scorer`` score, longest text first."""
    sql = """
        SELECT s.sample_id, p.question, s.text
        FROM samples s JOIN problems p USING (problem_id)
        WHERE NOT EXISTS (
            SELECT 1 FROM scores c WHERE c.sample_id = s.sample_id AND c.scorer = ?)
    """
    params: list[Any] = [scorer]
    if run_id is not None:
        sql += " AND s.run_id = ?"
        params.append(run_id)
    sql += " ORDER BY length(p.question) + length(s.text) DESC, s.sample_id"
    return [(int(a), b, c) for a, b, c in con.execute(sql, params).fetchall()]


def samples_without_problem(con: duckdb.DuckDBPyConnection) -> int:
    """How many samples point at a problem the file does not hold (they cannot be scored)."""
    return int(
        con.execute(
            "SELECT count(*) FROM samples s ANTI JOIN problems p USING (problem_id)"
        ).fetchall()[0][0]
    )


def run_exists(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """Whether ``run_id`` is a run of this file (a row of runs)."""
    return bool(
        con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0]
    )


def run_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every run id, from runs and from samples, sorted."""
    rows = con.execute(
        "SELECT run_id FROM runs UNION SELECT DISTINCT run_id FROM samples ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def sampled_run_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Runs that have samples, sorted (the runs a draw or prune goes over)."""
    return [r[0] for r in con.execute("SELECT DISTINCT run_id FROM samples ORDER BY 1").fetchall()]
