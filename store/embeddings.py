"""Embedding vectors: which samples still lack one for an embedder, and the bulk write."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from .write import insert


def samples_missing_embedding(
    con: duckdb.DuckDBPyConnection, embedder: str, *, run_id: str | None = None
) -> list[tuple[int, str]]:
    """(sample_id, text) of every sample (of ``run_id``, if given) with no vector for ``embedder``."""
    sql = (
        "SELECT s.sample_id, s.text FROM samples s "
        "ANTI JOIN (SELECT sample_id FROM embeddings WHERE embedder = ?) e USING (sample_id)"
    )
    params: list[object] = [embedder]
    if run_id is not None:
        sql += " WHERE s.run_id = ?"
        params.append(run_id)
    return [(int(i), t) for i, t in con.execute(sql + " ORDER BY s.sample_id", params).fetchall()]


def count_missing_embeddings(
    con: duckdb.DuckDBPyConnection, embedder: str, *, run_id: str | None = None
) -> int:
    """How many samples (of ``run_id``, if given) have no vector for ``embedder``."""
    sql = (
        "SELECT count(*) FROM samples s "
        "ANTI JOIN (SELECT sample_id FROM embeddings WHERE embedder = ?) e USING (sample_id)"
    )
    params: list[object] = [embedder]
    if run_id is not None:
        sql += " WHERE s.run_id = ?"
        params.append(run_id)
    return int(con.execute(sql, params).fetchall()[0][0])


def write_embeddings(
    con: duckdb.DuckDBPyConnection, embedder: str, sample_ids: np.ndarray, vecs: np.ndarray
) -> int:
    """Store ``vecs[i]`` (float32) as the ``embedder`` vector of ``sample_ids[i]``, in one insert."""
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    n, dim = vecs.shape
    offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
    table = pa.table(
        {
            "sample_id": pa.array(np.asarray(sample_ids, dtype=np.int64)),
            "embedder": pa.array([embedder] * n, type=pa.string()),
            "vec": pa.ListArray.from_arrays(offsets, pa.array(vecs.reshape(-1))),
        }
    )
    return insert(con, "embeddings", table, on_conflict="ignore")
