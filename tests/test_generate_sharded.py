"""Data-parallel generation on CPU with the transformers backend: shards, landing, ingest, resume."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from divtui.engine.generate import generate_db, run_id_for, todo_pools
from divtui.engine.shard import (
    device_groups,
    landing_dir,
    run_shard,
    split_pools,
    write_shard,
)
from divtui.store import open_db
from divtui.store.landing import ingest_landing, landing_batches

from .conftest import run_divtui
from .test_generate import problems_file, spec_for, stored
from .tiny_models import build_causal_lm, device_for_tests, dtype_for_tests


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny causal LM saved to a folder."""
    return build_causal_lm(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="module")
def backend(model_dir: Path) -> Any:
    """The transformers backend on the test device."""
    from divtui.engine.backend_transformers import load

    return load(str(model_dir), device=device_for_tests(), dtype=dtype_for_tests(), batch_size=3)


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, backend: Any) -> tuple:
    """(folder, spec, stored rows) of one ordinary one-engine run over 3 problems x 2 temps."""
    folder = tmp_path_factory.mktemp("whole")
    spec = spec_for(model_dir, problems_file(folder), pools_per_call=2)
    con = open_db(folder / "whole.duckdb")
    generate_db(con, spec, backend=backend)
    con.close()
    return folder, spec, stored(folder / "whole.duckdb")


def assert_same_samples(a: list[tuple], b: list[tuple]) -> None:
    """Same ids, pools, texts, token counts and finish reasons; log-prob sums to float noise."""
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert x[:6] == y[:6] and x[8] == y[8]
        assert x[6] == pytest.approx(y[6], abs=1e-4)


def test_split_pools_partitions_and_balances_random_inputs() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        todo = [
            ({"problem_id": f"p{i}"}, float(t))
            for i in range(rng.integers(0, 30))
            for t in (0.3, 1.0)
        ]
        k = int(rng.integers(1, 6))
        shards = split_pools(todo, k)
        flat = [x for s in shards for x in s]
        assert len(shards) == k and sorted(map(repr, flat)) == sorted(map(repr, todo))
        sizes = [len(s) for s in shards]
        assert max(sizes) - min(sizes) <= 1


def test_device_groups_slice_devices_in_engine_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    rng = np.random.default_rng(4)
    for _ in range(40):
        dp, tp = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        gpus = [str(g) for g in rng.integers(0, 8, size=dp * tp + int(rng.integers(0, 3)))]
        got = device_groups(gpus, dp, tp)
        assert got == [",".join(gpus[r * tp : r * tp + tp]) for r in range(dp)]
    assert device_groups(None, 2, 2) == ["0,1", "2,3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    assert device_groups(None, 2, 1) == ["5", "7"]
    assert device_groups(["0", "0"], 2, 1) == ["0", "0"]
    with pytest.raises(ValueError, match=r"needs 4 GPUs; 2 given \(5,7\); list them with --gpus"):
        device_groups(None, 2, 2)


def test_fake_two_shard_split_lands_exactly_the_unsharded_samples(
    tmp_path: Path, model_dir: Path, unsharded: tuple
) -> None:
    _, spec, whole = unsharded
    spec = replace(spec, data_parallel_size=2)
    con = open_db(tmp_path / "sharded.duckdb")
    from divtui.engine.datasets import load_problems

    problems = load_problems(spec.dataset)
    run_id = run_id_for(spec)
    assert run_id == run_id_for(replace(spec, data_parallel_size=1))
    folder = landing_dir(con, run_id)
    folder.mkdir(parents=True)
    todo = todo_pools(con, run_id, spec, problems)
    for rank, pools in enumerate(split_pools(todo, 2)):
        stats = run_shard(write_shard(folder, rank, spec, run_id, pools))
        assert stats["pools"] == len(pools) == 3
    batches = landing_batches(folder)
    assert {b.name[:4] for b in batches} == {"r000", "r001"}
    import pyarrow.parquet as pq

    pools = [pq.read_table(b / "samples.parquet").to_pandas() for b in batches]
    sizes = [f.groupby(["problem_id", "temperature"]).size() for f in pools]
    assert all((s == spec.n).all() for s in sizes) and sum(len(s) for s in sizes) == 6
    assert [(b / "runs.parquet").exists() for b in batches].count(True) == 2
    added = ingest_landing(con, folder)
    assert added["samples"] == 24 and added["runs"] == 1 and added["batches"] == len(batches)
    again = ingest_landing(con, folder)
    assert again["samples"] == 0 and again["runs"] == 0
    (config,) = con.execute("SELECT config FROM runs").fetchall()[0]
    assert json.loads(config)["data_parallel_size"] == 2
    con.close()
    assert_same_samples(stored(tmp_path / "sharded.duckdb"), whole)


def test_interrupted_sharded_run_ingests_leftovers_then_two_processes_finish_it(
    tmp_path: Path, model_dir: Path, unsharded: tuple
) -> None:
    _, spec, whole = unsharded
    spec = replace(spec, data_parallel_size=2)
    db = tmp_path / "resume.duckdb"
    con = open_db(db)
    from divtui.engine.datasets import load_problems

    problems = load_problems(spec.dataset)
    run_id = run_id_for(spec)
    folder = landing_dir(con, run_id)
    folder.mkdir(parents=True)
    first = split_pools(todo_pools(con, run_id, spec, problems), 3)[0]
    run_shard(write_shard(folder, 0, spec, run_id, first))  # landed, never ingested: a crash
    seen: list[tuple[int, int]] = []
    stats = generate_db(con, spec, progress=lambda d, t, _: seen.append((d, t)))
    assert stats["pools_skipped"] == 2 and stats["pools_done"] == 4 and stats["engines"] == 2
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    assert stats["tokens"] == sum(e["tokens"] for e in stats["engine_stats"])
    assert landing_batches(folder) == []
    assert generate_db(con, spec)["pools_skipped"] == 6
    con.close()
    assert_same_samples(stored(db), whole)


def test_cli_data_parallel_failure_is_one_line_and_keeps_what_is_stored(
    tmp_path: Path, model_dir: Path
) -> None:
    data = problems_file(tmp_path, 2)
    db = tmp_path / "cli.duckdb"
    args = ["generate", "--db", str(db), "--dataset", str(data), "--n", "2", "--max-tokens", "4"]
    args += ["--temperatures", "0.5", "--device", "cpu", "--data-parallel-size", "2"]
    bad = run_divtui(*args, "--model", str(tmp_path / "missing-model"))
    assert bad.returncode == 1, bad.stderr
    assert "Traceback" not in bad.stderr
    errors = [x for x in bad.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and bad.stderr.strip().endswith(errors[0])
    line = errors[0]
    print(line)
    assert (
        line.startswith("error: data-parallel engine 0 failed (exit 1): ")
        and "engine-0.log" in line
    )
    ok = run_divtui(*args, "--model", str(model_dir))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().startswith("run transformers:tiny-llama:")
    assert "2 pools sampled, 0 already done, 4 samples" in ok.stdout
    assert len(stored(db)) == 4
