"""Data-parallel generation on one host: pools sharded over N engine processes that land Parquet.

The process holding the database (the one writer) splits the missing pools into N shards, starts
one worker per shard (``python -m divtui.engine.shard SHARD.json``) with its own
``CUDA_VISIBLE_DEVICES``, and ingests the batches the workers land beside the database, one
transaction each, exactly as remote job results land. Pool seeds do not depend on the shard,
so the samples are those of a one-engine run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from divtui.store import stable_id, terminal
from divtui.store.landing import ingest_landing, publish_batch

from .generate import GenerateSpec, Progress, load_backend, run_row, sample_pools

POLL_SECONDS = 0.5


def database_path(con: Any) -> Path:
    """The file behind ``con`` (landing folders live beside it); in-memory databases have none."""
    rows = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if not rows or not rows[0][0]:
        raise ValueError("data-parallel generation needs a database file (not in-memory)")
    return Path(rows[0][0])


def landing_dir(con: Any, run_id: str) -> Path:
    """``<db>.landing/generate-<run>`` : where this run's engines land their batches."""
    db = database_path(con)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)[:80]
    tag = f"{stable_id('landing', run_id) & 0xFFFFFFFF:08x}"
    return db.with_name(db.name + ".landing") / f"generate-{safe}-{tag}"


def ingest_leftovers(con: Any, run_id: str) -> dict[str, Any]:
    """Ingest batches an interrupted sharded run left behind (so they are not sampled again)."""
    try:
        folder = landing_dir(con, run_id)
    except ValueError:
        return {"batches": 0}
    if not folder.is_dir():
        return {"batches": 0}
    return ingest_landing(con, folder, remove=True)


def split_pools(
    todo: list[tuple[dict[str, Any], float]], shards: int
) -> list[list[tuple[dict[str, Any], float]]]:
    """Deal the pools round-robin over ``shards`` (every shard gets every temperature)."""
    return [todo[r::shards] for r in range(shards)]


