"""Graded samples with one embedder's vectors (what the correctness probe learns from)."""

from __future__ import annotations

import duckdb
import numpy as np


def graded_embeddings(
    con: duckdb.DuckDBPyConnection, embedder: str, run_id: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(sample_ids, vectors (n, d) float32, correct (n,) bool, problem_ids) of graded samples."""
    where = "AND s.run_id = ?" if run_id else ""
    params = [embedder, run_id] if run_id else [embedder]
    tbl = con.sql(
        f"""
        SELECT s.sample_id, e.vec, s.correct, s.problem_id
        FROM samples s JOIN embeddings e ON e.sample_id = s.sample_id AND e.embedder = ?
        WHERE s.correct IS NOT NULL {where}
        ORDER BY s.sample_id
        """,
        params=params,
    ).to_arrow_table()
    ids = tbl.column("sample_id").to_numpy()
    if len(ids) == 0:
        return ids, np.zeros((0, 0), np.float32), np.zeros(0, bool), []
    flat = tbl.column("vec").combine_chunks()
    dim = len(flat[0])
    vecs = np.asarray(flat.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    vecs = vecs.reshape(len(ids), dim)
    correct = tbl.column("correct").to_numpy(zero_copy_only=False).astype(bool)
    return ids, vecs, correct, tbl.column("problem_id").to_pylist()
