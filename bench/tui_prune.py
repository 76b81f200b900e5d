"""Benchmark of the UI's pruning update for a draw of N = 32, driven with Textual's Pilot.

    python -m bench.tui_prune [--problems 4] [--n 64] [--size 32] [--repeat 10]

Builds a synthetic study (bench.synthetic: ~150-300-word solutions, 384-d embeddings), draws
size-N batches, opens the pruning screen on one and times a key press that changes m until the
new clusters and picks are on screen (the worker's prune_draw plus the redraw), per metric space,
and prune_draw alone. Each update is timed as bench.tui times every interaction: from the key
event (sent as the terminal driver sends it) to the last frame the app paints for it, turned
into terminal bytes. Pilot's own press-and-settle on a no-op key is shown once: it is what Pilot
adds (it sleeps in 20 ms steps until the app looks idle), not what the user waits for.
The naive baseline, measured in the same run, computes one such update the plain way: sacrebleu
for every pair of the draw, textbook PAM by loops, the aggregators by loops.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from divtui.engine.draws import run_draws
from divtui.engine.prune import prune_draw
from divtui.engine.specs import DrawSpec
from divtui.store import open_db
from divtui.tui.app import DivApp
from divtui.tui.screens.prune import PruneScreen

from .synthetic import EMBEDDER, SCORER, build_study
from .tui import PaintClock, send_key, settle


async def time_updates(path: Path, repeat: int) -> dict[str, list[float]]:
    """Seconds per m change on the pruning screen (key event to last painted frame), per
    space, prune_draw alone, and Pilot's press-and-settle of a no-op key."""
    con = open_db(path, create=False)
    draw_id = con.execute("SELECT max(draw_id) FROM draws").fetchall()[0][0]
    app = DivApp(con, str(path))
    clock = PaintClock(app)
    out: dict[str, list[float]] = {"Pilot press + settle (no-op key)": [], "no-op key": []}
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        screen = PruneScreen(int(draw_id), SCORER, EMBEDDER)
        await app.push_screen(screen)
        await settle(pilot, app)
        for metric in ("sbert", "bleu"):
            while screen.metric != metric:
                await pilot.press("s")
                await settle(pilot, app)
            times = out.setdefault(f"pruning update ({metric})", [])
            for i in range(repeat):
                await settle(pilot, app)
                m0 = screen.m
                t0 = send_key(app, "plus" if i % 2 == 0 else "minus")

                def updated(m0: int = m0) -> bool:
                    """The key changed m and the clusters for the new m are in."""
                    shown = screen.result
                    return screen.m != m0 and shown is not None and shown["m"] == screen.m

                times.append(await clock.until_painted(t0, updated))
            compute = out.setdefault(f"  of which prune_draw ({metric})", [])
            cur = con.cursor()
            for i in range(repeat):
                t0 = time.perf_counter()
                prune_draw(cur, int(draw_id), metric=metric, m=8 + i % 2, scorer=SCORER)
                compute.append(time.perf_counter() - t0)
            cur.close()
        for _ in range(repeat):
            await settle(pilot, app)
            t0 = time.perf_counter()
            await pilot.press("f12")
            await settle(pilot, app)
            out["Pilot press + settle (no-op key)"].append(time.perf_counter() - t0)
            t0 = send_key(app, "f12")
            out["no-op key"].append(await clock.until_painted(t0, lambda: True))
    con.close()
    return out


def time_naive(path: Path, m: int, repeat: int) -> float:
    """Median seconds of one plain update: sacrebleu per pair, loop PAM, loop aggregators."""
    import sacrebleu

    from .prune import naive_pam

    con = open_db(path, read_only=True)
    (sids,) = con.execute("SELECT sample_ids FROM draws ORDER BY draw_id DESC LIMIT 1").fetchall()[
        0
    ]
    rows = con.execute(
        """SELECT s.sample_id, s.text, coalesce(s.answer_class, -1), s.correct, c.value, e.vec
           FROM samples s JOIN scores c USING (sample_id) JOIN embeddings e USING (sample_id)
           WHERE list_contains(?, s.sample_id) AND e.embedder = ? AND c.scorer = ?""",
        [sids, EMBEDDER, SCORER],
    ).fetchall()
    con.close()
    by = {r[0]: r for r in rows}
    r = [by[s] for s in sids]
    texts = [x[1] for x in r]
    k = len(texts)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        bleu = np.array(
            [
                [sacrebleu.sentence_bleu(texts[i], [texts[j]]).score for j in range(k)]
                for i in range(k)
            ]
        )
        d = 1 - (bleu + bleu.T) / 200
        np.fill_diagonal(d, 0)
        kept = sorted(naive_pam(d, m))
        votes: dict[int, int] = {}
        for i in kept:
            votes[r[i][2]] = votes.get(r[i][2], 0) + 1
        max(votes, key=lambda c: votes[c])
        max(kept, key=lambda i: r[i][4])
        max(kept, key=lambda i: sum(bleu[i, j] for j in kept if j != i))
        any(r[i][3] for i in kept)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Build, draw, time, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--n", type=int, default=64, help="samples per pool")
    ap.add_argument("--size", type=int, default=32, help="draw size N")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--naive-repeat", type=int, default=2)
    args = ap.parse_args()
    run(args.problems, args.n, args.size, args.repeat, args.naive_repeat)


def run(problems: int, n: int, size: int, repeat: int, naive_repeat: int) -> None:
    """Build a small study with draws of ``size``, time pruning updates, print them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.duckdb"
        build_study(path, problems=problems, temperatures=1, n=n)
        con = open_db(path)
        con.execute("SET enable_progress_bar = false")
        run_draws(con, DrawSpec(sizes=[size], reps=2, seed=0), notice=lambda _s: None)
        con.close()
        got = asyncio.run(time_updates(path, repeat))
        naive = time_naive(path, size // 2, naive_repeat)
    print(f"pruning screen, N = {size}, median of {repeat} key presses")
    for name, times in got.items():
        med = statistics.median(times)
        ratio = f"   naive / this = {naive / med:5.1f}x" if name.startswith("pruning") else ""
        print(f"  {name:<24} {med * 1000:8.1f} ms  (max {max(times) * 1000:.1f} ms){ratio}")
    print(f"  {'naive update (bleu)':<24} {naive * 1000:8.1f} ms  (sacrebleu pairs, loop PAM)")


if __name__ == "__main__":
    main()
