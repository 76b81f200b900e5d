"""Grading with math-verify in a process pool, so a stuck comparison is killed, from any thread.

math-verify's own timeouts use SIGALRM, which only works in a main thread; they are switched off
(``parsing_timeout=None``, ``timeout_seconds=None``) and each comparison instead runs as one
pebble task with ``timeout=``: a worker that runs past it is killed and replaced, and the
comparison counts as not equal (incorrect), reported in the ``timeouts`` count.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import duckdb
import pyarrow as pa
from pebble import ProcessPool

from divtui.store import grading_queries as gq
from divtui.store import transaction

from .answer_classes import answer_classes
from .extract import extract_answer, wrap_latex

Progress = Callable[[int, int, str], None]

CORRECT, WRONG, NO_ANSWER, NO_GOLD, TIMEOUT, ERROR = (
    "correct",
    "wrong",
    "no_answer",
    "no_gold",
    "timeout",
    "error",
)


@lru_cache(maxsize=8192)
def _parse(s: str) -> list[Any]:
    """math-verify's parse of ``s`` (wrapped in ``\\boxed{}`` unless delimited), cached per worker."""
    from math_verify import parse

    return parse(wrap_latex(s), parsing_timeout=None)


def verify_pair(gold: str, answer: str) -> bool:
    """``verify(parse(gold), parse(answer))`` with signal timeouts off; runs in a pool worker."""
    from math_verify import verify

    return bool(verify(_parse(gold), _parse(answer), timeout_seconds=None))


