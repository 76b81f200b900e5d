"""The overview's report tables, computed once after ``divtui draw`` (or prune, or the demo
build) and stored in the ``report_cache`` table, so the UI shows them, intervals included, at
once.

A cached report is stored with a fingerprint of everything the report reads (draws, their
metric and outcome rows, pruning rows, grades, scores: store.draw_tables.report_fingerprint)
and under a key naming the scorer, embedder, resamples, seed and divtui version it was built
with; it is used only while both still match, so any change to the draws invalidates it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import duckdb

from divtui.store import catalog, transaction
from divtui.store import draw_tables as rq

OVERVIEW_BOOT = 1000
OVERVIEW_SEED = 0


def overview_choice(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """The scorer and embedder the overview shows: the first of each ('' when none)."""
    scorers = catalog.scorer_names(con)
    embedders = catalog.embedder_names(con)
    return (scorers[0] if scorers else "", embedders[0] if embedders else "")


def cache_key(scorer: str, embedder: str, n_boot: int, seed: int) -> str:
    """The report_cache key of one overview report."""
    from divtui import __version__

    return json.dumps(
        {
            "view": "overview",
            "scorer": scorer,
            "embedder": embedder,
            "n_boot": n_boot,
            "seed": seed,
            "version": __version__,
        },
        sort_keys=True,
    )


def overview_report(
    con: duckdb.DuckDBPyConnection,
    scorer: str,
    embedder: str,
    *,
    n_boot: int = OVERVIEW_BOOT,
    seed: int = OVERVIEW_SEED,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """build_report of every default table for the overview's scorer and embedder."""
    from .report import build_report

    return build_report(
        con,
        scorer=scorer or None,
        embedder=embedder or None,
        n_boot=n_boot,
        seed=seed,
        progress=progress,
    )


def cached_overview(
    con: duckdb.DuckDBPyConnection,
    scorer: str | None = None,
    embedder: str | None = None,
    *,
    n_boot: int = OVERVIEW_BOOT,
    seed: int = OVERVIEW_SEED,
) -> dict[str, Any] | None:
    """The cached overview report, or None when there is none or the data changed since."""
    if scorer is None or embedder is None:
        scorer, embedder = overview_choice(con)
    hit = rq.read_cache(con, cache_key(scorer, embedder, n_boot, seed))
    if hit is None or hit[0] != rq.report_fingerprint(con):
        return None
    return json.loads(hit[1])


def refresh_overview(
    con: duckdb.DuckDBPyConnection,
    *,
    n_boot: int = OVERVIEW_BOOT,
    seed: int = OVERVIEW_SEED,
    progress: Callable[[int, int, str], None] | None = None,
) -> bool:
    """Compute and store the overview report unless a valid one is cached; False when there
    are no draws to report on. The fingerprint is taken before the report is computed (the
    writing process is the file's only writer, so nothing changes in between)."""
    if not rq.count_draws(con):
        return False
    scorer, embedder = overview_choice(con)
    key = cache_key(scorer, embedder, n_boot, seed)
    fingerprint = rq.report_fingerprint(con)
    hit = rq.read_cache(con, key)
    if hit is not None and hit[0] == fingerprint:
        return True
    report = overview_report(con, scorer, embedder, n_boot=n_boot, seed=seed, progress=progress)
    with transaction(con):
        rq.write_cache(con, key, fingerprint, json.dumps(report, default=str))
    return True
