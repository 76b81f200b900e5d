"""What a database file holds: table counts, runs with their counts, scorers, embedders, sizes."""

from __future__ import annotations

import duckdb

from .row_types import RunRow


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every divtui table."""
    from .schema import TABLES

    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in TABLES}


def runs(con: duckdb.DuckDBPyConnection) -> list[RunRow]:
    """Every run with its sample, problem and graded counts and accuracy."""
    rows = con.execute(
        """
        SELECT r.run_id, r.source, r.model, r.created_at,
               count(s.sample_id) AS samples,
               count(DISTINCT s.problem_id) AS problems,
               list(DISTINCT s.temperature ORDER BY s.temperature) AS temperatures,
               count(s.correct) AS graded,
               avg(s.correct::INTEGER) AS accuracy
        FROM runs r LEFT JOIN samples s USING (run_id)
        GROUP BY ALL ORDER BY r.created_at, r.run_id
        """
    ).fetchall()
    return [
        RunRow(
            run_id=run_id,
            source=source,
            model=model,
            created_at=created_at,
            samples=samples,
            problems=problems,
            temperatures=temperatures,
            graded=graded,
            accuracy=accuracy,
        )
        for (
            run_id,
            source,
            model,
            created_at,
            samples,
            problems,
            temperatures,
            graded,
            accuracy,
        ) in rows
    ]


def scorers(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Scorer names with how many samples each has scored."""
    return con.execute("SELECT scorer, count(*) FROM scores GROUP BY 1 ORDER BY 1").fetchall()


def embedders(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]]:
    """Embedder names with sample count and vector dimension."""
    return con.execute(
        "SELECT embedder, count(*), max(len(vec)) FROM embeddings GROUP BY 1 ORDER BY 1"
    ).fetchall()


def draw_sizes(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """Draw sizes k with the number of draws of each."""
    return con.execute("SELECT k, count(*) FROM draws GROUP BY 1 ORDER BY 1").fetchall()


def scorer_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Scorers with stored scores, sorted."""
    return [r[0] for r in con.execute("SELECT DISTINCT scorer FROM scores ORDER BY 1").fetchall()]


def embedder_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Embedders with stored vectors, sorted."""
    rows = con.execute("SELECT DISTINCT embedder FROM embeddings ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def has_scorer(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether ``name`` has stored scores (stops at the first row: cheaper than the names)."""
    sql = "SELECT EXISTS (SELECT 1 FROM scores WHERE scorer = ?)"
    return bool(con.execute(sql, [name]).fetchall()[0][0])


def has_embedder(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether ``name`` has stored vectors (stops at the first row)."""
    sql = "SELECT EXISTS (SELECT 1 FROM embeddings WHERE embedder = ?)"
    return bool(con.execute(sql, [name]).fetchall()[0][0])
