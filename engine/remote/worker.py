"""The remote side of a job: run one spec into its job folder, following the job-folder protocol.

The folder holds ``spec.json`` (uploaded by the client) and, written here: ``pid`` ("PID PGID"),
``status`` (running, done, failed, cancelled), ``progress.jsonl`` (one JSON object a line),
``error`` (one line, on failure), ``out/<table>.parquet`` (each written as .part, then renamed)
and ``DONE`` (written last, a JSON summary). stdout and stderr go to ``log`` (the launcher's
redirection). The stages run in a scratch DuckDB file, ``work.duckdb``, in the same folder.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from divtui.engine.specs import DrawSpec, EmbedSpec, GradeSpec, ScoreSpec
from divtui.store.jobs import RESULT_TABLES
from divtui.store.vocabulary import CANCELLED, DONE, FAILED, RUNNING

from . import jobspec as js
from .jobspec import SpecError, load_spec

Progress = Callable[[int, int, str], None]
EXPORT_TABLES = RESULT_TABLES


class JobCancelled(BaseException):
    """Raised in the worker when SIGTERM arrives (a `remote cancel`)."""


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a .part file and a rename, so readers never see half."""
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def say(message: str) -> None:
    """One line to the job's log (stdout is redirected there)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def progress_writer(path: Path, stage: str, min_interval: float = 0.2) -> Progress:
    """A progress callback appending ``{"stage", "done", "total", "label", "time"}`` lines."""
    last = [0.0]

    def progress(done: int, total: int, label: str) -> None:
        """Append one line (at most every ``min_interval`` s, but always the first and last)."""
        now = time.time()
        if done not in (0, total) and now - last[0] < min_interval:
            return
        last[0] = now
        line = {"time": round(now, 3), "stage": stage, "done": done, "total": total, "label": label}
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    return progress


def load_inputs(con: Any, job_dir: Path, spec: dict[str, Any]) -> None:
    """Insert the spec's problems and its shipped input tables into the scratch database."""
    import pandas as pd
    import pyarrow.parquet as pq

    from divtui.store import insert, transaction

    with transaction(con):
        insert(con, "problems", pd.DataFrame(spec["problems"]))
        for name in spec["inputs"]:
            insert(con, name, pq.read_table(job_dir / "input" / f"{name}.parquet"))


def run_generate(con: Any, spec: dict[str, Any], job_dir: Path) -> dict[str, Any]:
    """Sample the spec's pools with its backend, then grade them (unless told not to)."""
    from divtui.engine.generate import GenerateSpec, generate_db
    from divtui.engine.prompts import DEFAULT_SYSTEM_PROMPT

    g = spec["generate"]
    datasets = {p.get("dataset") for p in spec["problems"]}
    gspec = GenerateSpec(
        model=g["model"],
        dataset=datasets.pop() if len(datasets) == 1 and None not in datasets else "mixed",
        temperatures=g["temperatures"],
        n=g["n"],
        max_tokens=g["max_tokens"],
        seed=g["seed"],
        backend=g["backend"],
        run_id=g["run_id"],
        system_prompt=g["system_prompt"] or DEFAULT_SYSTEM_PROMPT,
        engine_args=g.get("engine_args"),
        **g.get("engine", {}),
    )
    say(
        f"generating: model {g['model']}, backend {g['backend']}, T={g['temperatures']}, n={g['n']}"
    )
    stats = generate_db(
        con,
        gspec,
        problems=spec["problems"],
        progress=progress_writer(job_dir / "progress.jsonl", "generate"),
    )
    say(f"generated: {stats}")
    result = {"generate": stats}
    if g["grade"]:
        result["grade"] = run_grade_stage(con, job_dir, GradeSpec(run_id=stats["run_id"]))
    return result


def run_grade_stage(con: Any, job_dir: Path, spec: GradeSpec) -> dict[str, Any]:
    """Extract and grade the scratch database's samples with math-verify."""
    from divtui.engine.grading import grade_db

    say("grading")
    stats = grade_db(con, spec, progress=progress_writer(job_dir / "progress.jsonl", "grade"))
    say(f"graded: {stats}")
    return stats


def run_grade(con: Any, spec: dict[str, Any], job_dir: Path) -> dict[str, Any]:
    """Grade the shipped samples as the spec says."""
    gspec = js.engine_spec(spec)
    assert isinstance(gspec, GradeSpec)
    return {"grade": run_grade_stage(con, job_dir, gspec)}


def run_score(con: Any, spec: dict[str, Any], job_dir: Path) -> dict[str, Any]:
    """Score the shipped samples with the spec's reward model (engine.rewards.score_db)."""
    from divtui.engine.rewards import score_db

    s = js.engine_spec(spec)
    assert isinstance(s, ScoreSpec)
    say(f"scoring: {s.scorer}, batch size {s.batch_size}, hidden {s.store_hidden}")
    stats = score_db(con, s, progress=progress_writer(job_dir / "progress.jsonl", "score"))
    say(f"scored: {stats}")
    return {"score": stats}


