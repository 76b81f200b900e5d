"""Grading with math-verify in a process pool, so a stuck comparison is killed, from any thread.

math-verify's own timeouts use SIGALRM, which only works in a main thread; they are switched off
(``parsing_timeout=None``, ``timeout_seconds=None``) and each comparison instead runs as one
pebble task with ``timeout=``: a worker that runs past it is killed and replaced, and the
comparison counts as not equal (incorrect), reported in the ``timeouts`` count.

Keyed path (:meth:`Verifier.grade`, :meth:`Verifier.classes`): each distinct string is parsed
once in a worker and reduced to :mod:`.answer_keys`; a comparison is run only for pairs those
keys do not rule out, once per distinct (gold side, answer) pair, with every comparison of a
batch spread over the pool. The plain path (:meth:`Verifier.grade_plain`,
:meth:`Verifier.classes_plain`) runs every comparison the definition names; it is kept as the
reference the keyed path is tested and benchmarked against.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import duckdb
import pyarrow as pa
from pebble import ProcessPool

from divtui.store import grades as gq
from divtui.store import transaction

from .answer_classes import answer_classes, answer_classes_pruned
from .answer_keys import AnswerKeys, answer_keys, may_equal, unkeyed
from .extract import extract_answer, wrap_latex
from .process_start import worker_context
from .specs import GradeSpec

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


class _Overrun(BaseException):
    """Raised by the SIGALRM handler of :func:`_alarm` (a BaseException, so no ``except Exception``
    in sympy or math-verify swallows it)."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`_Overrun` in this (main) thread if the block runs past ``seconds``."""

    def overrun(signum: int, frame: Any) -> None:
        raise _Overrun

    previous = signal.signal(signal.SIGALRM, overrun)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def prepare_answer(s: str, timeout: float, budget: float) -> AnswerKeys | None:
    """Parse ``s`` (cached in this worker) and key it; None if the parse runs past ``timeout``.

    Runs in a pool worker's main thread, so SIGALRM bounds both steps: a parse past ``timeout``
    makes the string stuck (as a comparison with it would time out), keys past ``budget`` are
    given up (wild keys: the string is compared as it would be without keys).
    """
    try:
        with _alarm(timeout):
            parsed = _parse(s)
    except _Overrun:
        return None
    try:
        with _alarm(budget):
            return answer_keys(parsed)
    except _Overrun:
        return unkeyed(parsed)


def parse_only(s: str) -> bool:
    """Parse ``s``; run with a pool timeout to tell a stuck parse from stuck keys."""
    _parse(s)
    return True


