"""Landing folders: Parquet batches written by other processes or hosts, ingested by the one writer.

A *batch* is a folder of result tables, each ``<table>.parquet`` or a folder ``<table>/`` of
Parquet parts (what Ray Data writes); it is written under a name starting with ``.`` and renamed
when complete, so a reader never sees half of one. A landing folder holds batches (or is one).
Each batch is ingested in one transaction, idempotently (``jobs.ingest_job_results``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb

from .jobs import RESULT_TABLES, ingest_job_results


def is_batch(folder: Path) -> bool:
    """Whether ``folder`` holds result tables itself."""
    return any((folder / f"{t}.parquet").is_file() or (folder / t).is_dir() for t in RESULT_TABLES)


def landing_batches(folder: Path) -> list[Path]:
    """The complete batches of a landing folder in name order (the folder itself if it is one)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such landing folder")
    if is_batch(folder):
        return [folder]
    return sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and is_batch(p)
    )


def publish_batch(part: Path, final: Path) -> Path:
    """Make a fully written batch folder visible under its final name (one rename)."""
    os.replace(part, final)
    return final


def ingest_landing(
    con: duckdb.DuckDBPyConnection, folder: Path, *, remove: bool = False
) -> dict[str, Any]:
    """Ingest every complete batch of ``folder``, one transaction each; returns new rows per
    table and the number of batches. With ``remove``, each batch is deleted once committed."""
    totals: dict[str, Any] = {"batches": 0}
    for batch in landing_batches(folder):
        added = ingest_job_results(con, batch)
        totals["batches"] += 1
        for table, n in added.items():
            totals[table] = totals.get(table, 0) + n
        if remove and batch != Path(folder):
            shutil.rmtree(batch, ignore_errors=True)
    return totals
