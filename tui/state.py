"""The data the app caches after opening a database: options, pools and the draw frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from divtui.store import browse_queries as bq


@dataclass
class BrowseData:
    """Everything the problems screen filters, loaded once per (scorer, embedder)."""

    options: dict[str, list[Any]]
    pools: dict[str, np.ndarray]
    frame: dict[str, np.ndarray]
    scorer: str
    embedder: str
    regex_cache: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def metrics(self) -> list[str]:
        """Metric names stored in the database."""
        return list(self.options["metrics"])


def load(con: Any, scorer: str | None = None, embedder: str | None = None) -> BrowseData:
    """Read options, pools and the draw frame (default: the first scorer and embedder)."""
    opts = bq.options(con)
    sc = scorer if scorer is not None else (opts["scorers"][0] if opts["scorers"] else "")
    em = embedder if embedder is not None else (opts["embedders"][0] if opts["embedders"] else "")
    pools = bq.pools(con)
    frame = bq.draw_frame(con, opts["metrics"], scorer=sc, embedder=em)
    return BrowseData(options=opts, pools=pools, frame=frame, scorer=sc, embedder=em)


def regex_pools(data: BrowseData, con: Any, pattern: str | None) -> np.ndarray | None:
    """Pools whose question or solutions match ``pattern``, cached per pattern."""
    if pattern is None:
        return None
    if pattern not in data.regex_cache:
        data.regex_cache[pattern] = bq.pools_matching(con, pattern)
    return data.regex_cache[pattern]
