"""The jobs table (remote reruns), a job's inputs and the idempotent ingest of its Parquet results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from .db import transaction
from .draws import delete_draws
from .vocabulary import INGESTED, LOCAL_TERMINAL
from .write import _register, insert, unregister

RESULT_TABLES = (
    "problems",
    "runs",
    "samples",
    "scores",
    "embeddings",
    "draws",
    "draw_metrics",
    "draw_outcomes",
    "draw_sets",
)
REPLACE_BY_KEY = ("draw_sets",)
REPLACE_BY_DRAW = ("draw_metrics", "draw_outcomes")
GRADE_COLUMNS = ("answer", "correct", "answer_class")
JOB_COLUMNS = ("job_id", "kind", "host", "status", "spec", "created_at", "updated_at", "log")


class IngestError(ValueError):
    """A result file that does not fit the schema; ``str()`` is one line naming the file."""


def record_job(
    con: duckdb.DuckDBPyConnection,
    *,
    job_id: str,
    kind: str,
    host: str,
    status: str,
    spec: dict[str, Any],
    remote: dict[str, Any],
) -> None:
    """Insert a job row; ``spec`` column holds ``{"spec": the job spec, "remote": where it runs}``."""
    import pandas as pd

    row = {
        "job_id": [job_id],
        "kind": [kind],
        "host": [host],
        "status": [status],
        "spec": [json.dumps({"spec": spec, "remote": remote}, ensure_ascii=False)],
    }
    insert(con, "jobs", pd.DataFrame(row), on_conflict="ignore")


def set_job_status(
    con: duckdb.DuckDBPyConnection, job_id: str, status: str, log: str | None = None
) -> None:
    """Set a job's status (and its log tail, when given) and touch updated_at."""
    if log is None:
        con.execute(
            "UPDATE jobs SET status = ?, updated_at = current_timestamp WHERE job_id = ?",
            [status, job_id],
        )
    else:
        con.execute(
            "UPDATE jobs SET status = ?, log = ?, updated_at = current_timestamp WHERE job_id = ?",
            [status, log, job_id],
        )


def _job_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    """A jobs row as a dict, with the spec column parsed."""
    d = dict(zip(JOB_COLUMNS, row, strict=True))
    d["spec"] = json.loads(d["spec"]) if d["spec"] else {}
    return d


def get_job(con: duckdb.DuckDBPyConnection, job_id: str) -> dict[str, Any] | None:
    """One job, or None."""
    cols = ", ".join(JOB_COLUMNS)
    rows = con.execute(f"SELECT {cols} FROM jobs WHERE job_id = ?", [job_id]).fetchall()
    return _job_dict(rows[0]) if rows else None


def list_jobs(con: duckdb.DuckDBPyConnection, limit: int = 100) -> list[dict[str, Any]]:
    """The most recent jobs first."""
    cols = ", ".join(JOB_COLUMNS)
    rows = con.execute(
        f"SELECT {cols} FROM jobs ORDER BY created_at DESC, job_id DESC LIMIT ?", [limit]
    ).fetchall()
    return [_job_dict(r) for r in rows]


def problems_by_id(con: duckdb.DuckDBPyConnection, problem_ids: list[str]) -> list[dict[str, Any]]:
    """The problems rows named (in the order given); ids not stored are left out."""
    cols = ["problem_id", "question", "gold_answer", "dataset", "level", "subject"]
    rows = con.execute(
        f"SELECT {', '.join(cols)} FROM problems WHERE list_contains(?, problem_id)",
        [list(problem_ids)],
    ).fetchall()
    found = {r[0]: dict(zip(cols, r, strict=True)) for r in rows}
    return [found[p] for p in problem_ids if p in found]


def export_samples(
    con: duckdb.DuckDBPyConnection, folder: Path, problem_ids: list[str], run_id: str | None = None
) -> dict[str, int]:
    """Write the runs and samples of ``problem_ids`` (optionally one run) as Parquet inputs."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    where = "list_contains(?, problem_id)" + (" AND run_id = ?" if run_id else "")
    params: list[Any] = [list(problem_ids)] + ([run_id] if run_id else [])
    samples = con.sql(f"SELECT * FROM samples WHERE {where}", params=params).to_arrow_table()
    runs = con.sql(
        f"SELECT * FROM runs WHERE run_id IN (SELECT run_id FROM samples WHERE {where})",
        params=params,
    ).to_arrow_table()
    pq.write_table(samples, folder / "samples.parquet")
    pq.write_table(runs, folder / "runs.parquet")
    return {"samples": samples.num_rows, "runs": runs.num_rows}


def export_inputs(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    problem_ids: list[str],
    run_id: str | None = None,
    *,
    lacking_scorer: str | None = None,
    scorers: list[str] | None = None,
    embedders: list[str] | None = None,
    side_tables: bool = False,
) -> dict[str, int]:
    """Write runs and samples of ``problem_ids`` (and, with ``side_tables``, their scores and
    embeddings) as Parquet inputs of a job; returns rows per table.

    ``lacking_scorer`` keeps only samples that scorer has not scored; ``scorers`` and
    ``embedders`` restrict the side tables to those names (None: every name).
    """
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    where = "list_contains(?, problem_id)" + (" AND run_id = ?" if run_id else "")
    params: list[Any] = [list(problem_ids)] + ([run_id] if run_id else [])
    if lacking_scorer is not None:
        where += " AND sample_id NOT IN (SELECT sample_id FROM scores WHERE scorer = ?)"
        params.append(lacking_scorer)
    ids = f"SELECT sample_id FROM samples WHERE {where}"
    queries = {
        "samples": (f"SELECT * FROM samples WHERE {where}", params),
        "runs": (
            f"SELECT * FROM runs WHERE run_id IN (SELECT run_id FROM samples WHERE {where})",
            params,
        ),
    }
    if side_tables:
        for table, col, names in (
            ("scores", "scorer", scorers),
            ("embeddings", "embedder", embedders),
        ):
            name_filter = "" if names is None else f" AND list_contains(?, {col})"
            extra = [] if names is None else [list(names)]
            queries[table] = (
                f"SELECT * FROM {table} WHERE sample_id IN ({ids}){name_filter}",
                params + extra,
            )
    counts = {}
    for table, (sql, args) in queries.items():
        data = con.sql(sql, params=args).to_arrow_table()
        pq.write_table(data, folder / f"{table}.parquet")
        counts[table] = data.num_rows
    return counts


def names_in(con: duckdb.DuckDBPyConnection, table: str, problem_ids: list[str]) -> list[str]:
    """Scorer (``scores``) or embedder (``embeddings``) names present on samples of the problems."""
    col = {"scores": "scorer", "embeddings": "embedder"}[table]
    rows = con.execute(
        f"SELECT DISTINCT t.{col} FROM {table} t JOIN samples s USING (sample_id) "
        f"WHERE list_contains(?, s.problem_id) ORDER BY 1",
        [list(problem_ids)],
    ).fetchall()
    return [r[0] for r in rows]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The column names of a table."""
    return {d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description}


