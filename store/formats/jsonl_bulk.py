"""The native jsonl fast path, inside DuckDB: read once into a temp table, check, insert by SELECT.

``stage`` reads the whole file with ``read_json`` into a TEMP table on the target connection
(scalar fields as raw JSON so no lenient cast slips through, scores as ``MAP(VARCHAR, JSON)``,
embeddings converted once to ``MAP(VARCHAR, FLOAT[])``), checks every per-line rule with one
aggregate query, checks duplicates and conflicting problems with GROUP BY, computes sample ids
(Python hashes only the three short key columns) and returns SQL relations that
``store.ingest.ingest_relations`` inserts with ``INSERT ... SELECT``: the big columns never leave
DuckDB. At the first doubt it returns None and the line-by-line validator (the authority) runs,
giving either the same rows or the exact ``FILE:LINE: field`` error.

The checks err on the side of doubt: a numeric gold answer, level or answer, a problem id with
no ASCII letter or digit, a line over 16 MB or any read error sends the file line by line (same
rows, slower). Known difference: inside embedding vectors ``read_json`` turns numeric strings
and booleans into numbers, where the line-by-line validator rejects them.

One set of JSON rules for both paths. DuckDB's parser (yyjson) is lenient where Python's is
strict: it takes trailing commas, NaN/Infinity literals, duplicate keys it does not read and any
depth of nesting, and it ignores unknown keys unseen. So the fast path only counts for a file
whose every line ``SyntaxCheck`` (msgspec, strict RFC 8259, in a thread beside DuckDB's read)
finds to be one strict JSON object holding only the documented keys; any other file is decided
by the line-by-line validator. The file is read through a symlink with a plain name in a
private temp folder, so ``read_json`` never expands ``[ ] * ?`` or ``~`` in the user's file
name (``run[1].jsonl`` is that file and no other).
"""

from __future__ import annotations

import mmap
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import msgspec
import numpy as np
import pyarrow as pa

from ..ingest import pool_sample_ids
from ..write import unregister
from .records import ImportOptions

RAW = "_divtui_jsonl_raw"
TEMPS = "_divtui_jsonl_temps"
KEYS = "_divtui_jsonl_keys"
IDS = "_divtui_jsonl_ids"
ARROW = "_divtui_jsonl_arrow"
TEMP_TABLES = (RAW, TEMPS, KEYS, IDS)

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
BOOL_FIELDS = ("correct", "source_correct")
REQUIRED = ("problem_id", "question", "gold_answer", "temperature", "text")
NUMBER_TYPES = "('DOUBLE', 'BIGINT', 'UBIGINT')"
INT_TYPES = "('BIGINT', 'UBIGINT')"


@dataclass(frozen=True)
class Staged:
    """A checked file held in temp tables: SQL for each table's new rows, and their counts."""

    problems: str
    samples: str
    scores: str
    embeddings: str
    sizes: dict[str, int]


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


BOM = b"\xef\xbb\xbf"
CHUNK = 4 << 20


def _line_type() -> type[msgspec.Struct]:
    """A msgspec Struct of the documented keys, each kept raw: decoding it checks syntax only."""
    fields = [
        (n, msgspec.Raw, None)
        for n in (*STRING_FIELDS, *NUMBER_FIELDS, *INT_FIELDS, *BOOL_FIELDS, "scores", "embeddings")
    ]
    return msgspec.defstruct("NativeLine", fields, forbid_unknown_fields=True)