def _init_worker() -> None:
    """Silence math-verify's "timeout is disabled" warning and import it once per worker."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    import math_verify  # noqa: F401


@dataclass
class Verifier:
    """A pebble process pool that runs :func:`verify_pair` with a per-comparison timeout."""

    pool: ProcessPool
    timeout: float
    workers: int
    timeouts: int = 0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stuck: set[str] = field(default_factory=set)
    _finished: set[str] = field(default_factory=set)

    def submit(self, gold: str, answer: str) -> Future:
        """Schedule one comparison; its future yields a bool or raises on timeout or crash."""
        return self.pool.schedule(verify_pair, args=(gold, answer), timeout=self.timeout)

    def outcome(self, future: Future) -> str:
        """CORRECT, WRONG, TIMEOUT or ERROR for a submitted comparison (counted)."""
        try:
            return CORRECT if future.result() else WRONG
        except FutureTimeout:
            with self._lock:
                self.timeouts += 1
            return TIMEOUT
        except Exception:
            with self._lock:
                self.errors += 1
            return ERROR

    def _record(self, pair: tuple[str, str], status: str) -> None:
        """Remember which strings finished a comparison and which were only in stuck ones."""
        with self._lock:
            if status in (TIMEOUT, ERROR):
                self._stuck.update(s for s in pair if s not in self._finished)
            else:
                self._finished.update(pair)
                self._stuck.difference_update(pair)

    def equivalent(self, representative: str, answer: str) -> bool:
        """Blocking ``verify(parse(representative), parse(answer))``; False on timeout or crash.

        A string that was part of a timed-out or crashed comparison and never of a finished one
        is taken as stuck: later class comparisons with it return False at once instead of
        timing out again (grading against the gold always runs).
        """
        pair = (representative, answer)
        with self._lock:
            if any(s in self._stuck for s in pair):
                return False
        status = self.outcome(self.submit(representative, answer))
        self._record(pair, status)
        return status == CORRECT

    def grade(self, golds: Sequence[str | None], answers: Sequence[str | None]) -> list[str]:
        """Status of each (gold, answer): CORRECT, WRONG, NO_ANSWER, NO_GOLD, TIMEOUT or ERROR."""
        futures: list[Future | str] = []
        for gold, answer in zip(golds, answers, strict=True):
            if answer is None:
                futures.append(NO_ANSWER)
            elif gold is None:
                futures.append(NO_GOLD)
            else:
                futures.append(self.submit(gold, answer))
        statuses = []
        for gold, answer, f in zip(golds, answers, futures, strict=True):
            if isinstance(f, str):
                statuses.append(f)
                continue
            statuses.append(self.outcome(f))
            self._record((gold, answer), statuses[-1])
        return statuses

    def classes(self, pools: Sequence[Sequence[str | None]]) -> list[list[int | None]]:
        """Answer classes of each pool, pools in parallel threads, comparisons in the processes."""
        if not pools:
            return []
        threads = max(1, min(len(pools), 2 * self.workers))
        with ThreadPoolExecutor(max_workers=threads) as ex:
            return list(ex.map(lambda answers: answer_classes(answers, self.equivalent), pools))


@contextmanager
def verifier(workers: int | None = None, timeout: float = 5.0) -> Iterator[Verifier]:
    """A :class:`Verifier` over ``workers`` processes (default: CPU count), stopped on exit.

    Workers fork from a forkserver that has math-verify imported already, so starting a pool,
    or replacing a worker killed for a timeout, costs milliseconds rather than an import. As with
    any forkserver or spawn pool, a script calling this must guard its top level with
    ``if __name__ == "__main__":`` (the ``divtui`` command and the UI do).
    """
    n = max(1, workers or os.cpu_count() or 1)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["math_verify", __name__])
    pool = ProcessPool(max_workers=n, initializer=_init_worker, context=context)
    try:
        yield Verifier(pool, float(timeout), n)
    except BaseException:
        pool.stop()
        pool.join()
        raise
    pool.close()
    pool.join()


def _grade_batch(
    v: Verifier, rows: dict[str, list[Any]], regrade: bool
) -> tuple[pa.Table, dict[str, int]]:
    """Extract and grade the ungraded samples of a batch of pools and recompute their classes."""
    n = len(rows["sample_id"])
    todo = [regrade or rows["correct"][i] is None for i in range(n)]
    answers = [extract_answer(rows["text"][i]) if todo[i] else rows["answer"][i] for i in range(n)]
    idx = [i for i in range(n) if todo[i]]
    statuses = v.grade([rows["gold_answer"][i] for i in idx], [answers[i] for i in idx])
    correct = list(rows["correct"])
    for i, status in zip(idx, statuses, strict=True):
        correct[i] = None if status == NO_GOLD else status == CORRECT
    pool_rows: dict[tuple[Any, ...], list[int]] = {}
    for i in range(n):
        key = (rows["run_id"][i], rows["problem_id"][i], rows["temperature"][i])
        pool_rows.setdefault(key, []).append(i)
    members = list(pool_rows.values())
    classes: list[int | None] = [None] * n
    for rows_of_pool, cls in zip(
        members, v.classes([[answers[i] for i in m] for m in members]), strict=True
    ):
        for i, c in zip(rows_of_pool, cls, strict=True):
            classes[i] = c
    table = pa.table(
        {
            "sample_id": pa.array(rows["sample_id"], pa.int64()),
            "answer": pa.array(answers, pa.string()),
            "correct": pa.array(correct, pa.bool_()),
            "answer_class": pa.array(classes, pa.int32()),
        }
    )
    counts = {
        "graded": sum(s != NO_GOLD for s in statuses),
        "correct": statuses.count(CORRECT),
        "no_answer": statuses.count(NO_ANSWER),
        "no_gold": statuses.count(NO_GOLD),
        "pools": len(members),
    }
    return table, counts


def grade_db(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    regrade: bool = False,
    workers: int | None = None,
    timeout: float = 5.0,
    progress: Progress | None = None,
    batch_pools: int = 200,
) -> dict[str, int]:
    """Extract and grade ungraded samples (all with ``regrade``) and recompute answer classes.

    Works pool by pool: every pool with an ungraded sample is processed whole (its classes depend
    on all members), and each batch of ``batch_pools`` pools is written in one transaction, so an
    interrupted run resumes at the first uncommitted batch. Samples of a problem without a gold
    answer get an answer and a class but stay ungraded (``correct`` NULL, counted in
    ``no_gold``). Returns counts: graded, correct, no_answer, no_gold, timeouts, errors, pools.
    """
    pools = gq.pools_to_grade(con, run_id=run_id, regrade=regrade)
    counts = dict.fromkeys(
        ("graded", "correct", "no_answer", "no_gold", "timeouts", "errors", "pools"), 0
    )
    if progress:
        progress(0, len(pools), "grading")
    if not pools:
        return counts
    with verifier(workers, timeout) as v:
        for start in range(0, len(pools), batch_pools):
            batch = pools[start : start + batch_pools]
            table, batch_counts = _grade_batch(v, gq.pool_samples(con, batch), regrade)
            with transaction(con):
                gq.write_grades(con, table)
            for key, value in batch_counts.items():
                counts[key] += value
            counts["timeouts"], counts["errors"] = v.timeouts, v.errors
            if progress:
                progress(start + len(batch), len(pools), "grading")
    return counts
