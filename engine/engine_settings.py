"""vLLM engine settings: the named ones, the passthrough table, and the ``LLM(...)`` keywords they make.

One place checks them for the command line, study.toml and the remote job spec, so a bad setting
gives the same one-line error everywhere, before any engine starts.
"""

from __future__ import annotations

import json
import re
from typing import Any

NAMED = (
    "gpu_memory_utilization",
    "max_model_len",
    "tensor_parallel_size",
    "enforce_eager",
    "dtype",
    "max_num_seqs",
)
# set by divtui itself, or by a named setting; the passthrough table may not set them
RESERVED = {
    "model": "--model",
    "seed": "--seed",
    "tokenizer": "--model (the model's own tokenizer is used)",
    "data_parallel_size": "--data-parallel-size",
    **{k: "--" + k.replace("_", "-") for k in NAMED},
}
RAW_LOGPROBS = "raw_logprobs"
KEY = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
DTYPES = ("auto", "float32", "bfloat16", "float16", "half", "float")


class SettingError(ValueError):
    """A bad engine setting; ``str()`` names the setting."""


def parse_engine_arg(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from ``--engine-arg``: VALUE as JSON when it parses, else as a string."""
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise SettingError(
            f"--engine-arg {text!r}: expected KEY=VALUE, e.g. enable_prefix_caching=true"
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def check_engine_args(args: Any, field: str = "engine_args") -> dict[str, Any]:
    """The passthrough table, checked: plain keys, JSON values, nothing divtui sets itself,
    and no log-prob mode other than raw log-probs (the quantity every backend records)."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise SettingError(f"{field}: must be a table of vLLM engine arguments")
    out: dict[str, Any] = {}
    for key, value in args.items():
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise SettingError(f"{field}: {str(key)[:60]!r} is not an engine argument name")
        if key in RESERVED:
            raise SettingError(f"{field}.{key}: set it with {RESERVED[key]}, not the passthrough")
        if key == "logprobs_mode" and value != RAW_LOGPROBS:
            raise SettingError(
                f"{field}.logprobs_mode: {value!r} is refused: divtui stores the model's raw "
                f"log-probs ({RAW_LOGPROBS}), the same quantity under every backend"
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise SettingError(f"{field}.{key}: value must be plain data (JSON)") from None
        out[key] = value
    return out


def check_named(values: dict[str, Any]) -> dict[str, Any]:
    """The named settings that are set (None means vLLM's default), range-checked."""
    out: dict[str, Any] = {}
    g = values.get("gpu_memory_utilization")
    if g is not None:
        if isinstance(g, bool) or not isinstance(g, int | float) or not 0 < g <= 1:
            raise SettingError(f"gpu_memory_utilization: must be in (0, 1], got {g!r}")
        out["gpu_memory_utilization"] = float(g)
    for key in ("max_model_len", "max_num_seqs", "tensor_parallel_size"):
        v = values.get(key)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SettingError(f"{key}: must be a positive integer, got {v!r}")
            out[key] = v
    e = values.get("enforce_eager")
    if e is not None:
        if not isinstance(e, bool):
            raise SettingError(f"enforce_eager: must be true or false, got {e!r}")
        out["enforce_eager"] = e
    d = values.get("dtype")
    if d is not None:
        if d not in DTYPES:
            raise SettingError(f"dtype: {d!r} is not one of {', '.join(DTYPES)}")
        out["dtype"] = d
    return out


def llm_kwargs(
    model: str, seed: int, named: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """The keywords of ``vllm.LLM(...)``: model and seed, the named settings, the passthrough."""
    kw: dict[str, Any] = {"model": model, "seed": int(seed)}
    kw.update(check_named(named))
    kw.update(check_engine_args(extra))
    return kw
