"""Benchmark of `divtui browse` on a 1,000,000-draw study, driven with Textual's Pilot.

    python -m bench.tui [--db PATH] [--problems 500] [--reps 125] [--repeat 5]

Builds (once; reused when PATH exists) 500 problems x 4 temperatures x 64 samples and 4 sizes
(4, 8, 16, 32) x 125 reps = 1,000,000 draws with 7 metrics and 6 aggregators each, then times:
first paint (opening the file read-only to the app's first frame: the overview while the draw
frame loads in a worker), applying a filter, two aggregator terms with a plain-text search over
every question and solution (a new search each time, so never cached), sorting, moving the cursor, opening a batch view of 32
solutions, redrawing a batch, moving to the next column. Each interaction is timed from the key
event (sent as the terminal driver sends it) to the last frame the app paints for it, turned
into terminal bytes as a real terminal would get them; the loop polls every millisecond.
Pilot's own press-and-settle, which sleeps in 20 ms steps until the process looks idle, is shown
once on a no-op key: it is what Pilot adds, not what the user waits for. The naive baseline,
measured in the same run, computes the same filtered per-problem aggregates with uncached DuckDB
GROUP BYs over the stored rows (what the UI would do without its cached draw frame).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from divtui.store import insert, open_db, transaction
from divtui.store import vocabulary as vocab

TEMPS = (0.3, 0.5, 0.7, 1.0)
SIZES = (4, 8, 16, 32)
N = 64
METRICS = vocab.METRIC_ORDER
AGGS = vocab.OUTCOMES
SCORER = "orm:bench"
EMBEDDER = "bench-embedder@256"


def _append(con: Any, table: str, data: pa.Table) -> None:
    """Bulk-append an Arrow table to a table without a key."""
    con.register("_bench_rows", data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _bench_rows")
    finally:
        con.unregister("_bench_rows")


def build(path: Path, problems: int, reps: int, seed: int = 0) -> int:
    """Write the synthetic study straight as rows; returns the number of draws."""
    rng = np.random.default_rng(seed)
    con = open_db(path)
    n_pools = problems * len(TEMPS)
    pid = np.repeat([f"bench/{p:04d}" for p in range(problems)], len(TEMPS))
    ptemp = np.tile(TEMPS, problems)
    s_pool = np.repeat(np.arange(n_pools), N)
    n_samples = n_pools * N
    skill = rng.random(n_pools)
    correct = rng.random(n_samples) < skill[s_pool]
    words = np.array(
        ["so", "we", "add", "the", "terms", "x", "=", "then", "[bold]", "\\frac{1}{2}"]
    )
    texts = [" ".join(rng.choice(words, size=40)) + f" \\boxed{{{int(c)}}}" for c in correct]
    with transaction(con):
        insert(con, "runs", pa.table({"run_id": ["bench"], "source": ["bench"], "model": ["m"]}))
        insert(
            con,
            "problems",
            pa.table(
                {
                    "problem_id": [f"bench/{p:04d}" for p in range(problems)],
                    "question": [f"Bench problem {p}: compute it." for p in range(problems)],
                    "gold_answer": ["1"] * problems,
                }
            ),
        )
        insert(
            con,
            "samples",
            pa.table(
                {
                    "sample_id": np.arange(n_samples, dtype=np.int64),
                    "run_id": ["bench"] * n_samples,
                    "problem_id": pid[s_pool],
                    "temperature": ptemp[s_pool],
                    "idx": np.tile(np.arange(N, dtype=np.int32), n_pools),
                    "text": texts,
                    "mean_logprob": -rng.random(n_samples),
                    "answer": correct.astype(int).astype(str),
                    "correct": correct,
                    "answer_class": (~correct).astype(np.int32),
                }
            ),
        )
        insert(
            con,
            "scores",
            pa.table(
                {
                    "sample_id": np.arange(n_samples, dtype=np.int64),
                    "scorer": [SCORER] * n_samples,
                    "value": rng.random(n_samples),
                }
            ),
        )
        vec = rng.normal(size=(n_samples, 16)).astype(np.float32)
        emb = pa.FixedSizeListArray.from_arrays(pa.array(vec.ravel()), 16).cast(
            pa.list_(pa.float32())
        )
        insert(
            con,
            "embeddings",
            pa.table(
                {
                    "sample_id": np.arange(n_samples, dtype=np.int64),
                    "embedder": [EMBEDDER] * n_samples,
                    "vec": emb,
                }
            ),
        )
    total = 0
    for k in SIZES:
        n_draws = n_pools * reps
        d_pool = np.repeat(np.arange(n_pools), reps)
        ids = np.arange(total, total + n_draws, dtype=np.int64)
        picks = np.argsort(rng.random((n_draws, N)), axis=1)[:, :k]
        members = d_pool[:, None] * N + picks
        offsets = pa.array(np.arange(0, n_draws * k + 1, k, dtype=np.int32))
        lists = pa.ListArray.from_arrays(offsets, pa.array(members.ravel().astype(np.int64)))
        draws = pa.table(
            {
                "draw_id": ids,
                "run_id": ["bench"] * n_draws,
                "problem_id": pid[d_pool],
                "temperature": ptemp[d_pool],
                "k": np.full(n_draws, k, dtype=np.int32),
                "rep": np.tile(np.arange(reps, dtype=np.int32), n_pools),
                "seed": np.zeros(n_draws, dtype=np.int64),
                "sample_ids": lists,
            }
        )
        mc = correct[members]
        with transaction(con):
            insert(con, "draws", draws)
            for m in METRICS:
                emb_name = (
                    EMBEDDER if m in ("cosine_sim", "dpp", "qual_dpp", "near_dup_pairs") else ""
                )
                _append(
                    con,
                    "draw_metrics",
                    pa.table(
                        {
                            "draw_id": ids,
                            "metric": [m] * n_draws,
                            "embedder": [emb_name] * n_draws,
                            "scorer": [""] * n_draws,
                            "value": rng.normal(size=n_draws),
                        }
                    ),
                )
            for a in AGGS:
                j = rng.integers(0, k, size=n_draws)
                ok = mc.any(axis=1) if a == vocab.COVERAGE else mc[np.arange(n_draws), j]
                _append(
                    con,
                    "draw_outcomes",
                    pa.table(
                        {
                            "draw_id": ids,
                            "aggregator": [a] * n_draws,
                            "embedder": [EMBEDDER if vocab.needs(a).embedder else ""] * n_draws,
                            "scorer": [SCORER if vocab.needs(a).scorer else ""] * n_draws,
                            "sample_id": members[np.arange(n_draws), j],
                            "answer": ok.astype(int).astype(str),
                            "correct": ok,
                        }
                    ),
                )
        total += n_draws
    con.close()
    return total


NAIVE_FILTER = f"""
    WITH sel AS (
        SELECT d.draw_id, d.run_id, d.problem_id, d.temperature FROM draws d
        JOIN draw_outcomes o USING (draw_id)
        WHERE d.k = 8 AND o.aggregator = '{vocab.MAJ}' AND NOT o.correct
    ),
    agg AS (
        SELECT s.run_id, s.problem_id, s.temperature, o.aggregator, avg(o.correct::INT) AS acc
        FROM sel s JOIN draw_outcomes o USING (draw_id) GROUP BY ALL
    ),
    met AS (
        SELECT s.run_id, s.problem_id, s.temperature, m.metric, avg(m.value) AS mean
        FROM sel s JOIN draw_metrics m USING (draw_id) GROUP BY ALL
    )
    SELECT (SELECT count(*) FROM agg), (SELECT count(*) FROM met)
