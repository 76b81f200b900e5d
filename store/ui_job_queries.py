"""Queries the UI's jobs screen needs beyond store.job_queries: the open file's path, a pool's
problem rows and run settings for prefilling the rerun dialog."""

from __future__ import annotations

from typing import Any

import duckdb

from .vocabulary import LOCAL_TERMINAL


def database_file(con: duckdb.DuckDBPyConnection) -> str | None:
    """The path of the connection's main database file (None for an in-memory database)."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    return rows[0][0] if rows and rows[0][0] else None


def run_settings(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """A run's model and source (to prefill the rerun dialog), {} when the run is unknown."""
    rows = con.execute("SELECT model, source FROM runs WHERE run_id = ?", [run_id]).fetchall()
    return {"model": rows[0][0], "source": rows[0][1]} if rows else {}


def open_jobs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Ids of jobs not finished locally (not ingested, failed, crashed or cancelled), oldest first."""
    marks = ", ".join("?" for _ in LOCAL_TERMINAL)
    rows = con.execute(
        f"""SELECT job_id FROM jobs
           WHERE status NOT IN ({marks})
           ORDER BY created_at, job_id""",
        list(LOCAL_TERMINAL),
    ).fetchall()
    return [r[0] for r in rows]
