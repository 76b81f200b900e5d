"""vLLM engine settings from every entry point, the log-prob checks, and the Ray path's row maths."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from divtui.engine.backend_vllm import to_completion
from divtui.engine.engine_settings import (
    SettingError,
    check_engine_args,
    check_named,
    llm_kwargs,
    parse_engine_arg,
)
from divtui.engine.generate import GenerateSpec, check_spec, generate_db, pool_seed
from divtui.engine.ray_generate import chosen_logprob, request_rows, sample_row
from divtui.engine.remote.jobspec import SpecError, generate_spec, validate_spec
from divtui.engine.study import StudyError, load_study
from divtui.store import open_db
from divtui.store.landing import ingest_landing

from .conftest import run_divtui
from .test_generate import problems_file, spec_for, stored
from .tiny_models import build_causal_lm, device_for_tests, dtype_for_tests


def test_parse_engine_arg_reads_json_values_else_strings() -> None:
    assert parse_engine_arg("enable_prefix_caching=true") == ("enable_prefix_caching", True)
    assert parse_engine_arg("kv-cache-memory-bytes=1e9") == ("kv_cache_memory_bytes", 1e9)
    assert parse_engine_arg("swap_space=4") == ("swap_space", 4)
    assert parse_engine_arg('hf_overrides={"a": [1]}') == ("hf_overrides", {"a": [1]})
    assert parse_engine_arg("quantization=fp8") == ("quantization", "fp8")
    with pytest.raises(SettingError, match="expected KEY=VALUE"):
        parse_engine_arg("enforce_eager")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"seed": 3}, r"engine_args\.seed: set it with --seed"),
        ({"gpu_memory_utilization": 0.5}, "set it with --gpu-memory-utilization"),
        ({"data_parallel_size": 2}, "set it with --data-parallel-size"),
        ({"logprobs_mode": "processed_logprobs"}, r"'processed_logprobs' is refused"),
        ({"logprobs_mode": "raw_logits"}, r"'raw_logits' is refused"),
        ({"Bad Key": 1}, "is not an engine argument name"),
        ({"x": object()}, "must be plain data"),
    ],
)
def test_passthrough_refuses_what_divtui_sets_and_tempered_logprobs(
    args: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingError, match=message):
        check_engine_args(args)


def test_llm_kwargs_combine_named_settings_and_passthrough() -> None:
    named = {"gpu_memory_utilization": 0.35, "enforce_eager": True, "max_model_len": None}
    extra = {"logprobs_mode": "raw_logprobs", "enable_prefix_caching": True}
    assert llm_kwargs("m", 5, named, extra) == {
        "model": "m",
        "seed": 5,
        "gpu_memory_utilization": 0.35,
        "enforce_eager": True,
        "logprobs_mode": "raw_logprobs",
        "enable_prefix_caching": True,
    }
    for bad, msg in [
        ({"gpu_memory_utilization": 1.5}, r"in \(0, 1\]"),
        ({"max_num_seqs": 0}, "positive integer"),
        ({"enforce_eager": "yes"}, "true or false"),
        ({"dtype": "int8"}, "not one of"),
    ]:
        with pytest.raises(SettingError, match=msg):
            check_named(bad)


def test_vllm_only_settings_with_the_transformers_backend_are_refused() -> None:
    base = GenerateSpec(model="m", dataset="d", temperatures=[1.0], n=1)
    check_spec(base)
    for kw, name in [
        ({"gpu_memory_utilization": 0.5}, "gpu_memory_utilization"),
        ({"enforce_eager": True}, "enforce_eager"),
        ({"engine_args": {"swap_space": 1}}, "engine_args"),
        ({"tensor_parallel_size": 2}, "tensor_parallel_size"),
        ({"launcher": "ray"}, "launcher"),
    ]:
        with pytest.raises(ValueError, match=f"^{name} applies to the vllm backend only"):
            check_spec(GenerateSpec(model="m", dataset="d", temperatures=[1.0], n=1, **kw))
    check_spec(GenerateSpec(model="m", dataset="d", temperatures=[1], n=1, data_parallel_size=3))


def test_to_completion_reaches_the_no_logprobs_message_and_refuses_aborts() -> None:
    class Step(dict):
        """A position of vLLM's log-probs: token -> object with .logprob."""

    def out(steps: Any, reason: str = "stop") -> SimpleNamespace:
        return SimpleNamespace(token_ids=[5, 9], logprobs=steps, text="ab", finish_reason=reason)

    ok = [Step({5: SimpleNamespace(logprob=-0.5)}), Step({9: SimpleNamespace(logprob=-1.25)})]
    c = to_completion(out(ok))
    assert c.token_logprobs == [-0.5, -1.25] and c.finish_reason == "stop"
    assert to_completion(out(ok, "length")).finish_reason == "length"
    for steps in (None, [], ok[:1]):
        with pytest.raises(RuntimeError, match="^vLLM returned no log-probs"):
            to_completion(out(steps))
    with pytest.raises(RuntimeError, match="'abort'"):
        to_completion(out(ok, "abort"))


