"""Problems shared by several runs: the problems a file already holds, and whether an incoming
problem is the same one as the stored problem of that id.

Two sources of one dataset may write the same problem slightly differently: GSM8K's
``#### 1,450,000`` and OpenAI's ``A: 1,450,000`` are one gold answer whether or not a reader
drops the thousands separators, and a question may differ only in spacing. Such pairs are the
same problem (the stored text is kept); any other difference is a conflict.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

_THOUSANDS = re.compile(r"(?<=\d)(?:,|\{,\})(?=\d{3}(?!\d))")
_SPACE = re.compile(r"\s+")


def same_question(a: str | None, b: str | None) -> bool:
    """Equal after collapsing runs of whitespace and trimming."""
    if a is None or b is None:
        return a is b
    return _SPACE.sub(" ", a).strip() == _SPACE.sub(" ", b).strip()


def _gold_key(g: str) -> str:
    """A gold answer without spacing, surrounding ``$`` signs and thousands separators."""
    g = _SPACE.sub("", g).strip("$")
    return _THOUSANDS.sub("", g)


def same_gold(a: str | None, b: str | None) -> bool:
    """Equal, or equal after removing spacing, surrounding ``$`` and digit-group commas
    (``1,450,000`` and ``10{,}000`` read as 1450000 and 10000)."""
    if a is None or b is None:
        return a is b
    return a == b or _gold_key(a) == _gold_key(b)


def first_conflict(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[str, str] | None:
    """(problem_id, field) of the first problem of the SQL ``relation`` (problem_id, question,
    gold_answer) stored with another question or gold answer; None when all agree."""
    rows = con.execute(
        f"""
        SELECT n.problem_id, p.question, n.question, p.gold_answer, n.gold_answer
        FROM ({relation}) n JOIN problems p USING (problem_id)
        WHERE p.question IS DISTINCT FROM n.question OR p.gold_answer IS DISTINCT FROM n.gold_answer
        ORDER BY n.problem_id
        """
    ).fetchall()
    for pid, q_old, q_new, g_old, g_new in rows:
        if not same_question(q_old, q_new):
            return str(pid), "question"
        if not same_gold(g_old, g_new):
            return str(pid), "gold_answer"
    return None


def frame_conflict(con: duckdb.DuckDBPyConnection, frame: Any) -> tuple[str, str] | None:
    """:func:`first_conflict` of a DataFrame or Arrow table of problems."""
    name = "_divtui_incoming_problems"
    con.register(name, frame)
    try:
        return first_conflict(con, f"SELECT problem_id, question, gold_answer FROM {name}")
    finally:
        con.unregister(name)


def stored_problems(
    con: duckdb.DuckDBPyConnection, *, run_id: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The ``problems`` rows the file holds (those with samples of ``run_id`` when given), by id."""
    where, params = "TRUE", []
    if run_id is not None:
        where = "problem_id IN (SELECT DISTINCT problem_id FROM samples WHERE run_id = ?)"
        params.append(run_id)
    sql = f"""SELECT problem_id, dataset, question, gold_answer, level, subject, meta
              FROM problems WHERE {where} ORDER BY problem_id"""
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cols = ["problem_id", "dataset", "question", "gold_answer", "level", "subject", "meta"]
    return [dict(zip(cols, r, strict=True)) for r in con.execute(sql, params).fetchall()]


def problem_text(con: duckdb.DuckDBPyConnection, problem_id: str) -> dict[str, Any]:
    """A problem's question and gold answer ({} when it is not stored)."""
    rows = con.execute(
        "SELECT question, gold_answer FROM problems WHERE problem_id = ?", [problem_id]
    ).fetchall()
    return {"question": rows[0][0], "gold_answer": rows[0][1]} if rows else {}
