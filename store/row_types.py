"""Typed shapes of the rows the store's read queries hand to the CLI and the UI."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict


class RunRow(TypedDict):
    """One run (queries.runs): its source and model, sample, problem and graded counts, the
    temperatures sampled (None without samples) and accuracy over its graded samples."""

    run_id: str
    source: str
    model: str | None
    created_at: datetime
    samples: int
    problems: int
    temperatures: list[float] | None
    graded: int
    accuracy: float | None