def device_groups(gpus: list[str] | None, dp: int, tp: int) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` of each of the ``dp`` engines (``tp`` devices each).

    ``gpus`` lists devices in engine order (a device may repeat to share one GPU between
    engines); by default the devices of $CUDA_VISIBLE_DEVICES, else 0..dp*tp-1.
    """
    if gpus is None:
        env = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
        gpus = [g.strip() for g in env.split(",") if g.strip()] if env else None
        gpus = gpus if gpus else [str(i) for i in range(dp * tp)]
    if len(gpus) < dp * tp:
        raise ValueError(
            f"--data-parallel-size {dp} x --tensor-parallel-size {tp} needs {dp * tp} GPUs; "
            f"{len(gpus)} given ({','.join(gpus)}); list them with --gpus"
        )
    return [",".join(gpus[r * tp : (r + 1) * tp]) for r in range(dp)]


def write_shard(folder: Path, rank: int, spec: GenerateSpec, run_id: str, pools: list) -> Path:
    """The JSON a worker reads: the spec, the run id, its pools and their problems."""
    problems = {p["problem_id"]: p for p, _ in pools}
    doc = {
        "spec": asdict(spec),
        "run_id": run_id,
        "rank": rank,
        "pools": [[p["problem_id"], t] for p, t in pools],
        "problems": list(problems.values()),
    }
    path = folder / f"shard-{rank}.json"
    path.write_text(json.dumps(doc, default=str), encoding="utf-8")
    return path


def land(folder: Path, name: str, tables: dict[str, pd.DataFrame]) -> Path:
    """Write one batch (``<table>.parquet`` each) under ``.name.part``, then rename it to ``name``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = folder / f".{name}.part"
    part.mkdir(parents=True, exist_ok=True)
    for table, frame in tables.items():
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), part / f"{table}.parquet")
    return publish_batch(part, folder / name)


def run_shard(shard_path: str | Path) -> dict[str, Any]:
    """The worker: load the backend, sample the shard's pools, land each call's pools as a batch."""
    shard_path = Path(shard_path)
    doc = json.loads(shard_path.read_text(encoding="utf-8"))
    spec = GenerateSpec(**doc["spec"])
    folder, rank, run_id = shard_path.parent, int(doc["rank"]), doc["run_id"]
    problems = {p["problem_id"]: p for p in doc["problems"]}
    todo = [(problems[pid], float(t)) for pid, t in doc["pools"]]
    start = time.perf_counter()
    backend = load_backend(spec)
    loaded = time.perf_counter()
    (folder / f"ready-{rank}").write_text(f"{loaded - start:.3f}\n")
    runs = run_row(run_id, spec, backend)
    stats: dict[str, Any] = {"rank": rank, "pools": 0, "tokens": 0, "batches": 0}

    def sink(pools: list[pd.DataFrame]) -> None:
        """Land the finished pools of one call (the first batch also carries the runs row)."""
        tables = {"samples": pd.concat(pools, ignore_index=True)}
        if stats["batches"] == 0:
            tables["runs"] = runs
        land(folder, f"r{rank:03d}-{stats['batches']:06d}", tables)
        stats["batches"] += 1
        stats["pools"] += len(pools)
        stats["tokens"] += int(tables["samples"]["n_tokens"].sum())

    sample_pools(backend, spec, run_id, todo, sink)
    stats.update(load_seconds=loaded - start, generate_seconds=time.perf_counter() - loaded)
    (folder / f"stats-{rank}.json").write_text(json.dumps(stats) + "\n")
    return stats


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """One worker in its own process group, its output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(procs: list[subprocess.Popen]) -> None:
    """TERM each live worker's process group (its engine's children too), then KILL."""
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _last_line(log: Path) -> str:
    """The last non-empty line of a worker's log (for the error message)."""
    try:
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return terminal.one_line(lines[-1] if lines else "", 300)


def generate_sharded(
    con: Any,
    spec: GenerateSpec,
    run_id: str,
    todo: list[tuple[dict[str, Any], float]],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Sample ``todo`` on ``spec.data_parallel_size`` engine processes, ingesting as they land.

    Engines that share a device start one after another (each once the previous has loaded),
    so their memory checks do not race. A failed engine stops the others; what had landed is
    kept, and rerunning resumes.
    """
    dp, tp = spec.data_parallel_size, spec.tensor_parallel_size
    groups = device_groups(spec.gpus, dp, tp)
    folder = landing_dir(con, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("ready-*"):
        old.unlink()
    shards = [s for s in split_pools(todo, dp) if s]
    paths = [write_shard(folder, r, spec, run_id, s) for r, s in enumerate(shards)]
    logs = [folder / f"engine-{r}.log" for r in range(len(shards))]
    total = len(todo)
    stats: dict[str, Any] = {"pools_done": 0, "samples": 0, "tokens": 0, "engines": len(shards)}
    if progress:
        progress(0, total, "pools")
    procs: list[subprocess.Popen] = []
    started = time.perf_counter()

    def ingest() -> None:
        """Take in whatever has landed."""
        added = ingest_landing(con, folder, remove=True)
        n = added.get("samples", 0)
        stats["samples"] += n
        stats["pools_done"] += n // spec.n
        if n and progress:
            progress(stats["pools_done"], total, "pools")

    try:
        for r, path in enumerate(paths):
            if r and set(groups[r].split(",")) & {g for x in groups[:r] for g in x.split(",")}:
                while not (folder / f"ready-{r - 1}").exists():
                    if procs[-1].poll() is not None:
                        break
                    ingest()
                    time.sleep(POLL_SECONDS)
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": groups[r]}
            cmd = [sys.executable, "-m", "divtui.engine.shard", str(path)]
            procs.append(_start(cmd, env, logs[r]))
        while any(p.poll() is None for p in procs):
            failed = [r for r, p in enumerate(procs) if p.returncode not in (None, 0)]
            if failed:
                break
            ingest()
            time.sleep(POLL_SECONDS)
        failed = [r for r, p in enumerate(procs) if p.returncode not in (None, 0)]
        if failed:
            r = failed[0]
            raise RuntimeError(
                f"data-parallel engine {r} failed (exit {procs[r].returncode}): "
                f"{_last_line(logs[r])} (log: {logs[r]})"
            )
    finally:
        _stop(procs)
        ingest()
    stats["wall_seconds"] = round(time.perf_counter() - started, 2)
    per_engine = []
    for r in range(len(shards)):
        f = folder / f"stats-{r}.json"
        if f.exists():
            per_engine.append(json.loads(f.read_text()))
    stats["tokens"] = sum(e["tokens"] for e in per_engine)
    stats["engine_stats"] = per_engine
    return stats


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process: ``python -m divtui.engine.shard SHARD.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m divtui.engine.shard SHARD.json", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stats = run_shard(args[0])
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
