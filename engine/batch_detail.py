"""What the UI shows of one draw: per-member figures, the draw's metrics and aggregator picks,
reruns of the aggregators on an edited batch, and fresh draws for "redraw".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypedDict

import duckdb
import numpy as np

from divtui.store import catalog
from divtui.store import draws as dq
from divtui.store.vocabulary import COVERAGE

from . import metrics as mt
from .draws import draw_indices, evaluate
from .pool import Pool, PoolMatrices, load_samples, precompute


class BatchView(TypedDict):
    """A batch as the batch view shows it (engine.browse.batch_view): ``info`` the stored
    draw's fields and its problem (empty for a fresh batch), ``members`` one row of
    engine.browse.MEMBER_FIELDS each, ``picks`` each aggregator's pick, ``metrics`` the
    batch's metric values, ``scorer``/``embedder`` the names used ("" for none)."""

    info: dict[str, Any]
    members: list[dict[str, Any]]
    picks: list[dict[str, Any]]
    metrics: dict[str, Any]
    scorer: str
    embedder: str


class ShownBatch(BatchView, total=False):
    """A BatchView as the UI holds it: with the seed of a fresh draw and the metric context
    (tui.state.batch_context) once loaded."""

    fresh_seed: int | None
    context: dict[str, Any]


def _pick_name(
    con: duckdb.DuckDBPyConnection,
    requested: str | None,
    what: str,
    has: Callable[[duckdb.DuckDBPyConnection, str], bool],
    names: Callable[[duckdb.DuckDBPyConnection], list[str]],
) -> str | None:
    """The scorer/embedder to use: the requested one (checked with ``has``) or the first of
    ``names``, or None."""
    if requested is None:
        present = names(con)
        return present[0] if present else None
    if not has(con, requested):
        raise ValueError(f"{what} {requested!r} is not in the database")
    return requested


def _batch(
    con: duckdb.DuckDBPyConnection,
    sample_ids: Sequence[int],
    scorer: str | None,
    embedder: str | None,
) -> tuple[Pool, PoolMatrices, str | None, str | None]:
    """Load the given samples as one batch (in the given order) and its matrices."""
    scorer = _pick_name(con, scorer, "scorer", catalog.has_scorer, catalog.scorer_names)
    embedder = _pick_name(con, embedder, "embedder", catalog.has_embedder, catalog.embedder_names)
    pool = load_samples(
        con,
        sample_ids,
        scorers=[scorer] if scorer else [],
        embedders=[embedder] if embedder else [],
    )
    return pool, precompute(pool), scorer, embedder


def _picks(pool: Pool, mats: PoolMatrices, weighted: bool) -> dict[str, dict[str, Any]]:
    """Each aggregator's pick on the whole batch, as position, sample_id, answer, correct."""
    ev = evaluate(pool, mats, np.arange(pool.n)[None, :], weighted=weighted)
    out: dict[str, dict[str, Any]] = {}
    for (name, emb, sc), pos in ev.picks.items():
        p = int(pos[0])
        pick = {"aggregator": name, "embedder": emb, "scorer": sc, "position": p}
        if p < 0:
            pick.update(sample_id=None, answer=None, correct=False if pool.graded else None)
        else:
            pick.update(
                sample_id=int(pool.sample_ids[p]),
                answer=pool.answers[p],
                correct=bool(pool.correct[p]) if pool.graded else None,
            )
        if name == COVERAGE and pool.graded:
            pick["correct"] = bool(pool.correct.any())
        out[name] = pick
    return out


def _members(
    pool: Pool, mats: PoolMatrices, scorer: str | None, embedder: str | None
) -> list[dict[str, Any]]:
    """Per-member figures of a whole batch (see :func:`samples_detail`)."""
    k = pool.n
    whole = np.arange(k)[None, :]
    bleu_mean = mt.row_mean_others(mats.pairs.bleu_of(whole))[0]
    cos = mats.cosine.get(embedder) if embedder else None
    if cos is not None:
        cos_mean = mt.row_mean_others(cos[None])[0]
        contrib = mt.dpp_contributions(cos)
        near = mt.near_dup_members(cos)
    reward = pool.rewards.get(scorer) if scorer else None
    members = []
    for i in range(k):
        members.append(
            {
                "position": i,
                "sample_id": int(pool.sample_ids[i]),
                "idx": int(pool.idx[i]),
                "text": pool.texts[i],
                "answer": pool.answers[i],
                "correct": bool(pool.correct[i]) if pool.graded else None,
                "answer_class": None if pool.answer_class[i] < 0 else int(pool.answer_class[i]),
                "reward": None if reward is None else float(reward[i]),
                "mean_logprob": None if pool.mean_logprob is None else float(pool.mean_logprob[i]),
                "dpp_contribution": None if cos is None else float(contrib[i]),
                "mean_bleu": float(bleu_mean[i]),
                "mean_cosine": None if cos is None else float(cos_mean[i]),
                "near_duplicate": None if cos is None else bool(near[i]),
            }
        )
    return members


