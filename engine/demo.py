"""`divtui demo`: the simulated study built through the real pipeline (grade, embed, draw).

Every stage skips finished work, so an interrupted build resumes and a complete one is left as
it is. The file holds only the run ``demo``; a file with other runs is refused, never mixed.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from divtui.engine.specs import DrawSpec, EmbedSpec, GradeSpec, PruneSpec
from divtui.store import insert, open_db, transaction
from divtui.store.ids import sample_ids

from . import simulate as sim

RUN_ID = "demo"
SOURCE = "demo (simulated)"
MODEL = "simulated-sampler"
SIZES = (4, 8, 16, 32)
REPS = 20
SEED = 0
PRUNE_SIZE = 32
PRUNE_KEEP = (1, 2, 4, 8, 16)

Progress = Callable[[int, int, str], None]


class DemoError(ValueError):
    """The demo cannot be built at this path; str() is one line for the user."""


def expected_counts() -> dict[str, int]:
    """Rows a complete demo holds: samples, graded, embedded, draws, pruned draws."""
    n = sim.N_PROBLEMS * len(sim.TEMPERATURES) * sim.N_SAMPLES
    pools = sim.N_PROBLEMS * len(sim.TEMPERATURES)
    return {
        "samples": n,
        "graded": n,
        "embedded": n,
        "draws": pools * sum(min(REPS, math.comb(sim.N_SAMPLES, k)) for k in SIZES),
        "pruned": pools * min(REPS, math.comb(sim.N_SAMPLES, PRUNE_SIZE)),
    }


def demo_counts(con: duckdb.DuckDBPyConnection, embedder: str) -> dict[str, int]:
    """Rows of the demo run stored so far, by stage."""
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM samples WHERE run_id = $run),
               (SELECT count(*) FROM samples WHERE run_id = $run AND correct IS NOT NULL),
               (SELECT count(*) FROM embeddings e JOIN samples s USING (sample_id)
                 WHERE s.run_id = $run AND e.embedder = $emb),
               (SELECT count(*) FROM draws WHERE run_id = $run AND seed = $seed),
               (SELECT count(DISTINCT p.draw_id) FROM prune_outcomes p JOIN draws d USING (draw_id)
                 WHERE d.run_id = $run AND d.k = $n)
        """,
        {"run": RUN_ID, "emb": embedder, "seed": SEED, "n": PRUNE_SIZE},
    ).fetchall()[0]
    names = ("samples", "graded", "embedded", "draws", "pruned")
    return dict(zip(names, map(int, row), strict=True))


def other_runs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Runs in the file that are not the demo."""
    return [
        r for (r,) in con.execute("SELECT run_id FROM runs WHERE run_id <> ?", [RUN_ID]).fetchall()
    ]


def remove_demo(path: str | Path) -> bool:
    """Delete a demo database file (and its WAL); refuse a file holding other runs."""
    path = Path(path)
    if not path.exists():
        return False
    con = open_db(path, read_only=True)
    try:
        others = other_runs(con)
    finally:
        con.close()
    if others:
        raise DemoError(
            f"{path}: holds runs other than the demo ({', '.join(others[:3])}); not deleting it"
        )
    path.unlink()
    Path(f"{path}.wal").unlink(missing_ok=True)
    return True


def run_row() -> pd.DataFrame:
    """The demo's row of ``runs``, with the seeds and sizes that make it reproducible."""
    from divtui import __version__

    config = {
        "simulator": "divtui.engine.simulate",
        "seed": SEED,
        "n_problems": sim.N_PROBLEMS,
        "temperatures": list(sim.TEMPERATURES),
        "n_samples": sim.N_SAMPLES,
        "scorer": sim.SCORER,
        "draws": {"sizes": list(SIZES), "reps": REPS, "seed": SEED},
    }
    return pd.DataFrame(
        {
            "run_id": [RUN_ID],
            "source": [SOURCE],
            "model": [MODEL],
            "config": [json.dumps(config)],
            "host": ["local"],
            "divtui_version": [__version__],
        }
    )


def insert_study(con: duckdb.DuckDBPyConnection) -> int:
    """Simulate the study and store run, problems, samples and rewards in one transaction."""
    problems, samples = sim.simulate_study(seed=SEED)
    ids = sample_ids(RUN_ID, samples.problem_id, samples.temperature, samples.idx)
    rows = pd.DataFrame(
        {
            "sample_id": ids,
            "run_id": RUN_ID,
            "problem_id": samples.problem_id,
            "temperature": samples.temperature,
            "idx": samples.idx.astype("int32"),
            "text": samples.text,
            "n_tokens": samples.n_tokens.astype("int32"),
            "sum_logprob": samples.sum_logprob,
            "mean_logprob": samples.mean_logprob,
            "finish_reason": samples.finish_reason,
            "source_answer": samples.answer,
            "source_correct": samples.correct,
        }
    )
    scores = pd.DataFrame({"sample_id": ids, "scorer": sim.SCORER, "value": samples.reward})
    with transaction(con):
        insert(con, "runs", run_row())
        insert(con, "problems", problems)
        insert(con, "samples", rows)
        insert(con, "scores", scores)
    return len(rows)