def test_cli_refuses_bad_engine_settings_before_loading_anything(tmp_path: Path) -> None:
    data = problems_file(tmp_path, 1)
    base = ["generate", "--db", str(tmp_path / "x.duckdb"), "--model", str(tmp_path / "no")]
    base += ["--dataset", str(data), "--n", "1"]
    cases = [
        (
            ["--backend", "vllm", "--engine-arg", "logprobs_mode=processed_logprobs"],
            "error: engine_args.logprobs_mode: 'processed_logprobs' is refused: divtui stores "
            "the model's raw log-probs (raw_logprobs), the same quantity under every backend",
        ),
        (
            ["--backend", "vllm", "--engine-arg", "seed=4"],
            "error: engine_args.seed: set it with --seed, not the passthrough",
        ),
        (
            ["--gpu-memory-utilization", "0.5"],
            "error: gpu_memory_utilization applies to the vllm backend only "
            "(this run uses transformers)",
        ),
        (
            ["--engine-arg", "oops"],
            "error: --engine-arg 'oops': expected KEY=VALUE, e.g. enable_prefix_caching=true",
        ),
    ]
    for extra, expected in cases:
        out = run_divtui(*base, *extra)
        assert out.returncode == 1 and out.stderr.strip() == expected, out.stderr


def test_study_and_job_spec_carry_engine_settings_with_one_line_errors(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(
        '[study]\ndb = "s.duckdb"\n[generate]\nmodel = "m"\ndataset = "d.jsonl"\n'
        'temperatures = [1.0]\nn = 2\nbackend = "vllm"\ngpu_memory_utilization = 0.4\n'
        "enforce_eager = true\ndata_parallel_size = 2\ngpus = [0, 0]\n"
        "[generate.engine_args]\nenable_prefix_caching = true\n"
    )
    g = load_study(toml).sections["generate"]
    assert g["engine_args"] == {"enable_prefix_caching": True} and g["gpus"] == [0, 0]
    toml.write_text(toml.read_text() + 'logprobs_mode = "processed_logprobs"\n')
    with pytest.raises(
        StudyError, match=rf"^{toml}:15: key generate\.engine_args\.logprobs_mode: "
    ):
        load_study(toml)
    toml.write_text(toml.read_text().replace("0.4", "1.4").rsplit("logprobs_mode", 1)[0])
    with pytest.raises(StudyError, match=r":9: key generate\.gpu_memory_utilization: must be"):
        load_study(toml)

    problems = [{"problem_id": "p1", "question": "1+1?"}]
    spec = generate_spec(
        problems,
        model="m",
        temperatures=[1.0],
        n=2,
        backend="vllm",
        engine={"gpu_memory_utilization": 0.3, "data_parallel_size": 2},
        engine_args={"enable_prefix_caching": True},
    )
    assert spec["generate"]["engine"] == {"gpu_memory_utilization": 0.3, "data_parallel_size": 2}
    assert validate_spec(json.loads(json.dumps(spec))) == spec
    plain = generate_spec(problems, model="m", temperatures=[1.0], n=2)
    assert "engine" not in plain["generate"] and "engine_args" not in plain["generate"]
    for gen, msg in [
        ({"engine": {"max_num_seqs": 0}}, r"field generate\.engine\.max_num_seqs: must be"),
        ({"engine": {"bogus": 1}}, r"field generate\.engine\.bogus: unknown engine setting"),
        ({"engine_args": {"logprobs_mode": "processed_logits"}}, "logprobs_mode: 'processed"),
        ({"engine": {"enforce_eager": True}, "backend": "transformers"}, "vllm backend only"),
    ]:
        bad = json.loads(json.dumps(spec))
        bad["generate"].pop("engine"), bad["generate"].pop("engine_args")
        bad["generate"].update(gen)
        with pytest.raises(SpecError, match=msg):
            validate_spec(bad, "spec.json")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny causal LM saved to a folder."""
    return build_causal_lm(tmp_path_factory.mktemp("tiny") / "tiny-llama")


def test_ray_rows_seed_each_sample_as_vllm_seeds_a_child_and_land_like_a_local_run(
    tmp_path: Path, model_dir: Path
) -> None:
    """Request rows carry seed pool_seed + idx; output rows (here from the transformers backend's
    completions, shaped as Ray's vLLM stage returns them) land as Parquet parts and ingest to
    exactly the rows the local run stores."""
    from divtui.engine.backend_transformers import load
    from divtui.engine.datasets import load_problems
    from divtui.engine.generate import run_id_for, todo_pools
    from divtui.engine.prompts import render_prompt
    from divtui.engine.shard import land

    backend = load(str(model_dir), device=device_for_tests(), dtype=dtype_for_tests())
    spec = spec_for(model_dir, problems_file(tmp_path))
    con = open_db(tmp_path / "local.duckdb")
    generate_db(con, spec, backend=backend)
    con.close()

    problems = load_problems(spec.dataset)
    run_id = run_id_for(spec)
    fresh = open_db(tmp_path / "fresh.duckdb")
    todo = todo_pools(fresh, run_id, spec, problems)
    rows = request_rows(spec, run_id, todo, backend.tokenizer)
    assert len(rows) == len(todo) * spec.n
    for r in rows:
        sp = r["sampling_params"]
        assert sp["seed"] == pool_seed(spec.seed, r["problem_id"], r["temperature"]) + r["idx"]
        assert (sp["n"], sp["logprobs"], sp["max_tokens"]) == (1, 0, spec.max_tokens)
        q = next(p["question"] for p in problems if p["problem_id"] == r["problem_id"])
        prompt = render_prompt(backend.tokenizer, q, spec.system_prompt)
        assert (
            r["tokenized_prompt"] == backend.tokenizer(prompt, add_special_tokens=False).input_ids
        )

    eos = backend.info["eos_token_ids"]
    outs: dict[tuple[str, float], Any] = {}
    for p, t in todo:
        prompt = render_prompt(backend.tokenizer, p["question"], spec.system_prompt)
        outs[(p["problem_id"], t)] = backend.sample(
            [prompt], [pool_seed(spec.seed, p["problem_id"], t)], t, spec.n, spec.max_tokens
        )[0]
    rng = np.random.default_rng(0)
    ray_out = []
    for r in rows:
        c = outs[(r["problem_id"], r["temperature"])][r["idx"]]
        keyed = [str, int][int(rng.integers(2))]
        steps = [
            {keyed(tok): {"logprob": lp, "rank": 1}}
            for tok, lp in zip(c.token_ids, c.token_logprobs, strict=True)
        ]
        ray_out.append(
            {**r, "generated_tokens": c.token_ids, "generated_text": c.text, "logprobs": steps}
        )
    import pandas as pd

    samples = pd.DataFrame([sample_row(r, eos, spec.max_tokens) for r in ray_out])
    batch = tmp_path / "landing" / "ray-1"
    (batch / "samples").mkdir(parents=True)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(samples, preserve_index=False)
    for k, start in enumerate(range(0, len(samples), 7)):
        pq.write_table(table.slice(start, 7), batch / "samples" / f"part-{k:03d}.parquet")
    land(
        tmp_path / "landing",
        "ray-1-runs",
        {"runs": pd.DataFrame([{"run_id": run_id, "source": "vllm"}])},
    )
    added = ingest_landing(fresh, tmp_path / "landing")
    assert added["samples"] == len(rows) and added["batches"] == 2
    fresh.close()
    assert stored(tmp_path / "fresh.duckdb") == stored(tmp_path / "local.duckdb")


def test_chosen_logprob_and_finish_reason_rules() -> None:
    assert chosen_logprob({7: {"logprob": -1.5}}, 7) == -1.5
    assert chosen_logprob({"7": {"logprob": -2.0}}, 7) == -2.0
    assert chosen_logprob([("3", {"logprob": -0.1}), ("7", {"logprob": -0.2})], 7) == -0.2
    with pytest.raises(RuntimeError, match="no log-prob for token 7"):
        chosen_logprob({8: {"logprob": -1.0}}, 7)
    row = {"run_id": "r", "problem_id": "p", "temperature": 1.0, "idx": 0, "generated_text": "x"}
    lp = [{1: {"logprob": -1.0}}, {2: {"logprob": -2.0}}]
    assert (
        sample_row({**row, "generated_tokens": [1, 2], "logprobs": lp}, [2], 5)["finish_reason"]
        == "stop"
    )
    got = sample_row({**row, "generated_tokens": [1, 2], "logprobs": lp}, [9], 2)
    assert (
        got["finish_reason"] == "length"
        and got["sum_logprob"] == -3.0
        and got["mean_logprob"] == -1.5
    )
    with pytest.raises(RuntimeError, match="ended without EOS before max_tokens"):
        sample_row({**row, "generated_tokens": [1, 2], "logprobs": lp}, [9], 5)
    with pytest.raises(RuntimeError, match="no log-probs"):
        sample_row({**row, "generated_tokens": [1, 2], "logprobs": None}, [2], 5)


def test_cli_ingest_is_idempotent_and_bad_folders_are_one_line(tmp_path: Path) -> None:
    import pandas as pd

    from divtui.engine.shard import land
    from divtui.store import sample_id

    rows = pd.DataFrame(
        {
            "sample_id": [sample_id("r", "p", 1.0, i) for i in range(3)],
            "run_id": "r",
            "problem_id": "p",
            "temperature": 1.0,
            "idx": [0, 1, 2],
            "text": ["a", "b", "c"],
            "n_tokens": [1, 2, 3],
        }
    )
    land(tmp_path / "in", "b1", {"samples": rows.iloc[:2]})
    land(tmp_path / "in", "b2", {"samples": rows.iloc[1:]})
    (tmp_path / "in" / ".b3.part").mkdir()
    db = str(tmp_path / "i.duckdb")
    out = run_divtui("ingest", str(tmp_path / "in"), "--db", db)
    assert out.returncode == 0 and out.stdout.strip() == "2 batches ingested (3 samples)"
    out = run_divtui("ingest", str(tmp_path / "in" / "b1"), "--db", db)
    assert out.stdout.strip() == "1 batches ingested (nothing new)"
    out = run_divtui("ingest", str(tmp_path / "nope"), "--db", db)
    assert (
        out.returncode == 1
        and out.stderr.strip() == f"error: {tmp_path / 'nope'}: no such landing folder"
    )
    (tmp_path / "in" / "b1" / "samples.parquet").write_text("not parquet")
    out = run_divtui("ingest", str(tmp_path / "in"), "--db", db)
    assert out.returncode == 1 and out.stderr.startswith(
        f"error: {tmp_path / 'in' / 'b1' / 'samples.parquet'}: not a readable Parquet file"
    )
    assert len(out.stderr.strip().splitlines()) == 1