class SyntaxCheck:
    """Whether every line of a file is one strict JSON object of documented keys only.

    Runs msgspec's strict decoder over the file in chunks of whole lines in a background
    thread (DuckDB releases the GIL while it reads, so the two overlap); ``passed()`` waits for
    the answer, ``stop()`` abandons it. A UTF-8 BOM at the very start is skipped, as both paths do.
    """

    def __init__(self, path: Path) -> None:
        """Start checking ``path``."""
        self._ok = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        """The check itself (any failure leaves ``_ok`` False)."""
        decoder = msgspec.json.Decoder(_line_type())
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if not size:
                    return
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    pos = len(BOM) if mm[: len(BOM)] == BOM else 0
                    while pos < size:
                        if self._stop.is_set():
                            return
                        end = mm.find(b"\n", min(pos + CHUNK, size))
                        end = size if end < 0 else end + 1
                        decoder.decode_lines(mm[pos:end])
                        pos = end
        except (OSError, ValueError, msgspec.DecodeError):
            return
        self._ok = True

    def passed(self) -> bool:
        """Wait for the check; True when every line is strict JSON with documented keys only."""
        self._thread.join()
        return self._ok

    def stop(self) -> None:
        """Abandon the check (the thread ends at its next chunk)."""
        self._stop.set()


def plain_link(path: Path) -> tuple[Path, Path] | None:
    """A symlink with a plain name to ``path`` in a new private temp folder: (folder, link).

    DuckDB globs ``[ ] * ?`` and expands ``~`` in the names it is given; the link's name holds
    none of them. None when the temp folder's own path would need quoting.
    """
    folder = Path(tempfile.mkdtemp(prefix="divtui-import-"))
    if any(c in str(folder) for c in "[]*?{}~\\'\""):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    link = folder / "input.jsonl"
    os.symlink(os.path.realpath(path), link)
    return folder, link


def read_sql(path: Path) -> str:
    """The read_json call: scalars as raw JSON, scores as JSON values, embeddings as FLOAT[].

    The default maximum_object_size (16 MB) keeps read buffers small so both threads parse;
    1 GB made the read 2x slower. A longer line fails here and goes to the line-by-line path.
    """
    cols = {n: "JSON" for n in (*STRING_FIELDS, *NUMBER_FIELDS, *INT_FIELDS, *BOOL_FIELDS)}
    cols["scores"] = "MAP(VARCHAR, JSON)"
    cols["embeddings"] = "MAP(VARCHAR, FLOAT[])"
    spec = ", ".join(f"{k}: '{v}'" for k, v in cols.items())
    return (
        f"SELECT * FROM read_json({quote(str(path))}, format='newline_delimited', "
        f"compression='none', columns={{{spec}}})"
    )


def _is_null(n: str) -> str:
    """SQL: the raw JSON field ``n`` is absent or JSON null."""
    return f"({n} IS NULL OR {n}::VARCHAR = 'null')"


