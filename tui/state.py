"""The data the app caches after opening a database: options, pools and the draw frame."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from divtui.engine import browse as eb
from divtui.store import pool_columns as bq
from divtui.store.vocabulary import METRIC_NEEDS, Needs

if TYPE_CHECKING:
    from divtui.engine.batch_detail import BatchView


class CurrentPool(TypedDict):
    """The pool a screen shows or has highlighted (what the rerun dialog and commands need)."""

    run_id: str
    problem_id: str
    temperature: float


class CurrentBatch(CurrentPool):
    """The batch on the batch view, for screens opened from it (pruning, remote reruns).

    ``draw_id`` is None for a fresh or edited batch; ``seed`` that of the stored draw or the
    fresh one; ``sample_ids`` in batch order; ``scorer``/``embedder`` the names used (None
    when none)."""

    k: int
    draw_id: int | None
    seed: int | None
    sample_ids: list[int]
    scorer: str | None
    embedder: str | None


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
    search_cache: dict[tuple[tuple[str, ...], str | None], np.ndarray] = field(default_factory=dict)
    reference_cache: dict[tuple[int, int], tuple[int, dict[str, np.ndarray]]] = field(
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
    frame = bq.draw_columns(con, opts["metrics"], scorer=sc, embedder=em)
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


_SEARCHES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="divtui-search")


def search_soon(data: BrowseData, con: Any, f: eb.Filters) -> Future[np.ndarray | None]:
    """:func:`search_pools` in a background thread, so the caller can aggregate the draws
    while DuckDB scans the texts (the scan releases the GIL); the caller must wait for the
    result before it lets go of ``con``. A cached or absent search is done at once."""
    key = (f.text, f.regex)
    if not f.searches() or key in data.search_cache:
        done: Future[np.ndarray | None] = Future()
        done.set_result(search_pools(data, con, f))
        return done
    return _SEARCHES.submit(search_pools, data, con, f)


def batch_context(
    data: BrowseData,
    detail: BatchView,
    where: tuple[str, str, float],
    filters: eb.Filters | None,
) -> dict[str, Any]:
    """What the batch view's header shows beside the members: the problem's question and
    gold answer, the batch's metrics with their percentiles among the run's draws of the same
    size k, and each filter term with whether this batch meets it.

    ``detail`` is engine.browse.batch_view's result; ``where`` the (run, problem, T) pool.
    """
    run_id, problem_id, temperature = where
    pool = data.pool_of(run_id, problem_id, temperature)
    k = len(detail["members"])
    info = detail.get("info") or {}
    question = info.get("question")
    gold = info.get("gold_answer")
    if pool is not None:
        question = question if question is not None else data.pools["question"][pool]
        gold = gold if gold is not None else data.pools["gold_answer"][pool]
    frame = data.frame
    code = data.runs.index(run_id) if run_id in data.runs else -1
    if (code, k) not in data.reference_cache:
        reference = (frame["k"] == k) & (data.draw_run == code)
        data.reference_cache[code, k] = (
            int(np.count_nonzero(reference)),
            eb.reference_values(frame, reference),
        )
    n_reference, sorted_refs = data.reference_cache[code, k]
    same_embedder = (detail.get("embedder") or "") == data.embedder
    metrics = eb.metric_context(sorted_refs, detail.get("metrics") or {})
    if not same_embedder:
        for m in metrics:
            if METRIC_NEEDS.get(m["metric"], Needs()).embedder:
                m["pct"] = float("nan")
    matches: list[tuple[str, bool | None]] = []
    if filters is not None and not filters.is_empty():
        correct = {str(p["aggregator"]): p.get("correct") for p in detail.get("picks", [])}
        bucket = None
        if filters.metric is not None and filters.bucket is not None:
            col = frame.get(f"metric:{filters.metric}")
            value = (detail.get("metrics") or {}).get(filters.metric)
            if col is not None:
                bucket = eb.bucket_of(col, frame["k"], k, filters.n_buckets, value)
        found = data.search_cache.get((filters.text, filters.regex))
        searched = None if found is None or pool is None else bool(np.isin(pool, found))
        matches = eb.term_matches(
            filters,
            run_id=run_id,
            temperature=temperature,
            k=k,
            correct=correct,
            bucket=bucket,
            searched=searched,
        )
    return {
        "question": question,
        "gold_answer": gold,
        "metrics": metrics,
        "reference": n_reference,
        "terms": matches,
    }


def warm_batch_view(con: Any, data: BrowseData) -> None:
    """Read one stored draw of the largest size as the batch view would, so the first batch a
    user opens does not also pay for the batch view's imports, the file's first reads of the
    solution texts and vectors, and that size's percentile references (about 0.1-0.8 s)."""
    frame = data.frame
    if not frame["draw_id"].size:
        return
    row = int(np.argmax(frame["k"]))
    pool = int(frame["pool"][row])
    view = eb.batch_view(
        con,
        draw_id=int(frame["draw_id"][row]),
        scorer=data.scorer or None,
        embedder=data.embedder or None,
    )
    p = data.pools
    where = (str(p["run_id"][pool]), str(p["problem_id"][pool]), float(p["temperature"][pool]))
    batch_context(data, view, where, None)