def _init_worker() -> None:
    """Silence math-verify's "timeout is disabled" warning and import it once per worker."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    import math_verify  # noqa: F401


UNKNOWN = AnswerKeys(frozenset(), (), known=False)
CACHE_LIMIT = 200_000


@dataclass
class Verifier:
    """A pebble process pool that runs math-verify with a per-comparison timeout.

    ``comparisons`` counts comparisons run, ``timeouts`` math-verify steps cut off at the
    timeout (parses and comparisons), ``errors`` comparisons that crashed, ``unkeyed`` strings
    the keyed path could not key (compared as without keys).
    """

    pool: ProcessPool
    timeout: float
    workers: int
    comparisons: int = 0
    timeouts: int = 0
    errors: int = 0
    unkeyed: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stuck: set[str] = field(default_factory=set)
    _finished: set[str] = field(default_factory=set)
    _keys: dict[str, AnswerKeys | None] = field(default_factory=dict)
    _verdicts: dict[tuple[str, str], Future | str] = field(default_factory=dict)

    def submit(self, gold: str, answer: str) -> Future:
        """Schedule one comparison; its future yields a bool or raises on timeout or crash."""
        with self._lock:
            self.comparisons += 1
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

    # -- keyed path ---------------------------------------------------------------------------

    def prepare(self, strings: Iterable[str]) -> None:
        """Parse and key every string not seen yet, all at once over the pool.

        A string whose parse runs past the timeout is stuck: it equals nothing and every grade
        against it is TIMEOUT, without waiting for it again. A prepare that is killed (stuck in
        C code, or crashed) is followed by a bare parse with the same timeout to tell a stuck
        parse from keys that could not be computed.
        """
        with self._lock:
            todo = list(dict.fromkeys(s for s in strings if s not in self._keys))
        if not todo:
            return
        budget = self.timeout
        futures = [
            self.pool.schedule(
                prepare_answer, args=(s, self.timeout, budget), timeout=self.timeout + budget + 1
            )
            for s in todo
        ]
        retry: list[str] = []
        results: dict[str, AnswerKeys | None] = {}
        for s, f in zip(todo, futures, strict=True):
            try:
                results[s] = f.result()
            except Exception:
                retry.append(s)
        again = [self.pool.schedule(parse_only, args=(s,), timeout=self.timeout) for s in retry]
        for s, g in zip(retry, again, strict=True):
            try:
                g.result()
                results[s] = UNKNOWN
            except Exception:
                results[s] = None
        with self._lock:
            if len(self._keys) > CACHE_LIMIT:
                self._keys = {k: v for k, v in self._keys.items() if v is None}
            for s, keys in results.items():
                self._keys[s] = keys
                self.timeouts += keys is None
                self.unkeyed += keys is not None and not keys.keyed

    def _parse_stuck(self, gold: str, answer: str) -> bool:
        """Whether either string of a prepared pair is stuck (its parse ran past the timeout)."""
        return self._keys[gold] is None or self._keys[answer] is None

    def _plausible(self, gold: str, answer: str) -> bool:
        """Whether math-verify may call ``answer`` equal to ``gold`` (both prepared, not stuck)."""
        g, a = self._keys[gold], self._keys[answer]
        return g is not None and a is not None and may_equal(g, a)

    def _verdict(self, gold: str, answer: str) -> None:
        """Schedule the comparison of a pair unless it is scheduled or decided already."""
        pair = (gold, answer)
        with self._lock:
            if pair not in self._verdicts:
                if len(self._verdicts) > CACHE_LIMIT:
                    self._verdicts = {k: v for k, v in self._verdicts.items() if isinstance(v, str)}
                self._verdicts[pair] = self.submit(gold, answer)

    def _status(self, gold: str, answer: str) -> str:
        """CORRECT, WRONG, TIMEOUT or ERROR of a pair: compared once, counted and recorded once."""
        pair = (gold, answer)
        self._verdict(gold, answer)
        with self._lock:
            f = self._verdicts[pair]
        if isinstance(f, str):
            return f
        try:
            status = CORRECT if f.result() else WRONG
        except FutureTimeout:
            status = TIMEOUT
        except Exception:
            status = ERROR
        with self._lock:
            first = not isinstance(self._verdicts.get(pair), str)
            if first:
                self._verdicts[pair] = status
                self.timeouts += status == TIMEOUT
                self.errors += status == ERROR
        if first:
            self._record(pair, status)
        return status

    def _first_equal(self, pairs: Sequence[tuple[str, str]]) -> int | None:
        """Index of the first pair math-verify calls equal, or None.

        Outcomes are taken in order, as the plain path's loop takes them: a pair with a string
        found stuck by an earlier one is unequal without a comparison. Up to ``workers`` pairs
        ahead are compared in parallel; pairs after the first equal one stay unused.
        """
        ahead = 0
        for i, pair in enumerate(pairs):
            while ahead < len(pairs) and ahead < i + self.workers:
                if not self._is_stuck(pairs[ahead]):
                    self._verdict(*pairs[ahead])
                ahead += 1
            if not self._is_stuck(pair) and self._status(*pair) == CORRECT:
                return i
        return None

    def _is_stuck(self, pair: tuple[str, str]) -> bool:
        """Whether a string of the pair is stuck (the plain path's rule, see :meth:`equivalent`)."""
        with self._lock:
            return any(s in self._stuck for s in pair)

    def grade(self, golds: Sequence[str | None], answers: Sequence[str | None]) -> list[str]:
        """Status of each (gold, answer): CORRECT, WRONG, NO_ANSWER, NO_GOLD, TIMEOUT or ERROR.

        Keyed: each distinct pair is compared once, and only where the keys allow equality;
        a pair they rule out is WRONG (and both strings count as having finished a comparison,
        as they would have in the plain path); a gold or answer whose parse ran past the timeout
        gives TIMEOUT at once.
        """
        pairs = dict.fromkeys(
            (g, a) for g, a in zip(golds, answers, strict=True) if g is not None and a is not None
        )
        self.prepare(s for pair in pairs for s in pair)
        status: dict[tuple[str, str], str] = {}
        compared = []
        for pair in pairs:
            if self._parse_stuck(*pair):
                status[pair] = TIMEOUT
            elif self._plausible(*pair):
                compared.append(pair)
                self._verdict(*pair)
            else:
                status[pair] = WRONG
                self._record(pair, WRONG)
        for pair in compared:
            status[pair] = self._status(*pair)
        return [
            NO_ANSWER if a is None else NO_GOLD if g is None else status[(g, a)]
            for g, a in zip(golds, answers, strict=True)
        ]

    def classes(self, pools: Sequence[Sequence[str | None]]) -> list[list[int | None]]:
        """Answer classes of each pool (keyed), pools in parallel threads, comparisons in the pool."""
        if not pools:
            return []
        self.prepare(a for answers in pools for a in answers if a is not None)
        threads = max(1, min(len(pools), 2 * self.workers))
        with ThreadPoolExecutor(max_workers=threads) as ex:
            return list(
                ex.map(
                    lambda answers: answer_classes_pruned(
                        answers, self._first_equal, self._plausible
                    ),
                    pools,
                )
            )

    # -- plain path (the reference) -----------------------------------------------------------

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

    def grade_plain(self, golds: Sequence[str | None], answers: Sequence[str | None]) -> list[str]:
        """Like :meth:`grade`, one comparison per sample and no keys (the reference)."""
        futures: list[tuple[Future, tuple[str, str]] | str] = []
        for gold, answer in zip(golds, answers, strict=True):
            if answer is None:
                futures.append(NO_ANSWER)
            elif gold is None:
                futures.append(NO_GOLD)
            else:
                futures.append((self.submit(gold, answer), (gold, answer)))
        statuses = []
        for f in futures:
            if isinstance(f, str):
                statuses.append(f)
                continue
            future, pair = f
            statuses.append(self.outcome(future))
            self._record(pair, statuses[-1])
        return statuses

    def classes_plain(self, pools: Sequence[Sequence[str | None]]) -> list[list[int | None]]:
        """Like :meth:`classes`, comparing each new answer with every representative in turn."""
        if not pools:
            return []
        threads = max(1, min(len(pools), 2 * self.workers))
        with ThreadPoolExecutor(max_workers=threads) as ex:
            return list(ex.map(lambda answers: answer_classes(answers, self.equivalent), pools))


@contextmanager
def verifier(workers: int | None = None, timeout: float = 5.0) -> Iterator[Verifier]:
    """A :class:`Verifier` over ``workers`` processes (default: CPU count), stopped on exit.

    Workers fork from a forkserver that has math-verify imported and warmed up already
    (:mod:`.verify_warm`; where a forkserver could not import divtui, they fork from this
    process instead: :mod:`.process_start`), so starting a pool, or replacing a worker killed for a timeout, costs
    milliseconds rather than an import and math-verify's slow first calls. As with
    any forkserver or spawn pool, a script calling this must guard its top level with
    ``if __name__ == "__main__":`` (the ``divtui`` command and the UI do).
    """
    n = max(1, workers or os.cpu_count() or 1)
    context = worker_context(["math_verify", f"{__package__}.verify_warm", __name__])
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
    v: Verifier, rows: dict[str, list[Any]], regrade: bool, plain: bool = False
) -> tuple[pa.Table, dict[str, int]]:
    """Extract and grade the ungraded samples of a batch of pools and recompute their classes.

    Both paths grade against the gold first and then number the classes, so a string stuck in
    a gold comparison is not compared again; the keyed path prepares every string at once.
    """
    n = len(rows["sample_id"])
    todo = [regrade or rows["correct"][i] is None for i in range(n)]
    answers = [extract_answer(rows["text"][i]) if todo[i] else rows["answer"][i] for i in range(n)]
    idx = [i for i in range(n) if todo[i]]
    golds = [rows["gold_answer"][i] for i in idx]
    pool_rows: dict[tuple[Any, ...], list[int]] = {}
    for i in range(n):
        key = (rows["run_id"][i], rows["problem_id"][i], rows["temperature"][i])
        pool_rows.setdefault(key, []).append(i)
    members = list(pool_rows.values())
    pools = [[answers[i] for i in m] for m in members]
    if plain:
        statuses = v.grade_plain(golds, [answers[i] for i in idx])
        pool_classes = v.classes_plain(pools)
    else:
        v.prepare([g for g in golds if g is not None] + [a for a in answers if a is not None])
        statuses = v.grade(golds, [answers[i] for i in idx])
        pool_classes = v.classes(pools)
    correct = list(rows["correct"])
    for i, status in zip(idx, statuses, strict=True):
        correct[i] = None if status == NO_GOLD else status == CORRECT
    classes: list[int | None] = [None] * n
    for rows_of_pool, cls in zip(members, pool_classes, strict=True):
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
    spec: GradeSpec,
    *,
    progress: Progress | None = None,
    batch_pools: int = 200,
    plain: bool = False,
) -> dict[str, int]:
    """Extract and grade ungraded samples (all with ``spec.regrade``) and recompute answer classes.

    Works pool by pool: every pool with an ungraded sample is processed whole (its classes depend
    on all members), and each batch of ``batch_pools`` pools is written in one transaction, so an
    interrupted run resumes at the first uncommitted batch. Samples of a problem without a gold
    answer get an answer and a class but stay ungraded (``correct`` NULL, counted in
    ``no_gold``). Returns counts: graded, correct, no_answer, no_gold, timeouts, errors, pools,
    comparisons (math-verify calls run).
    ``plain`` grades with the plain path (every comparison, no keys), the reference.
    """
    run_id, regrade, workers, timeout = spec.run_id, spec.regrade, spec.workers, spec.timeout
    pools = gq.pools_to_grade(con, run_id=run_id, regrade=regrade)
    counts = dict.fromkeys(
        ("graded", "correct", "no_answer", "no_gold", "timeouts", "errors", "pools", "comparisons"),
        0,
    )
    if progress:
        progress(0, len(pools), "grading")
    if not pools:
        return counts
    with verifier(workers, timeout) as v:
        for start in range(0, len(pools), batch_pools):
            batch = pools[start : start + batch_pools]
            table, batch_counts = _grade_batch(v, gq.samples_with_gold(con, batch), regrade, plain)
            with transaction(con):
                gq.write_grades(con, table)
            for key, value in batch_counts.items():
                counts[key] += value
            counts["timeouts"], counts["errors"] = v.timeouts, v.errors
            counts["comparisons"] = v.comparisons
            if progress:
                progress(start + len(batch), len(pools), "grading")
    return counts