def row_rules() -> list[str]:
    """One SQL condition per rule of the line-by-line validator, over the raw JSON columns.

    A JSON column holds the value's minified JSON text, so a string is exactly a value that
    starts with a double quote and a boolean is the text true or false: plain text tests,
    much cheaper than json_type on long texts.
    """
    rules = [f"NOT {_is_null(n)}" for n in REQUIRED]
    rules.append("regexp_matches(problem_id ->> '$', '[0-9A-Za-z]')")
    for n in STRING_FIELDS:
        rules.append(f"({_is_null(n)} OR starts_with({n}::VARCHAR, '\"'))")
    for n in NUMBER_FIELDS:
        rules.append(
            f"({_is_null(n)} OR (json_type({n}) IN {NUMBER_TYPES} AND isfinite({n}::DOUBLE)))"
        )
    rules.append("temperature::DOUBLE >= 0")
    for n in INT_FIELDS:
        rules.append(
            f"({_is_null(n)} OR (json_type({n}) IN {INT_TYPES} "
            f"AND {n}::HUGEINT BETWEEN 0 AND 2147483647))"
        )
    for n in BOOL_FIELDS:
        rules.append(f"({n} IS NULL OR {n}::VARCHAR IN ('true', 'false', 'null'))")
    rules.append(
        "(scores IS NULL OR list_bool_and(list_transform(map_values(scores), "
        f"lambda v: coalesce(json_type(v) IN {NUMBER_TYPES} AND isfinite(v::DOUBLE), false))))"
    )
    return rules


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The single count ``sql`` returns."""
    return int(con.execute(sql).fetchall()[0][0])


def _check_rows(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, int], int] | None:
    """Every per-line rule in aggregate queries: None if one fails, else the row counts and
    the number of samples without a ``sample_idx``.

    Embeddings are checked over their unnested vectors and floats: no empty vector, no null
    element, and min and max finite (NaN sorts above infinity, so it makes max non-finite).
    """
    n, ok, n_scores, no_idx = con.execute(
        f"SELECT count(*), coalesce(bool_and({' AND '.join(row_rules())}), false), "
        f"coalesce(sum(cardinality(scores)), 0), count(*) FILTER ({_is_null('sample_idx')}) "
        f"FROM {RAW}"
    ).fetchall()[0]
    if not n or not ok:
        return None
    vecs = f"SELECT unnest(map_values(embeddings)) AS v FROM {RAW}"
    n_emb, n_vecs, shortest = con.execute(
        f"SELECT count(*), count(v), coalesce(min(len(v)), 1) FROM ({vecs})"
    ).fetchall()[0]
    floats_ok = con.execute(
        "SELECT count(x) = count(*) AND coalesce(isfinite(min(x)) AND isfinite(max(x)), true) "
        f"FROM (SELECT unnest(v) AS x FROM ({vecs}))"
    ).fetchall()[0][0]
    if not shortest or not floats_ok or n_vecs != n_emb:
        return None
    return {"samples": n, "scores": n_scores, "embeddings": n_emb}, no_idx


def _pool_keys(con: duckdb.DuckDBPyConnection, implicit: bool) -> bool:
    """Build the keys table (row, problem, temperature, pool temperature, idx); False on a clash.

    The pool temperature is Python's ``round(t, 6)``, mapped over the few distinct temperatures,
    so pools group exactly as in the line-by-line builder. An absent ``sample_idx`` is the
    sample's position within its pool in file order (the window runs only when ``implicit``).
    """
    rows = con.execute(f"SELECT DISTINCT temperature::DOUBLE FROM {RAW}").fetchall()
    pools = {t: round(t, 6) for (t,) in rows}  # a dict, so -0.0 and 0.0 stay one row
    table = pa.table(
        {
            "temperature": pa.array(list(pools), pa.float64()),
            "t6": pa.array(list(pools.values()), pa.float64()),
        }
    )
    con.register(ARROW, table)
    try:
        con.execute(f"CREATE TEMP TABLE {TEMPS} AS SELECT * FROM {ARROW}")
    finally:
        unregister(con, ARROW)
    position = "row_number() OVER (PARTITION BY r.problem_id ->> '$', t.t6 ORDER BY r.rowid) - 1"
    idx = f"coalesce(r.sample_idx::BIGINT, {position})" if implicit else "r.sample_idx::BIGINT"
    con.execute(
        f"CREATE TEMP TABLE {KEYS} AS SELECT r.rowid AS row, r.problem_id ->> '$' AS problem_id, "
        f"r.temperature::DOUBLE AS temperature, t.t6, {idx} AS idx "
        f"FROM {RAW} r JOIN {TEMPS} t ON r.temperature::DOUBLE = t.temperature"
    )
    clashes = _count(
        con,
        f"SELECT count(*) FROM (SELECT 1 FROM {KEYS} GROUP BY problem_id, t6, idx "
        "HAVING count(*) > 1)",
    )
    return clashes == 0


def _conflicting_problems(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether one problem id comes with two questions or two gold answers in the file."""
    return bool(
        _count(
            con,
            f"SELECT count(*) FROM (SELECT 1 FROM {RAW} GROUP BY problem_id ->> '$' "
            "HAVING count(DISTINCT question ->> '$') > 1 "
            "OR count(DISTINCT gold_answer ->> '$') > 1)",
        )
    )


