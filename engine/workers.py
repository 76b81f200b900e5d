"""Per-pool work spread over worker processes, each result handed back in submission order.

The process that has the database open stays its only writer: it reads a batch of pools,
submits it as one task (plain picklable data), and writes each finished task's rows in the
order the tasks were submitted, in one transaction per batch as before. Workers fork from a
forkserver (the writer holds DuckDB threads, so plain fork is unsafe), ignore Ctrl-C (the
writer handles it and stops them) and run BLAS on one thread; with one worker the tasks run in
the writer's own process, BLAS pinned to one thread there too. A run with a single task never
starts a process.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from threadpoolctl import threadpool_limits

from .process_start import worker_context

_LIMITS: list[Any] = []

BATCH_SAMPLES = 20_000
"""A batch of pools holds at most this many samples (besides its pool count), so batches of
large pools stay small in the writer and in each worker."""


def problem_chunks(
    pool_keys: Sequence[tuple[str, str, float, int]], max_pools: int
) -> list[list[str]]:
    """Problems in order, cut into chunks of at most ``max_pools`` pools and BATCH_SAMPLES
    samples (a chunk has at least one problem); ``pool_keys`` rows are (run, problem,
    temperature, samples)."""
    pools: dict[str, int] = {}
    samples: dict[str, int] = {}
    for _, problem, _, n in pool_keys:
        pools[problem] = pools.get(problem, 0) + 1
        samples[problem] = samples.get(problem, 0) + int(n)
    chunks: list[list[str]] = []
    size = weight = 0
    for problem in pools:
        full = size + pools[problem] > max_pools or weight + samples[problem] > BATCH_SAMPLES
        if not chunks or full:
            chunks.append([])
            size = weight = 0
        chunks[-1].append(problem)
        size += pools[problem]
        weight += samples[problem]
    return chunks


def resolve_workers(workers: int | None) -> int:
    """The number of worker processes: ``workers``, or the CPU count when None."""
    if workers is None:
        return max(1, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return workers


def _init_worker() -> None:
    """Leave Ctrl-C to the writer and run BLAS on one thread for the worker's life."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _LIMITS.append(threadpool_limits(limits=1, user_api="blas"))


def run_pinned(fn: Callable[[Any], Any], task: Any) -> Any:
    """``fn(task)`` with BLAS on one thread."""
    with threadpool_limits(limits=1, user_api="blas"):
        return fn(task)


class Ordered:
    """Tasks in, results out in submission order, at most ``2 * workers + 1`` in flight (so
    the workers keep busy while the writer writes or waits for a core).

    ``submit`` returns the results that must be consumed now (the oldest ones, once too many
    are in flight); ``drain`` the rest. Unless ``many`` tasks are expected, the first task waits
    for a second one before any process starts, so a run of one task stays in-process.
    """

    def __init__(
        self, fn: Callable[[Any], Any], workers: int, preload: list[str], many: bool = False
    ) -> None:
        """Nothing starts yet."""
        self.fn, self.workers, self.preload, self.many = fn, workers, preload, many
        self.pool: Any = None
        self.pending: deque[Any] = deque()

    def _start(self) -> None:
        """Start the process pool and schedule what waited for it."""
        from pebble import ProcessPool

        context = worker_context(self.preload)
        self.pool = ProcessPool(max_workers=self.workers, initializer=_init_worker, context=context)
        waiting, self.pending = self.pending, deque()
        for task in waiting:
            self.pending.append(self.pool.schedule(self.fn, args=(task,)))

    def submit(self, task: Any) -> list[Any]:
        """Queue ``task``; the results of the oldest tasks, while too many are in flight."""
        if self.workers == 1:
            return [run_pinned(self.fn, task)]
        if self.pool is None:
            self.pending.append(task)
            if len(self.pending) < 2 and not self.many:
                return []
            self._start()
        else:
            self.pending.append(self.pool.schedule(self.fn, args=(task,)))
        out = []
        while len(self.pending) > 2 * self.workers + 1:
            out.append(self.pending.popleft().result())
        return out

    def drain(self) -> Iterator[Any]:
        """Yield the results of every task still in flight, oldest first."""
        while self.pending:
            head = self.pending.popleft()
            yield run_pinned(self.fn, head) if self.pool is None else head.result()

    def stop(self) -> None:
        """Kill the workers (after an error or Ctrl-C: their results are not wanted)."""
        self.pending.clear()
        if self.pool is not None:
            self.pool.stop()
            self.pool.join()

    def close(self) -> None:
        """Let the workers finish and exit."""
        if self.pool is not None:
            self.pool.close()
            self.pool.join()


@contextmanager
def ordered(
    fn: Callable[[Any], Any], workers: int, preload: list[str], *, many: bool = False
) -> Iterator[Ordered]:
    """An :class:`Ordered` runner of ``fn`` (a module-level function) over ``workers``
    processes; stopped on any exception, closed otherwise.

    ``preload`` names modules the forkserver imports once, so each worker starts without
    importing them again (it has no effect when a forkserver is already running). ``many``
    starts the processes with the first task (the caller expects more than one).
    """
    runner = Ordered(fn, workers, preload, many)
    try:
        yield runner
    except BaseException:
        runner.stop()
        raise
    runner.close()
