"""Bulk writes from Arrow tables or pandas frames: one statement per batch, never row by row."""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import duckdb

_counter = itertools.count()


def unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop a registered view; quietly, since after a failed statement (a full disk) the
    connection refuses even this, and the original error is the one to report."""
    with contextlib.suppress(duckdb.Error):
        con.unregister(name)


def _register(con: duckdb.DuckDBPyConnection, data: Any) -> str:
    """Register ``data`` (pyarrow.Table, RecordBatch or pandas.DataFrame) under a fresh view name."""
    name = f"_divtui_in_{next(_counter)}"
    con.register(name, data)
    return name


def insert(
    con: duckdb.DuckDBPyConnection, table: str, data: Any, *, on_conflict: str = "ignore"
) -> int:
    """Insert rows by column name; ``on_conflict``: 'ignore' (keep stored), 'replace', or 'append'.

    'append' is a plain INSERT, for tables without a key (draw_metrics, draw_outcomes).

    Returns the number of rows in ``data``.
    """
    verb = {"ignore": "INSERT OR IGNORE", "replace": "INSERT OR REPLACE", "append": "INSERT"}[
        on_conflict
    ]
    name = _register(con, data)
    try:
        con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM {name}")
        return int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
    finally:
        unregister(con, name)


def update(con: duckdb.DuckDBPyConnection, table: str, key: list[str], data: Any) -> None:
    """Set the non-key columns of ``data`` on the rows of ``table`` matching its ``key`` columns."""
    name = _register(con, data)
    try:
        cols = [d[0] for d in con.execute(f"SELECT * FROM {name} LIMIT 0").description]
        sets = ", ".join(f"{c} = {name}.{c}" for c in cols if c not in key)
        where = " AND ".join(f"{table}.{k} = {name}.{k}" for k in key)
        con.execute(f"UPDATE {table} SET {sets} FROM {name} WHERE {where}")
    finally:
        unregister(con, name)