def _computed_metrics(
    pool: Pool, mats: PoolMatrices, scorer: str | None, embedder: str | None, weighted: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The batch's metric rows and aggregator rows, computed as `divtui draw` would store them."""
    ev = evaluate(pool, mats, np.arange(pool.n)[None, :], weighted=weighted)
    metrics = [
        {"metric": m, "embedder": e, "scorer": s, "value": float(v[0])}
        for (m, e, s), v in sorted(ev.metrics.items())
        if e in ("", embedder or "") and s in ("", scorer or "")
    ]
    outcomes = [
        {
            key: p[key]
            for key in ("aggregator", "embedder", "scorer", "sample_id", "answer", "correct")
        }
        for p in _picks(pool, mats, weighted).values()
        if p["embedder"] in ("", embedder or "") and p["scorer"] in ("", scorer or "")
    ]
    return metrics, sorted(outcomes, key=lambda o: o["aggregator"])


def samples_detail(
    con: duckdb.DuckDBPyConnection,
    sample_ids: Sequence[int],
    *,
    scorer: str | None = None,
    embedder: str | None = None,
    weighted: bool = True,
) -> dict[str, Any]:
    """Any batch of one pool (a fresh draw, an edited batch) in the shape of :func:`draw_detail`.

    Members are in the given order with the same per-member figures; ``metrics`` and
    ``outcomes`` are computed for the batch (under the chosen scorer/embedder, plus those that
    use neither) instead of read from the database; ``draw`` is None.
    """
    if not sample_ids:
        raise ValueError("an empty batch has no members")
    pool, mats, scorer, embedder = _batch(con, sample_ids, scorer, embedder)
    metrics, outcomes = _computed_metrics(pool, mats, scorer, embedder, weighted)
    return {
        "draw": None,
        "scorer": scorer,
        "embedder": embedder,
        "members": _members(pool, mats, scorer, embedder),
        "metrics": metrics,
        "outcomes": outcomes,
    }


def draw_detail(
    con: duckdb.DuckDBPyConnection,
    draw_id: int,
    *,
    scorer: str | None = None,
    embedder: str | None = None,
) -> dict[str, Any]:
    """One draw for the batch view: members in draw order, stored metrics and picks.

    Per member: sample_id, idx, answer, correct, answer_class, reward (scorer, in [0, 1]),
    mean_logprob, dpp_contribution (-log [L^-1]_ii, L = S + eps I), mean_bleu and mean_cosine to
    the other members, near_duplicate. ``scorer``/``embedder`` default to the first present.
    Members come from :func:`samples_detail`; metrics and outcomes are the stored rows.
    """
    row = dq.draw_row(con, draw_id)
    if row is None:
        raise ValueError(f"draw {draw_id} is not in the database")
    detail = samples_detail(con, row["sample_ids"], scorer=scorer, embedder=embedder)
    detail["draw"] = {key: row[key] for key in row if key != "sample_ids"}
    detail["metrics"] = [
        {"metric": m, "embedder": e, "scorer": s, "value": v}
        for m, e, s, v in dq.draw_metric_rows(con, draw_id)
    ]
    detail["outcomes"] = [
        {"aggregator": a, "embedder": e, "scorer": s, "sample_id": sid, "answer": ans, "correct": c}
        for a, e, s, sid, ans, c in dq.draw_outcome_rows(con, draw_id)
    ]
    return detail


def rerun_aggregators(
    con: duckdb.DuckDBPyConnection,
    sample_ids: Sequence[int],
    *,
    scorer: str | None = None,
    embedder: str | None = None,
    weighted: bool = True,
) -> dict[str, dict[str, Any]]:
    """Aggregator -> pick for a batch the user edited or redrew (samples of one pool, in order).

    ``weighted=False`` leaves out ``wmaj``; aggregators whose input is absent are left out.
    """
    if not sample_ids:
        raise ValueError("an empty batch has no aggregator picks")
    pool, mats, _, _ = _batch(con, sample_ids, scorer, embedder)
    return _picks(pool, mats, weighted)


def redraw(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    problem_id: str,
    temperature: float,
    k: int,
    seed: int,
    rep: int = 0,
) -> list[int]:
    """sample_ids of draw ``rep`` of size k under ``seed`` (the same draw `divtui draw` stores)."""
    table = dq.pool_samples(con, run_id, [problem_id])
    temps = table.column("temperature").to_numpy()
    sids = table.column("sample_id").to_numpy()[temps == float(temperature)]
    if len(sids) < k:
        raise ValueError(f"pool has {len(sids)} samples, fewer than k={k}")
    every = draw_indices(seed, run_id, problem_id, float(temperature), k, len(sids), rep + 1)
    if rep >= len(every):
        raise ValueError(f"a pool of {len(sids)} has only {len(every)} distinct draws of size {k}")
    return [int(s) for s in sids[every[rep]]]