def _read(con: duckdb.DuckDBPyConnection, path: Path) -> Any:
    """A result file as an Arrow table, checked against its table's columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = path.name.removesuffix(".parquet")
    try:
        data = pq.read_table(path) if path.is_file() else _read_parts(path)
    except (OSError, pa.ArrowException) as e:
        raise IngestError(f"{path}: not a readable Parquet file: {e}") from None
    extra = set(data.column_names) - _columns(con, table)
    if extra:
        raise IngestError(f"{path}: column {sorted(extra)[0]} is not in table {table}")
    return data


def _read_parts(folder: Path) -> Any:
    """The Parquet parts of a table folder as one Arrow table (name order; none is an error)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("."))
    if not parts:
        raise OSError("the folder holds no .parquet parts")
    return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="default")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows in a table."""
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _update_grades(con: duckdb.DuckDBPyConnection, data: Any) -> int:
    """Copy graded columns from ``data`` onto stored samples whose grades differ; returns count."""
    cols = [c for c in GRADE_COLUMNS if c in data.column_names]
    if "correct" not in cols:
        return 0
    name = _register(con, data.select(["sample_id", *cols]))
    try:
        sets = ", ".join(f"{c} = f.{c}" for c in cols)
        differs = " OR ".join(f"samples.{c} IS DISTINCT FROM f.{c}" for c in cols)
        cur = con.execute(
            f"UPDATE samples SET {sets} FROM {name} f WHERE samples.sample_id = f.sample_id "
            f"AND f.correct IS NOT NULL AND ({differs})"
        )
        return int(cur.fetchall()[0][0])
    finally:
        unregister(con, name)


def _drop_changed_draws(con: duckdb.DuckDBPyConnection, data: Any) -> None:
    """Delete the stored draws (and their metric, outcome and pruning rows) that ``data``
    gives other members; the file's rows take their place."""
    name = _register(con, data.select(["draw_id", "sample_ids"]))
    try:
        delete_draws(
            con,
            f"SELECT n.draw_id FROM {name} n JOIN draws d USING (draw_id) "
            "WHERE d.sample_ids <> n.sample_ids",
        )
    finally:
        unregister(con, name)


def ingest_job_results(
    con: duckdb.DuckDBPyConnection, folder: Path, job_id: str | None = None
) -> dict[str, int]:
    """Ingest ``folder/<table>.parquet`` in one transaction, idempotently; returns new rows.

    Keyed tables are inserted with INSERT OR IGNORE (samples also take the grade columns of
    graded rows); draw_metrics and draw_outcomes rows of the file's draws replace stored ones,
    so for them the count is the net change (0 when the same rows come again). A stored draw
    whose members differ from the file's (its pool changed since) is replaced, with its
    metric, outcome and pruning rows.
    When ``job_id`` is given its status becomes ``ingested`` in the same transaction.
    """
    folder = Path(folder)
    known = {f"{t}.parquet" for t in RESULT_TABLES}
    strange = sorted(p.name for p in folder.glob("*.parquet") if p.name not in known)
    if strange:
        raise IngestError(f"{folder / strange[0]}: not a divtui result table")
    files = {
        t: folder / f"{t}.parquet" for t in RESULT_TABLES if (folder / f"{t}.parquet").exists()
    }
    for t in RESULT_TABLES:  # a table may also come as a folder of Parquet parts (Ray Data)
        if t not in files and (folder / t).is_dir():
            files[t] = folder / t
    datas = {t: _read(con, p) for t, p in files.items()}
    added: dict[str, int] = {}
    with transaction(con):
        for table, data in datas.items():
            before = _count(con, table)
            if table in REPLACE_BY_DRAW:
                name = _register(con, data.select(["draw_id"]))
                try:
                    con.execute(
                        f"DELETE FROM {table} WHERE draw_id IN (SELECT draw_id FROM {name})"
                    )
                finally:
                    unregister(con, name)
                name = _register(con, data)
                try:
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
                finally:
                    unregister(con, name)
            else:
                if table == "draws":
                    _drop_changed_draws(con, data)
                mode = "replace" if table in REPLACE_BY_KEY else "ignore"
                insert(con, table, data, on_conflict=mode)
            added[table] = _count(con, table) - before
            if table == "samples":
                added["samples_regraded"] = _update_grades(con, data)
        if job_id is not None:
            set_job_status(con, job_id, INGESTED)
    return added


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