def _assign_ids(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Hash every sample's key into ``store.sample_id`` and keep (row, ..., sample_id) in IDS."""
    keys = con.execute(f"SELECT row, problem_id, temperature, idx FROM {KEYS}")
    cols = keys.fetchnumpy()
    ids = pool_sample_ids(
        run_id, cols["problem_id"].tolist(), np.asarray(cols["temperature"]), cols["idx"]
    )
    con.register(ARROW, pa.table({"row": pa.array(cols["row"]), "sample_id": pa.array(ids)}))
    try:
        con.execute(
            f"CREATE TEMP TABLE {IDS} AS SELECT k.row, k.problem_id, k.temperature, "
            f"k.idx, a.sample_id FROM {KEYS} k JOIN {ARROW} a USING (row)"
        )
    finally:
        unregister(con, ARROW)


def _relations(run_id: str, dataset: str | None) -> tuple[str, str, str, str]:
    """SELECTs of the problems, samples, scores and embeddings rows the staged file holds."""
    default = quote(dataset) if dataset else "NULL"
    joined = f"{RAW} r JOIN {IDS} i ON i.row = r.rowid"
    problems = (
        "SELECT problem_id ->> '$' AS problem_id, "
        f"coalesce(nullif(first(dataset ->> '$' ORDER BY rowid), ''), {default}) AS dataset, "
        "first(question ->> '$' ORDER BY rowid) AS question, "
        "first(gold_answer ->> '$' ORDER BY rowid) AS gold_answer, "
        "first(level ->> '$' ORDER BY rowid) AS level, "
        "first(subject ->> '$' ORDER BY rowid) AS subject, NULL::JSON AS meta "
        f"FROM {RAW} GROUP BY problem_id ->> '$'"
    )
    samples = (
        f"SELECT i.sample_id, {quote(run_id)} AS run_id, i.problem_id, i.temperature, "
        "i.idx::INTEGER AS idx, r.text ->> '$' AS text, r.n_tokens::INTEGER AS n_tokens, "
        "r.sum_logprob::DOUBLE AS sum_logprob, r.mean_logprob::DOUBLE AS mean_logprob, "
        "r.finish_reason ->> '$' AS finish_reason, "
        "coalesce(r.source_answer ->> '$', r.answer ->> '$') AS source_answer, "
        "coalesce(r.source_correct::BOOLEAN, r.correct::BOOLEAN) AS source_correct "
        f"FROM {joined}"
    )
    scores = (
        "SELECT sample_id, e.key AS scorer, e.value::DOUBLE AS value FROM "
        f"(SELECT i.sample_id, unnest(map_entries(r.scores)) AS e FROM {joined} "
        "WHERE r.scores IS NOT NULL)"
    )
    embeddings = (
        "SELECT sample_id, e.key AS embedder, e.value AS vec FROM "
        f"(SELECT i.sample_id, unnest(map_entries(r.embeddings)) AS e FROM {joined} "
        "WHERE r.embeddings IS NOT NULL)"
    )
    return problems, samples, scores, embeddings


def drop(con: duckdb.DuckDBPyConnection) -> None:
    """Remove the temp tables ``stage`` made (also after a failure half way)."""
    for name in TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def stage(con: duckdb.DuckDBPyConnection, path: Path, opts: ImportOptions) -> Staged | None:
    """Read and check ``path`` into temp tables on ``con``; None whenever anything is in doubt.

    The caller inserts the returned relations and then calls ``drop``.
    """
    drop(con)
    linked = plain_link(path)
    if linked is None:
        return None
    try:
        try:
            con.execute(f"CREATE TEMP TABLE {RAW} AS {read_sql(linked[1])}")
        finally:
            shutil.rmtree(linked[0], ignore_errors=True)
        checked = _check_rows(con)
        if checked is None or _conflicting_problems(con) or not _pool_keys(con, checked[1] > 0):
            return None
        _assign_ids(con, opts.run_id)
        n_problems = _count(con, f"SELECT count(DISTINCT problem_id ->> '$') FROM {RAW}")
    except (duckdb.Error, UnicodeDecodeError):
        # DuckDB's message quotes the bad line, cut mid-character it fails to decode.
        return None
    problems, samples, scores, embeddings = _relations(opts.run_id, opts.dataset)
    return Staged(
        problems=problems,
        samples=samples,
        scores=scores,
        embeddings=embeddings,
        sizes={"runs": 1, "problems": n_problems, **checked[0]},
    )
