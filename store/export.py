"""Exporting samples with their problem's gold answer and every scorer, as Parquet, CSV or JSONL."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .catalog import embedder_names, scorer_names

FORMATS = ("parquet", "csv", "jsonl")

BASE = """
SELECT s.sample_id, s.run_id, s.problem_id, p.dataset, p.question, p.gold_answer, p.level,
       p.subject, s.temperature, s.idx AS sample_idx, s.text, s.n_tokens, s.sum_logprob,
       s.mean_logprob, s.finish_reason, s.answer, s.correct, s.answer_class, s.source_answer,
       s.source_correct{extra}
FROM samples s JOIN problems p USING (problem_id)
WHERE $run IS NULL OR s.run_id = $run
ORDER BY s.run_id, s.problem_id, s.temperature, s.idx
"""


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def export_query(
    con: duckdb.DuckDBPyConnection, fmt: str, *, run_id: str | None, embeddings: bool
) -> str:
    """The SELECT that produces the export rows for ``fmt``.

    Parquet and CSV get one column ``score:<name>`` per scorer (and ``embedding:<name>`` per
    embedder for Parquet with ``embeddings``); JSONL gets the native import format's ``scores``
    and ``embeddings`` objects, so an exported file imports back with ``--format jsonl``.
    """
    if fmt == "jsonl":
        extra = (
            ",\n (SELECT json_group_object(scorer, value) FROM scores c "
            "WHERE c.sample_id = s.sample_id) AS scores"
        )
        if embeddings:
            extra += (
                ",\n (SELECT json_group_object(embedder, vec) FROM embeddings e "
                "WHERE e.sample_id = s.sample_id) AS embeddings"
            )
        return BASE.format(extra=extra)
    scorers = scorer_names(con)
    extra = "".join(
        f",\n (SELECT value FROM scores c WHERE c.sample_id = s.sample_id AND c.scorer = "
        f"{_literal(n)}) AS {_ident('score:' + n)}"
        for n in scorers
    )
    if embeddings and fmt == "parquet":
        names = embedder_names(con)
        extra += "".join(
            f",\n (SELECT vec FROM embeddings e WHERE e.sample_id = s.sample_id AND e.embedder = "
            f"{_literal(n)}) AS {_ident('embedding:' + n)}"
            for n in names
        )
    return BASE.format(extra=extra)


def export_samples(
    con: duckdb.DuckDBPyConnection,
    out: Path | str,
    fmt: str,
    *,
    run_id: str | None = None,
    embeddings: bool = False,
) -> int:
    """Write the samples of ``run_id`` (all runs when None) to ``out``; returns the row count.

    A regular file is written beside its target and renamed into place, so an interrupted export
    leaves the old file whole; a device or FIFO (``/dev/stdout``) is written to directly, never
    replaced by a file."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    query = export_query(con, fmt, run_id=run_id, embeddings=embeddings)
    option = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER", "jsonl": "FORMAT json"}[fmt]
    target = Path(out)
    if target.exists() and not target.is_file():
        con.execute(f"COPY ({query}) TO {_literal(str(target))} ({option})", {"run": run_id})
    else:
        tmp = Path(f"{out}.partial")
        con.execute(f"COPY ({query}) TO {_literal(str(tmp))} ({option})", {"run": run_id})
        tmp.replace(target)
    n = con.execute(
        "SELECT count(*) FROM samples WHERE $run IS NULL OR run_id = $run", {"run": run_id}
    ).fetchall()
    return int(n[0][0])
