"""The data the app caches after opening a database: options, pools and the draw frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from divtui.engine import browse as eb
from divtui.store import browse_queries as bq


@dataclass
class BrowseData:
    """Everything the problems screen filters, loaded once per (scorer, embedder).

    ``pool_rank`` is each pool's place in the default (natural) order; ``draw_run`` the run
    code of each frame row, ``runs`` the run ids those codes index.
    """

    options: dict[str, list[Any]]
    pools: dict[str, np.ndarray]
    frame: dict[str, np.ndarray]
    scorer: str
    embedder: str
    pool_rank: np.ndarray = field(default_factory=lambda: np.arange(0))
    runs: list[str] = field(default_factory=list)
    draw_run: np.ndarray = field(default_factory=lambda: np.arange(0))
    search_cache: dict[tuple[tuple[str, ...], str | None], np.ndarray] = field(
        default_factory=dict
    )

    @property
    def metrics(self) -> list[str]:
        """Metric names stored in the database."""
        return list(self.options["metrics"])

    def pool_of(self, run_id: str, problem_id: str, temperature: float) -> int | None:
        """The index of one pool, None when the file has no such pool."""
        p = self.pools
        hit = np.flatnonzero(
            (p["run_id"] == run_id)
            & (p["problem_id"] == problem_id)
            & np.isclose(p["temperature"], temperature)
        )
        return int(hit[0]) if hit.size else None


def load(con: Any, scorer: str | None = None, embedder: str | None = None) -> BrowseData:
    """Read options, pools and the draw frame (default: the first scorer and embedder)."""
    opts = bq.options(con)
    sc = scorer if scorer is not None else (opts["scorers"][0] if opts["scorers"] else "")
    em = embedder if embedder is not None else (opts["embedders"][0] if opts["embedders"] else "")
    pools = bq.pools(con)
    frame = bq.draw_frame(con, opts["metrics"], scorer=sc, embedder=em)
    runs, pool_run = np.unique(np.asarray(pools["run_id"], dtype=object), return_inverse=True)
    return BrowseData(
        options=opts,
        pools=pools,
        frame=frame,
        scorer=sc,
        embedder=em,
        pool_rank=eb.pool_order(pools),
        runs=[str(r) for r in runs],
        draw_run=pool_run.astype(np.int64)[frame["pool"]] if len(runs) else frame["pool"],
    )


def search_pools(data: BrowseData, con: Any, f: eb.Filters) -> np.ndarray | None:
    """Pools the filters' text and regex search match (None without a search), cached; an
    invalid pattern raises ValueError naming the field."""
    if not f.searches():
        return None
    key = (f.text, f.regex)
    if key not in data.search_cache:
        data.search_cache[key] = bq.pools_matching(con, f.regex, text=f.text)
    return data.search_cache[key]
