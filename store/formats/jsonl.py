"""The native `jsonl` format: one JSON object per sample, with a vectorised DuckDB fast path.

The fast path reads the whole file with DuckDB's ``read_json`` (every field as raw JSON so no
lenient casting slips through), checks types, finiteness, missing fields and duplicates with
vectorised SQL and pandas, and gives up on the first doubt. The line-by-line validator then
runs and is the authority: it either gives the same result or the exact ``FILE:LINE: field``
error.

One known difference: inside embedding vectors the bulk reader converts numeric strings and
booleans to numbers, where the line-by-line validator rejects them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from .records import (
    EMBEDDING_SCHEMA,
    PROBLEM_SCHEMA,
    SAMPLE_SCHEMA,
    SCORE_SCHEMA,
    FieldError,
    ImportOptions,
    LineRecord,
    Parsed,
    ProblemRecord,
    SampleRecord,
    as_bool,
    as_float,
    as_int,
    as_object,
    as_str,
    as_text,
    as_vector,
    opt,
    parse_lines,
    req,
)


def _first(obj: dict[str, Any], names: tuple[str, ...], conv: Any) -> Any:
    """The first of ``names`` present and not null, converted (source_* wins over the short name)."""
    for name in names:
        if obj.get(name) is not None:
            return conv(obj[name], name)
    return None


def parse_line(obj: dict[str, Any], line: int, opts: ImportOptions) -> LineRecord:
    """Validate one native record."""
    temperature = as_float(req(obj, "temperature"), "temperature")
    if temperature < 0:
        raise FieldError("temperature", f"must be >= 0, got {temperature:g}")
    scores = {
        as_str(k, "scores"): as_float(v, f"scores.{k}")
        for k, v in (opt(obj, "scores", as_object) or {}).items()
    }
    embeddings = {
        k: as_vector(v, f"embeddings.{k}")
        for k, v in (opt(obj, "embeddings", as_object) or {}).items()
    }
    problem = ProblemRecord(
        problem_id=as_str(req(obj, "problem_id"), "problem_id", nonempty=True),
        question=as_str(req(obj, "question"), "question"),
        gold_answer=as_text(req(obj, "gold_answer"), "gold_answer"),
        dataset=opt(obj, "dataset", as_str) or opts.dataset,
        level=opt(obj, "level", as_text),
        subject=opt(obj, "subject", as_str),
    )
    sample = SampleRecord(
        temperature=temperature,
        text=as_str(req(obj, "text"), "text"),
        idx=opt(obj, "sample_idx", as_int),
        n_tokens=opt(obj, "n_tokens", as_int),
        sum_logprob=opt(obj, "sum_logprob", as_float),
        mean_logprob=opt(obj, "mean_logprob", as_float),
        finish_reason=opt(obj, "finish_reason", as_str),
        source_answer=_first(obj, ("source_answer", "answer"), as_text),
        source_correct=_first(obj, ("source_correct", "correct"), as_bool),
        scores=scores,
        embeddings=embeddings,
    )
    return LineRecord(problem, [sample])


STRING_FIELDS = (
    "problem_id",
    "question",
    "gold_answer",
    "text",
    "dataset",
    "level",
    "subject",
    "finish_reason",
    "answer",
    "source_answer",
)
NUMBER_FIELDS = ("temperature", "sum_logprob", "mean_logprob")
INT_FIELDS = ("sample_idx", "n_tokens")
REQUIRED = ("problem_id", "question", "gold_answer", "temperature", "text")
NUMBER_TYPES = "('DOUBLE', 'BIGINT', 'UBIGINT')"
INT_TYPES = "('BIGINT', 'UBIGINT')"
# Characters that can appear in the JSON text of a list of plain numbers, besides digits.


def _read_sql(path: Path) -> str:
    """The read_json call that loads every field as raw JSON."""
    cols = {n: "JSON" for n in (*STRING_FIELDS, *NUMBER_FIELDS, *INT_FIELDS)}
    cols["correct"] = "JSON"
    cols["source_correct"] = "JSON"
    cols["scores"] = "MAP(VARCHAR, JSON)"
    cols["embeddings"] = "MAP(VARCHAR, FLOAT[])"
    spec = ", ".join(f"{k}: '{v}'" for k, v in cols.items())
    return (
        f"SELECT * FROM read_json({_quote(str(path))}, format='newline_delimited', "
        f"columns={{{spec}}}, maximum_object_size=1073741824)"
    )


def _quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _all(con: duckdb.DuckDBPyConnection, condition: str) -> bool:
    """Whether ``condition`` holds on every row of the raw table."""
    return bool(
        con.execute(f"SELECT coalesce(bool_and({condition}), false) FROM raw").fetchall()[0][0]
    )


def _fast_checks(con: duckdb.DuckDBPyConnection) -> bool:
    """Vectorised versions of every per-line check; False at the first doubt."""
    conds = [f"{n} IS NOT NULL AND json_type({n}) <> 'NULL'" for n in REQUIRED]
    conds.append("json_type(gold_answer) = 'VARCHAR'")
    conds.append("length(trim(problem_id ->> '$')) > 0")
    for n in STRING_FIELDS:
        conds.append(f"({n} IS NULL OR json_type({n}) IN ('VARCHAR', 'NULL'))")
    for n in NUMBER_FIELDS:
        conds.append(
            f"({n} IS NULL OR json_type({n}) = 'NULL' OR (json_type({n}) IN {NUMBER_TYPES} "
            f"AND isfinite({n}::DOUBLE)))"
        )
    conds.append("temperature::DOUBLE >= 0")
    for n in INT_FIELDS:
        conds.append(
            f"({n} IS NULL OR json_type({n}) = 'NULL' OR (json_type({n}) IN {INT_TYPES} "
            f"AND {n}::HUGEINT BETWEEN 0 AND 2147483647))"
        )
    for n in ("correct", "source_correct"):
        conds.append(f"({n} IS NULL OR json_type({n}) IN ('BOOLEAN', 'NULL'))")
    conds.append(
        "(scores IS NULL OR list_bool_and(list_transform(map_values(scores), "
        f"lambda v: json_type(v) IN {NUMBER_TYPES} AND isfinite(v::DOUBLE))))"
    )
    conds.append(
        "(embeddings IS NULL OR list_bool_and(list_transform(map_values(embeddings), "
        "lambda v: len(v) > 0 AND list_count(v) = len(v) AND isfinite(list_sum(v)))))"
    )
    return _all(con, " AND ".join(conds))


def _implicit_idx(problem_ids: pd.Series, temps: np.ndarray, given: pd.Series) -> np.ndarray:
    """sample_idx where given, else the order of appearance within the pool (as the builder)."""
    rounded = np.array([round(t, 6) for t in temps]) if len(temps) else temps
    order = (
        pd.DataFrame({"p": problem_ids, "t": rounded}).groupby(["p", "t"], sort=False).cumcount()
    )
    return np.where(given.isna(), order.to_numpy(), given.fillna(0).to_numpy()).astype(np.int64)


def _fast_path(path: Path, opts: ImportOptions) -> Parsed | None:
    """Parse ``path`` in bulk; None whenever anything needs the line-by-line validator."""
    con = duckdb.connect()
    try:
        return _bulk(con, path, opts)
    except duckdb.Error:
        return None
    finally:
        con.close()


def _bulk(con: duckdb.DuckDBPyConnection, path: Path, opts: ImportOptions) -> Parsed | None:
    """The body of the fast path on a private in-memory connection."""
    con.execute(f"CREATE TEMP TABLE raw AS {_read_sql(path)}")
    n = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    if n == 0 or not _fast_checks(con):
        return None
    con.execute(
        "CREATE TEMP TABLE s AS SELECT rowid AS row, problem_id ->> '$' AS problem_id, "
        "temperature::DOUBLE AS temperature, sample_idx::BIGINT AS given_idx, "
        "text ->> '$' AS text, n_tokens::BIGINT AS n_tokens, "
        "sum_logprob::DOUBLE AS sum_logprob, mean_logprob::DOUBLE AS mean_logprob, "
        "finish_reason ->> '$' AS finish_reason, "
        "coalesce(source_answer ->> '$', answer ->> '$') AS source_answer, "
        "coalesce(source_correct::BOOLEAN, correct::BOOLEAN) AS source_correct, question ->> '$' AS question, "
        "gold_answer ->> '$' AS gold_answer, dataset ->> '$' AS dataset, "
        "level ->> '$' AS level, subject ->> '$' AS subject FROM raw ORDER BY rowid"
    )
    conflicts = con.execute(
        "SELECT count(*) FROM (SELECT problem_id FROM s GROUP BY problem_id "
        "HAVING count(DISTINCT question) > 1 OR count(DISTINCT gold_answer) > 1)"
    ).fetchall()[0][0]
    if conflicts:
        return None
    keys = con.sql("SELECT problem_id, temperature, given_idx FROM s ORDER BY row").df()
    idx = _implicit_idx(keys["problem_id"], keys["temperature"].to_numpy(), keys["given_idx"])
    rounded = [round(t, 6) for t in keys["temperature"].tolist()]
    dup = pd.DataFrame({"p": keys["problem_id"], "t": rounded, "i": idx}).duplicated()
    if dup.any():
        return None
    samples = con.sql(
        "SELECT problem_id, temperature, text, n_tokens, sum_logprob, mean_logprob, "
        "finish_reason, source_answer, source_correct FROM s ORDER BY row"
    ).to_arrow_table()
    samples = samples.add_column(2, "idx", pa.array(idx, pa.int64())).select(SAMPLE_SCHEMA.names)
    dataset = _quote(opts.dataset) if opts.dataset else "NULL"
    problems = con.sql(
        f"SELECT problem_id, coalesce(first(dataset ORDER BY row), {dataset}) AS dataset, "
        "first(question ORDER BY row) AS question, first(gold_answer ORDER BY row) AS gold_answer, "
        "first(level ORDER BY row) AS level, first(subject ORDER BY row) AS subject, "
        "NULL::VARCHAR AS meta FROM s GROUP BY problem_id ORDER BY min(row)"
    ).to_arrow_table()
    scores = con.sql(
        "SELECT row, unnest(map_keys(scores)) AS scorer, "
        "unnest(map_values(scores))::DOUBLE AS value FROM (SELECT rowid AS row, scores "
        "FROM raw WHERE scores IS NOT NULL) ORDER BY row"
    ).to_arrow_table()
    embeddings = con.sql(
        "SELECT row, unnest(map_keys(embeddings)) AS embedder, "
        "unnest(map_values(embeddings)) AS vec FROM (SELECT rowid AS row, "
        "embeddings FROM raw WHERE embeddings IS NOT NULL) ORDER BY row"
    ).to_arrow_table()
    if not _vectors_finite(embeddings):
        return None
    return Parsed(
        problems=problems.cast(PROBLEM_SCHEMA),
        samples=samples.cast(SAMPLE_SCHEMA),
        scores=scores.cast(SCORE_SCHEMA),
        embeddings=embeddings.cast(EMBEDDING_SCHEMA),
    )


def _vectors_finite(embeddings: pa.Table) -> bool:
    """No NaN or infinity in any embedding after the cast (large numbers overflow float32)."""
    if embeddings.num_rows == 0:
        return True
    values = embeddings.column("vec").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return bool(np.isfinite(values).all())


def parse(path: Path, opts: ImportOptions) -> Parsed:
    """Parse a native jsonl file: bulk when clean, else line by line with exact errors."""
    if not opts.skip_bad:
        fast = _fast_path(path, opts)
        if fast is not None:
            fast.config["parser"] = "bulk"
            return fast
    parsed = parse_lines(path, parse_line, opts)
    parsed.config["parser"] = "line-by-line"
    return parsed
