"""Turning a parsed file into one transaction of bulk inserts (runs, problems, samples, ...)."""

from __future__ import annotations

import hashlib
import json
import math
import socket
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from .db import transaction
from .ids import SEP, _fmt
from .problems import first_conflict
from .write import insert, unregister

COUNTED = ("runs", "problems", "samples", "scores", "embeddings")


class Declined(Exception):
    """The caller's last check before COMMIT said no: the transaction was rolled back."""


class ProblemConflict(Exception):
    """A problem in the file is already stored with a different question or gold answer."""

    def __init__(self, problem_id: str, field: str) -> None:
        """Name the problem and the field that differs."""
        self.problem_id, self.field = problem_id, field
        super().__init__(f"problem {problem_id!r} is already stored with a different {field}")


def _part(value: object) -> bytes:
    """One length-prefixed field of an id key, as store.ids encodes it."""
    p = _fmt(value)
    return f"{len(p)}:{p}".encode()


def pool_sample_ids(
    run_id: str, problem_ids: list[str], temperatures: np.ndarray, idxs: np.ndarray
) -> np.ndarray:
    """``store.sample_id`` of every row, hashing each pool's shared prefix once.

    Per row only a copy of the pool's hash state, the cached bytes of ``idx`` and the digest
    remain (about 1 microsecond).
    """
    out = np.empty(len(problem_ids), dtype=np.int64)
    sep = SEP.encode()
    head = _part("sample") + sep + _part(run_id) + sep
    prefixes: dict[tuple[Any, ...], Any] = {}
    tails: dict[int, bytes] = {}
    for row, (p, t, i) in enumerate(
        zip(problem_ids, temperatures.tolist(), idxs.tolist(), strict=True)
    ):
        # -0.0 == 0.0 but formats as "-0.000000": zero keys carry their sign.
        key = (p, t) if t else (p, t, math.copysign(1.0, t))
        h = prefixes.get(key)
        if h is None:
            h = hashlib.blake2b(head + _part(p) + sep + _part(float(t)) + sep, digest_size=8)
            prefixes[key] = h
        tail = tails.get(i)
        if tail is None:
            tail = tails[i] = _part(int(i))
        h = h.copy()
        h.update(tail)
        out[row] = int.from_bytes(h.digest(), "little", signed=True)
    return out


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of the tables an import writes."""
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in COUNTED)
    return {t: int(n) for t, n in con.execute(sql).fetchall()}


KEYS = {
    "problems": ("problem_id",),
    "samples": ("sample_id",),
    "scores": ("sample_id", "scorer"),
    "embeddings": ("sample_id", "embedder"),
}


def _check_problems(con: duckdb.DuckDBPyConnection, problems: str) -> None:
    """Raise ProblemConflict if a stored problem differs in question or gold answer (beyond
    spacing and thousands separators: problems.first_conflict)."""
    conflict = first_conflict(con, problems)
    if conflict:
        raise ProblemConflict(*conflict)


class SampleConflict(Exception):
    """A sample of the file is already stored (same id) with different content."""

    def __init__(
        self, sample_id: int, problem_id: str, temperature: float, idx: int, field: str
    ) -> None:
        """Name the sample and the first field that differs; ``line`` is filled in by callers
        that know it."""
        self.sample_id, self.problem_id, self.field = sample_id, problem_id, field
        self.temperature, self.idx = temperature, idx
        self.line: int | None = None
        super().__init__(
            f"sample (problem {problem_id!r}, temperature {temperature:g}, sample_idx {idx}) "
            f"is already stored with a different {field}; pass --replace to replace it "
            "(with its scores, embeddings, grades and the draws that include it)"
        )


SAMPLE_FIELDS = (
    "text",
    "n_tokens",
    "sum_logprob",
    "mean_logprob",
    "finish_reason",
    "source_answer",
    "source_correct",
)


def _changed(con: duckdb.DuckDBPyConnection, samples: str, scores: str, embeddings: str) -> str:
    """SQL: (sample_id, problem_id, temperature, idx, field) of every stored sample that the
    file gives with different content (a sample field, or a score or vector it names)."""
    field = "CASE " + " ".join(
        f"WHEN o.{f} IS DISTINCT FROM n.{f} THEN '{f}'" for f in SAMPLE_FIELDS
    )
    differs = " OR ".join(f"o.{f} IS DISTINCT FROM n.{f}" for f in SAMPLE_FIELDS)
    return (
        f"SELECT n.sample_id, field, prio FROM (SELECT n.sample_id, {field} END AS field, 0 AS prio "
        f"FROM ({samples}) n JOIN samples o USING (sample_id) WHERE {differs} "
        "UNION ALL SELECT n.sample_id, 'scores.' || n.scorer, 1 FROM "
        f"({scores}) n JOIN scores o USING (sample_id, scorer) WHERE o.value IS DISTINCT FROM n.value "
        "UNION ALL SELECT n.sample_id, 'embeddings.' || n.embedder, 2 FROM "
        f"({embeddings}) n JOIN embeddings o USING (sample_id, embedder) "
        "WHERE o.vec IS DISTINCT FROM n.vec) n"
    )


def _replace_changed(con: duckdb.DuckDBPyConnection, changed: str, replace: bool) -> int:
    """Refuse (SampleConflict) or, with ``replace``, delete every changed stored sample with
    its scores, embeddings and the draws that include it (metrics, outcomes, pruning rows)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _divtui_changed AS SELECT sample_id, "
        f"arg_min(field, (prio, field)) AS field "
        f"FROM ({changed}) GROUP BY sample_id"
    )
    try:
        rows = con.execute(
            "SELECT c.sample_id, s.problem_id, s.temperature, s.idx, c.field FROM _divtui_changed c "
            "JOIN samples s USING (sample_id) ORDER BY s.problem_id, s.temperature, s.idx LIMIT 1"
        ).fetchall()
        if not rows:
            return 0
        if not replace:
            raise SampleConflict(*rows[0])
        n = int(con.execute("SELECT count(*) FROM _divtui_changed").fetchall()[0][0])
        ids = (
            "SELECT d.draw_id FROM draws d WHERE len(list_intersect(d.sample_ids, "
            "(SELECT list(sample_id) FROM _divtui_changed))) > 0"
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE _divtui_changed_draws AS {ids}")
        for table in ("draw_metrics", "draw_outcomes", "prune_outcomes", "draws"):
            con.execute(
                f"DELETE FROM {table} WHERE draw_id IN (SELECT draw_id FROM _divtui_changed_draws)"
            )
        for table in ("scores", "embeddings", "samples"):
            con.execute(
                f"DELETE FROM {table} WHERE sample_id IN (SELECT sample_id FROM _divtui_changed)"
            )
        return n
    finally:
        con.execute("DROP TABLE IF EXISTS temp._divtui_changed")
        con.execute("DROP TABLE IF EXISTS temp._divtui_changed_draws")


def _insert_new(con: duckdb.DuckDBPyConnection, table: str, select: str) -> None:
    """Insert the rows of ``select`` whose key ``table`` lacks (a plain INSERT, anti-joined).

    Faster than INSERT OR IGNORE (whose per-row conflict handling tripled the time of 200k
    embedding rows); keys must be unique within ``select``, which every format guarantees.
    """
    on = " AND ".join(f"o.{k} = n.{k}" for k in KEYS[table])
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT n.* FROM ({select}) n ANTI JOIN {table} o ON {on}"
    )