"""


def time_compute(path: Path, repeat: int) -> dict[str, list[float]]:
    """The filter's computation alone: cached frame + NumPy against the uncached SQL."""
    from divtui.engine import browse as eb
    from divtui.tui import state

    con = open_db(path, create=False)
    try:
        data = state.load(con)
        f = eb.parse_filters("k=8 maj=wrong")
        out: dict[str, list[float]] = {}
        for _ in range(repeat):
            t0 = time.perf_counter()
            eb.problem_table(data.frame, data.pools, f, metrics=data.metrics)
            out.setdefault("filter compute: cached frame", []).append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            con.execute(NAIVE_FILTER).fetchall()
            out.setdefault("filter compute: naive SQL", []).append(time.perf_counter() - t0)
        return out
    finally:
        con.close()


async def settle(pilot: Any, app: Any) -> None:
    """Wait until workers are done and messages handled (Pilot's way: sleeps of 20 ms+)."""
    for _ in range(2):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()


class PaintClock:
    """Records when the app last sent a frame, and produces the terminal bytes of each frame.

    Headless apps skip turning a compositor update into escape sequences; the clock does it,
    so a measured frame costs what it costs in a terminal.
    """

    def __init__(self, app: Any) -> None:
        """Wrap ``app._display``."""
        from textual._compositor import CompositorUpdate

        self.app, self.last, self.frames = app, 0.0, 0
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            """Display, then render the update's segments like a real driver would."""
            original(screen, renderable)
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
                self.frames += 1
                self.last = time.perf_counter()

        app._display = display

    def idle(self) -> bool:
        """No worker running and nothing waiting to be laid out or painted."""
        screen = self.app.screen
        return not (
            any(w.is_running for w in self.app.workers)
            or screen._layout_required
            or screen._repaint_required
            or screen._dirty_widgets
            or self.app._batch_count
        )

    async def until_painted(self, t0: float, done: Any, timeout: float = 30.0) -> float:
        """Seconds from ``t0`` to the last frame painted once ``done()`` holds and all is idle
        (to ``done()`` itself when nothing needed painting)."""
        ready_at = None
        while time.perf_counter() - t0 < timeout:
            await asyncio.sleep(0.001)
            if ready_at is None and done():
                ready_at = time.perf_counter()
            if ready_at is not None and self.idle():
                await asyncio.sleep(0.02)  # nothing more arrives: the frame was the last one
                if self.idle():
                    return max(self.last, ready_at) - t0
        raise TimeoutError("the interaction never finished painting")