def _embedder() -> str:
    """What to embed with: the bundled all-MiniLM-L6-v2 folder when installed, else its hub id."""
    from .embed import DEFAULT_EMBEDDER, bundled_model_path

    bundled = bundled_model_path()
    return str(bundled) if bundled is not None else DEFAULT_EMBEDDER


def build_demo(
    path: str | Path,
    *,
    progress: Progress | None = None,
    notice: Callable[[str], None] = print,
    backend: str = "torch",
) -> dict[str, Any]:
    """Build (or finish building) the demo database at ``path``; returns what each stage did.

    ``backend`` is the embedding backend (the demo uses torch; ``bench.demo_build`` times others).
    """
    from .embed import DEFAULT_EMBEDDER
    from .embed import stored_name as embed_name

    started = time.perf_counter()
    stored_name = embed_name(DEFAULT_EMBEDDER, 256, backend)
    want = expected_counts()
    con = open_db(path)
    out: dict[str, Any] = {"path": str(path), "stages": {}, "seconds": {}}
    try:
        others = other_runs(con)
        if others:
            raise DemoError(
                f"{path}: holds other runs ({', '.join(others[:3])}); build the demo in a new "
                "file (--db NEW.duckdb)"
            )
        before = demo_counts(con, stored_name)
        out["complete_before"] = before == want
        if out["complete_before"]:
            out["counts"] = before
            return out
        stages: list[tuple[str, Callable[[], Any]]] = [
            ("simulate", lambda: _simulate(con, before, want)),
            ("grade", lambda: _grade(con, progress, notice)),
            ("embed", lambda: _embed(con, progress, notice, backend)),
            ("draws", lambda: _draws(con, progress, notice)),
            ("prune", lambda: _prune(con, progress, notice)),
            ("report cache", lambda: _report_cache(con, progress)),
        ]
        for name, stage in stages:
            t0 = time.perf_counter()
            out["stages"][name] = stage()
            out["seconds"][name] = round(time.perf_counter() - t0, 2)
        out["counts"] = demo_counts(con, stored_name)
    finally:
        con.close()
    out["seconds"]["total"] = round(time.perf_counter() - started, 2)
    return out


def _simulate(
    con: duckdb.DuckDBPyConnection, before: dict[str, int], want: dict[str, int]
) -> dict[str, int]:
    """Store the simulated samples unless they are all there already."""
    if before["samples"] == want["samples"]:
        return {"inserted": 0}
    return {"inserted": insert_study(con)}


def _grade(
    con: duckdb.DuckDBPyConnection, progress: Progress | None, notice: Callable[[str], None]
) -> Any:
    """Real grading with math-verify."""
    from .grading import grade_db

    return grade_db(con, GradeSpec(run_id=RUN_ID), progress=progress)


def _embed(
    con: duckdb.DuckDBPyConnection,
    progress: Progress | None,
    notice: Callable[[str], None],
    backend: str = "torch",
) -> Any:
    """Real SBERT embeddings, or a notice when sentence-transformers is not installed."""
    if importlib.util.find_spec("sentence_transformers") is None:
        notice(
            "sentence-transformers is not installed (pip install 'divtui[embed]'): "
            "cosine_sim, dpp and mbr_sem are left out"
        )
        return None
    from .embed import embed_db

    return embed_db(
        con,
        EmbedSpec(embedder=_embedder(), run_id=RUN_ID, backend=backend),
        progress=progress,
        notice=notice,
    )


def _draws(
    con: duckdb.DuckDBPyConnection, progress: Progress | None, notice: Callable[[str], None]
) -> Any:
    """Random batches with every metric and aggregator."""
    from .draws import run_draws

    return run_draws(
        con,
        DrawSpec(sizes=list(SIZES), reps=REPS, seed=SEED, run_id=RUN_ID),
        progress=progress,
        notice=notice,
    )


def _report_cache(con: duckdb.DuckDBPyConnection, progress: Progress | None) -> Any:
    """The overview's report tables with intervals, stored for the UI (engine.report_cache)."""
    from .report_cache import refresh_overview

    def tables(done: int, total: int, _name: str) -> None:
        """One bar for every table."""
        if progress is not None:
            progress(done, total, "report tables")

    return refresh_overview(con, progress=tables)


def _prune(
    con: duckdb.DuckDBPyConnection, progress: Progress | None, notice: Callable[[str], None]
) -> Any:
    """The pruning study on the size-32 draws, in the SBERT and BLEU spaces."""
    from .prune import run_prune

    metrics = ["sbert", "bleu"] if importlib.util.find_spec("sentence_transformers") else ["bleu"]
    return run_prune(
        con,
        PruneSpec(
            metrics=metrics, sizes=[PRUNE_SIZE], keep=list(PRUNE_KEEP), seed=SEED, run_id=RUN_ID
        ),
        progress=progress,
        notice=notice,
    )