def _run_table(
    run_id: str, source: str, config: dict[str, Any], version: str, model: str | None
) -> pa.Table:
    """The one ``runs`` row of an import."""
    return pa.table(
        {
            "run_id": [run_id],
            "source": [source],
            "model": pa.array([model], pa.string()),
            "config": [json.dumps(config, sort_keys=True, default=str)],
            "host": [socket.gethostname()],
            "divtui_version": [version],
        }
    )


def ingest_relations(
    con: duckdb.DuckDBPyConnection,
    *,
    problems: str,
    samples: str,
    scores: str,
    embeddings: str,
    sizes: dict[str, int],
    run_id: str,
    source: str,
    config: dict[str, Any],
    version: str,
    model: str | None = None,
    verify: Callable[[], bool] | None = None,
    replace: bool = False,
) -> dict[str, dict[str, int]]:
    """Store the rows of four SQL SELECTs in one transaction, skipping rows already present.

    ``samples``, ``scores`` and ``embeddings`` carry ``sample_id``; ``sizes`` gives each
    table's row count in the file. ``verify``, when given, is asked just before COMMIT; False
    rolls everything back and raises Declined. A stored sample that the file gives with other
    content raises SampleConflict, or with ``replace`` is replaced with its derived rows.
    Returns, per table, the rows in the file and how many were new (``replaced``: samples
    replaced).
    """
    with transaction(con):
        _check_problems(con, problems)
        replaced = _replace_changed(con, _changed(con, samples, scores, embeddings), replace)
        before = _counts(con)
        # float vectors barely compress (same file size measured), and compressing them was
        # half the import time of a 200k-sample file: write them as they are
        con.execute("SET force_compression = 'uncompressed'")
        try:
            _insert_new(con, "embeddings", embeddings)
        finally:
            con.execute("RESET force_compression")
        insert(con, "runs", _run_table(run_id, source, config, version, model))
        _insert_new(con, "problems", problems)
        _insert_new(con, "samples", samples)
        _insert_new(con, "scores", scores)
        after = _counts(con)
        if verify is not None and not verify():
            raise Declined("the file failed the final check")
    out = {t: {"rows": sizes[t], "new": after[t] - before[t]} for t in COUNTED}
    out["samples"]["replaced"] = replaced
    return out