def send_key(app: Any, key: str) -> float:
    """Send a key event as the terminal driver does; returns the time it was sent."""
    from textual import events

    event = events.Key(key, key if len(key) == 1 else None)
    event.set_sender(app)
    t0 = time.perf_counter()
    app._driver.send_message(event)
    return t0


def _title(app: Any) -> str:
    """The batch view's title as plain text ('' while the screen is still being composed)."""
    from textual.css.query import NoMatches

    try:
        return str(app.screen.query_one("#batch-title").render())
    except NoMatches:
        return ""


async def measure(path: Path, repeat: int) -> dict[str, list[float]]:
    """Drive the app and time each interaction from the key event to its last painted frame."""
    from divtui.tui.access import DbAccess
    from divtui.tui.app import DivApp
    from divtui.tui.screens.batch import BatchScreen

    out: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    db = DbAccess(path)  # read-only, as `divtui browse` opens it
    try:
        app = DivApp(db, "bench.duckdb")
        clock = PaintClock(app)
        async with app.run_test(size=(120, 36)) as pilot:
            while not clock.frames:
                await asyncio.sleep(0.001)
            out["first paint"] = [clock.last - t0]
            while app.data is None:
                await asyncio.sleep(0.01)
            out["draw frame load (background)"] = [time.perf_counter() - t0]
            await settle(pilot, app)
            out["overview report (background)"] = [time.perf_counter() - t0]
            for _ in range(repeat):
                t1 = time.perf_counter()
                await pilot.press("z")
                await settle(pilot, app)
                out.setdefault("Pilot press + settle (no-op key)", []).append(
                    time.perf_counter() - t1
                )
                t1 = send_key(app, "z")
                out.setdefault("no-op key", []).append(await clock.until_painted(t1, lambda: True))
            await pilot.press("f3")
            await settle(pilot, app)
            screen = app.screen
            state = screen.query_one("#filter-state")
            for i in range(repeat):
                text = "k=8 maj=wrong" if i % 2 == 0 else "k=8 bst=wrong"
                screen.query_one("#filter").value = text
                screen.query_one("#filter").focus()
                await settle(pilot, app)
                t1 = send_key(app, "enter")

                def filtered(text: str = text) -> bool:
                    return f"filters: {text} " in str(state.render())

                out.setdefault("apply a filter", []).append(await clock.until_painted(t1, filtered))
            for i in range(repeat):
                word = ("so", "we", "add", "the", "terms", "then", "x")[i % 7]
                text = f"k=8 maj=wrong bst=correct \\frac{{1}}{{2}} {word}"
                screen.query_one("#filter").value = text
                screen.query_one("#filter").focus()
                await settle(pilot, app)
                t1 = send_key(app, "enter")

                def searched(text: str = text) -> bool:
                    return f"filters: {text} " in str(state.render())

                out.setdefault("two aggregators + text search", []).append(
                    await clock.until_painted(t1, searched)
                )
            table = screen.query_one("#problems")
            for i in range(repeat):
                arrow = " ▲" if i % 2 == 0 else " ▼"
                t1 = time.perf_counter()
                screen.sort_by("dpp", 1 if i % 2 == 0 else -1)
                out.setdefault("sort (header click handler)", []).append(
                    await clock.until_painted(
                        t1,
                        lambda a=arrow: any(
                            x.startswith("dpp@") and x.endswith(a) for x in table.labels()
                        ),
                    )
                )
            for _ in range(repeat):
                t1 = send_key(app, "down")
                out.setdefault("move the cursor", []).append(
                    await clock.until_painted(t1, lambda: True)
                )
            screen.query_one("#filter").value = "k=32"
            screen.query_one("#filter").focus()
            await pilot.press("enter")
            await settle(pilot, app)
            table.focus()
            for _ in range(repeat):
                await settle(pilot, app)
                t1 = send_key(app, "o")

                def opened() -> bool:
                    return isinstance(app.screen, BatchScreen) and "draw 1/" in _title(app)

                out.setdefault("open batch view (32)", []).append(
                    await clock.until_painted(t1, opened)
                )
                assert len(app.screen.detail["members"]) == 32
                for step in range(2, 4):
                    t1 = send_key(app, "n")
                    out.setdefault("redraw batch (next draw)", []).append(
                        await clock.until_painted(t1, lambda s=step: f"draw {s}/" in _title(app))
                    )
                t1 = send_key(app, "right")
                out.setdefault("next column", []).append(
                    await clock.until_painted(t1, lambda: app.screen.focus_pos == 1)
                )
                await pilot.press("escape")
                await settle(pilot, app)
    finally:
        db.close()
    return out