def run_embed(con: Any, spec: dict[str, Any], job_dir: Path) -> dict[str, Any]:
    """Embed the shipped samples with the spec's embedder (engine.embed.embed_db)."""
    from divtui.engine.embed import embed_db

    e = js.engine_spec(spec)
    assert isinstance(e, EmbedSpec)
    say(f"embedding: {e.embedder}, batch size {e.batch_size}")
    stats = embed_db(
        con, e, progress=progress_writer(job_dir / "progress.jsonl", "embed"), notice=say
    )
    say(f"embedded: {stats}")
    return {"embed": stats}


def run_draw(con: Any, spec: dict[str, Any], job_dir: Path) -> dict[str, Any]:
    """Draw batches of the shipped pools and compute their metrics (engine.draws.run_draws)."""
    from divtui.engine.draws import run_draws

    d = js.engine_spec(spec)
    assert isinstance(d, DrawSpec)
    say(f"drawing: sizes {list(d.sizes)}, reps {d.reps}, seed {d.seed}")
    stats = run_draws(
        con, d, progress=progress_writer(job_dir / "progress.jsonl", "draw"), notice=say
    )
    say(f"drawn: {stats}")
    return {"draw": stats}


STAGES: dict[str, Callable[[Any, dict[str, Any], Path], dict[str, Any]]] = {
    "generate": run_generate,
    "grade": run_grade,
    "score": run_score,
    "embed": run_embed,
    "draw": run_draw,
}
OUTPUTS: dict[str, tuple[str, ...]] = {
    "generate": EXPORT_TABLES,
    "grade": EXPORT_TABLES,
    "score": ("scores", "embeddings"),
    "embed": ("embeddings",),
    "draw": ("draws", "draw_metrics", "draw_outcomes", "draw_sets"),
}


def export_tables(
    con: Any, out_dir: Path, tables: tuple[str, ...] = EXPORT_TABLES
) -> dict[str, int]:
    """Write each non-empty table of ``tables`` to out/<table>.parquet (.part, then rename)."""
    import pyarrow.parquet as pq

    out_dir.mkdir(exist_ok=True)
    written = {}
    for table in tables:
        data = con.sql(f"SELECT * FROM {table}").to_arrow_table()
        if data.num_rows == 0:
            continue
        part = out_dir / f"{table}.parquet.part"
        pq.write_table(data, part)
        os.replace(part, out_dir / f"{table}.parquet")
        written[table] = data.num_rows
    return written


def _on_term(signum: int, frame: Any) -> None:
    """SIGTERM handler: unwind the job as cancelled."""
    raise JobCancelled()


def _failure(job_dir: Path, status: str, message: str) -> None:
    """Record a failed or cancelled job (best effort: the disk may be full)."""
    say(message)
    try:
        write_atomic(job_dir / "error", message.replace("\n", " ")[:2000] + "\n")
        write_atomic(job_dir / "status", status + "\n")
    except OSError:
        pass


def run_job(spec_path: str | Path) -> int:
    """Run the job whose spec is ``spec_path`` in the spec's folder; returns the exit code."""
    spec_path = Path(spec_path).absolute()
    job_dir = spec_path.parent
    signal.signal(signal.SIGTERM, _on_term)
    con = None
    try:
        write_atomic(job_dir / "pid", f"{os.getpid()} {os.getpgid(0)}\n")
        if (job_dir / "DONE").exists():
            say("job already done; nothing to do")
            return 0
        write_atomic(job_dir / "status", f"{RUNNING}\n")
        spec = load_spec(spec_path)
        say(f"job {spec['job_id']} ({spec['kind']}) started, pid {os.getpid()}")
        from divtui.store import open_db

        con = open_db(job_dir / "work.duckdb")
        load_inputs(con, job_dir, spec)
        result = STAGES[spec["kind"]](con, spec, job_dir)
        written = export_tables(con, job_dir / "out", OUTPUTS[spec["kind"]])
        con.close()
        con = None
        summary = {"job_id": spec["job_id"], "kind": spec["kind"], "tables": written, **result}
        write_atomic(job_dir / "DONE", json.dumps(summary, default=str) + "\n")
        write_atomic(job_dir / "status", f"{DONE}\n")
        say(f"done: {written}")
        return 0
    except JobCancelled:
        _failure(job_dir, CANCELLED, "job cancelled (SIGTERM)")
        return 143
    except KeyboardInterrupt:
        _failure(job_dir, CANCELLED, "job interrupted (SIGINT)")
        return 130
    except SpecError as e:
        _failure(job_dir, FAILED, f"bad job spec: {e}")
        return 1
    except OSError as e:
        traceback.print_exc(file=sys.stdout)
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            _failure(job_dir, FAILED, f"remote disk full: {e.strerror} ({e.filename or job_dir})")
        else:
            _failure(job_dir, FAILED, f"job crashed: {type(e).__name__}: {e}")
        return 1
    except Exception as e:
        traceback.print_exc(file=sys.stdout)
        first = (str(e).strip().splitlines() or [""])[0]
        if "No space left" in str(e) or "Disk quota" in str(e):
            _failure(job_dir, FAILED, f"remote disk full: {first}")
        else:
            _failure(job_dir, FAILED, f"job crashed: {type(e).__name__}: {first}")
        return 1
    finally:
        if con is not None:
            con.close()