def ingest(
    con: duckdb.DuckDBPyConnection,
    *,
    problems: pa.Table,
    samples: pa.Table,
    scores: pa.Table,
    embeddings: pa.Table,
    run_id: str,
    source: str,
    config: dict[str, Any],
    version: str,
    model: str | None = None,
    replace: bool = False,
    lines: list[int] | None = None,
) -> dict[str, dict[str, int]]:
    """Store one parsed file's Arrow tables in one transaction, skipping rows already present.

    ``scores`` and ``embeddings`` refer to samples by ``row`` (row number in ``samples``);
    ``lines`` (one per sample row) lets a SampleConflict name the file line.
    Returns, per table, the rows in the file and how many were new.
    """
    ids = pool_sample_ids(
        run_id,
        samples.column("problem_id").to_pylist(),
        samples.column("temperature").to_numpy(),
        samples.column("idx").to_numpy(),
    )
    tables = {
        "problems": problems,
        "samples": samples.append_column("sample_id", pa.array(ids)).append_column(
            "run_id", pa.array([run_id] * samples.num_rows, pa.string())
        ),
        "scores": pa.table(
            {
                "sample_id": pa.array(ids[scores.column("row").to_numpy()], pa.int64()),
                "scorer": scores.column("scorer"),
                "value": scores.column("value"),
            }
        ),
        "embeddings": pa.table(
            {
                "sample_id": pa.array(ids[embeddings.column("row").to_numpy()], pa.int64()),
                "embedder": embeddings.column("embedder"),
                "vec": embeddings.column("vec"),
            }
        ),
    }
    names = {t: f"_divtui_ingest_{t}" for t in tables}
    for t, data in tables.items():
        con.register(names[t], data)
    try:
        return ingest_relations(
            con,
            problems=f"SELECT * FROM {names['problems']}",
            samples=f"SELECT * FROM {names['samples']}",
            scores=f"SELECT * FROM {names['scores']}",
            embeddings=f"SELECT * FROM {names['embeddings']}",
            sizes={"runs": 1, **{t: data.num_rows for t, data in tables.items()}},
            run_id=run_id,
            source=source,
            config=config,
            version=version,
            model=model,
            replace=replace,
        )
    except SampleConflict as e:
        if lines is not None:
            e.line = lines[int(np.flatnonzero(ids == e.sample_id)[0])]
        raise
    finally:
        for name in names.values():
            unregister(con, name)