def main() -> None:
    """Build the study if needed, measure, print a table with ratios to the naive filter."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("/tmp/divtui-bench-tui.duckdb"))
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--reps", type=int, default=125)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-prune", action="store_true", help="skip the pruning-screen update timing")
    args = ap.parse_args()
    if not args.db.exists():
        t0 = time.perf_counter()
        n = build(args.db, args.problems, args.reps)
        print(f"built {args.db}: {n:,} draws in {time.perf_counter() - t0:.1f} s")
    load0 = os.getloadavg()
    res = asyncio.run(measure(args.db, args.repeat))
    res.update(time_compute(args.db, args.repeat))
    naive = statistics.median(res["filter compute: naive SQL"])
    filt = statistics.median(res["filter compute: cached frame"])
    print(f"{'step':<34} {'median ms':>10} {'max ms':>9} {'n':>3}")
    for name, times in res.items():
        med, top = 1000 * statistics.median(times), 1000 * max(times)
        print(f"{name:<34} {med:>10.1f} {top:>9.1f} {len(times):>3}")
    print(f"filter computation: cached frame is {naive / filt:.1f}x faster than the naive SQL")
    load1 = os.getloadavg()
    print(
        f"load average (1 min) {load0[0]:.2f} before, {load1[0]:.2f} after; {os.cpu_count()} CPUs"
    )
    if not args.no_prune:
        from bench.tui_prune import run as time_pruning

        time_pruning(problems=4, n=64, size=32, repeat=10, naive_repeat=2)


if __name__ == "__main__":
    main()
