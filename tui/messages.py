"""Messages that thread workers post back to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from divtui.engine.batch_detail import ShownBatch
    from divtui.store.row_types import RunRow


@dataclass
class DataLoaded(Message):
    """The cached draw frame and pools are ready (or failed with ``error``)."""

    error: str | None = None


@dataclass
class OverviewReady(Message):
    """Runs, counts, accuracy-by-k rows and the report tables for the overview."""

    runs: list[RunRow]
    counts: dict[str, int]
    accuracy: list[dict[str, Any]]
    tables: dict[str, list[dict[str, Any]]]


@dataclass
class OverviewTables(Message):
    """The report for the overview's tables (``{"tables", "meta"}``) and where it came from:
    ``cached`` (stored after `divtui draw`, with intervals) or ``quick`` (no intervals)."""

    report: dict[str, Any]
    source: str


@dataclass
class RowsReady(Message):
    """The filtered problem table, its filter text and its pass@k size."""

    table: dict[str, Any]
    description: str
    k: int


@dataclass
class BatchReady(Message):
    """A batch's members and aggregator picks, with a label saying where it came from."""

    detail: ShownBatch
    label: str


@dataclass
class WorkFailed(Message):
    """A worker failed; ``text`` is one line for the status bar."""

    text: str


@dataclass
class Exported(Message):
    """Rows were written to ``path``."""

    path: str
    rows: int
