"""The JSON job spec sent to a remote worker: building it, and validating it with one-line errors.

A spec names one job (a kind, the problems it covers, the settings of its stage). It travels by
SFTP, never on a command line; every id in it is still checked against an allowlist, because ids
become file names and log lines on the remote.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from pathlib import Path
from typing import Any

from divtui.engine.specs import SPECS, AnySpec, DrawSpec, EmbedSpec, GradeSpec, ScoreSpec, SpecError
from divtui.store.vocabulary import LOGPROB

__all__ = ["SpecError"]

SPEC_VERSION = 1
KINDS = ("generate", "grade", "score", "embed", "draw")
BACKENDS = ("transformers", "vllm")
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SAFE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._:/@+=,-]{0,255}$")
MODEL = re.compile(r"^[A-Za-z0-9_./~][A-Za-z0-9._:/@+=,~-]{0,511}$")
MAX_TEXT = 1_000_000
INPUT_TABLES = ("runs", "samples", "scores", "embeddings")
SCORER_KINDS = ("orm", "classifier")
_ALLOWED = {
    JOB_ID.pattern: ". _ -",
    SAFE_ID.pattern: ". _ : / @ + = , -",
    MODEL.pattern: ". _ : / @ + = , ~ -",
}


def new_job_id(kind: str) -> str:
    """A fresh job id: kind, UTC time and a random suffix (sortable, unique, allowlisted)."""
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def _fail(where: str, field: str, what: str) -> SpecError:
    """The one-line error for ``field`` of the spec in ``where``."""
    return SpecError(f"{where}: field {field}: {what}")


def check_id(value: Any, field: str, where: str, pattern: re.Pattern[str] = SAFE_ID) -> str:
    """``value`` if it is a string matching ``pattern``, else a SpecError naming the field."""
    if not isinstance(value, str):
        raise _fail(where, field, f"must be a string, got {type(value).__name__}")
    if not pattern.fullmatch(value) or "/../" in f"/{value}/":
        raise _fail(
            where,
            field,
            f"{value[:80]!r} is not allowed: use letters, digits and {_ALLOWED[pattern.pattern]}"
            " (no spaces, quotes, shell characters or '..')",
        )
    return value


def _int(obj: dict[str, Any], key: str, field: str, where: str, lo: int, hi: int) -> int:
    """An integer field within [lo, hi]."""
    v = obj.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _fail(where, field, f"must be an integer in [{lo}, {hi}], got {v!r}")
    return v


def _text(v: Any, field: str, where: str, *, optional: bool = False) -> str | None:
    """A text field (any content, bounded length); None allowed when ``optional``."""
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise _fail(where, field, f"must be a string, got {type(v).__name__}")
    if len(v) > MAX_TEXT:
        raise _fail(where, field, f"longer than {MAX_TEXT} characters")
    return v


def _problems(v: Any, where: str) -> list[dict[str, Any]]:
    """The problems list: ids allowlisted and unique, texts bounded."""
    if not isinstance(v, list) or not v:
        raise _fail(where, "problems", "must be a non-empty list")
    out, seen = [], set()
    for i, p in enumerate(v):
        f = f"problems[{i}]"
        if not isinstance(p, dict):
            raise _fail(where, f, "must be an object")
        pid = check_id(p.get("problem_id"), f"{f}.problem_id", where)
        if pid in seen:
            raise _fail(where, f"{f}.problem_id", f"duplicate id {pid!r}")
        seen.add(pid)
        row = {"problem_id": pid, "question": _text(p.get("question"), f"{f}.question", where)}
        for key in ("gold_answer", "dataset", "level", "subject"):
            row[key] = _text(p.get(key), f"{f}.{key}", where, optional=True)
        out.append(row)
    return out


def _temperatures(v: Any, where: str) -> list[float]:
    """Temperatures: a non-empty list of finite numbers in [0, 5]."""
    field = "generate.temperatures"
    if not isinstance(v, list) or not v:
        raise _fail(where, field, "must be a non-empty list of numbers")
    out = []
    for t in v:
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise _fail(where, field, f"{t!r} is not a number")
        if not 0.0 <= t <= 5.0:
            raise _fail(where, field, f"{t!r} is outside [0, 5]")
        out.append(float(t))
    return sorted(set(out))


def _generate(v: Any, where: str) -> dict[str, Any]:
    """The settings of a generate job."""
    if not isinstance(v, dict):
        raise _fail(where, "generate", "must be an object")
    backend = v.get("backend", "transformers")
    if backend not in BACKENDS:
        raise _fail(where, "generate.backend", f"{backend!r} is not one of {', '.join(BACKENDS)}")
    grade = v.get("grade", True)
    if not isinstance(grade, bool):
        raise _fail(where, "generate.grade", "must be true or false")
    run_id = v.get("run_id")
    engine = _engine(v, where, backend)
    return {
        **engine,
        "model": check_id(v.get("model"), "generate.model", where, MODEL),
        "backend": backend,
        "temperatures": _temperatures(v.get("temperatures"), where),
        "n": _int(v, "n", "generate.n", where, 1, 100_000),
        "max_tokens": _int(
            {"x": v.get("max_tokens", 1024)}, "x", "generate.max_tokens", where, 1, 1_000_000
        ),
        "seed": _int({"x": v.get("seed", 0)}, "x", "generate.seed", where, 0, 2**63 - 1),
        "run_id": None if run_id is None else check_id(run_id, "generate.run_id", where),
        "system_prompt": _text(
            v.get("system_prompt"), "generate.system_prompt", where, optional=True
        ),
        "grade": grade,
    }


def _engine(v: dict[str, Any], where: str, backend: str) -> dict[str, Any]:
    """The optional vLLM engine settings of a generate job: ``engine`` (named settings and
    ``data_parallel_size``) and ``engine_args`` (the passthrough); absent ones stay absent."""
    from divtui.engine.engine_settings import (
        NAMED,
        SettingError,
        check_engine_args,
        check_named,
    )

    out: dict[str, Any] = {}
    engine = v.get("engine")
    if engine is not None:
        if not isinstance(engine, dict):
            raise _fail(where, "generate.engine", "must be an object")
        unknown = sorted(set(engine) - {*NAMED, "data_parallel_size"})
        if unknown:
            raise _fail(where, f"generate.engine.{unknown[0]}", "unknown engine setting")
        try:
            named = check_named(engine)
        except SettingError as e:
            raise SpecError(f"{where}: field generate.engine.{e}") from None
        if "data_parallel_size" in engine:
            named["data_parallel_size"] = _int(
                engine, "data_parallel_size", "generate.engine.data_parallel_size", where, 1, 1024
            )
        if named:
            out["engine"] = named
    if v.get("engine_args") is not None:
        try:
            args = check_engine_args(v["engine_args"])
        except SettingError as e:
            raise SpecError(f"{where}: field generate.{e}") from None
        if args:
            out["engine_args"] = args
    if out and backend != "vllm":
        raise _fail(where, "generate.engine", "engine settings apply to the vllm backend only")
    return out


def _stage(cls: Any, v: dict[str, Any], kind: str, where: str, local: tuple[str, ...]) -> Any:
    """The engine spec of a ``kind`` job's settings; ``local`` fields (the local database's
    run, the local device) are not part of a job spec; errors name ``kind.FIELD``."""
    for key in local:
        if key in v:
            raise _fail(where, f"{kind}.{key}", "unknown field")
    try:
        return cls.from_mapping(v, where)
    except SpecError as e:
        raise _fail(where, f"{kind}.{e.field}", e.what or "not valid") from None


def _grade(v: Any, where: str) -> dict[str, Any]:
    """The settings of a grade job (its samples travel as input/samples.parquet)."""
    v = {} if v is None else v
    if not isinstance(v, dict):
        raise _fail(where, "grade", "must be an object")
    spec = _stage(GradeSpec, v, "grade", where, ("run_id", "workers"))
    return {"timeout": spec.timeout, "regrade": spec.regrade}


def _section(obj: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """The settings object ``key`` of the spec (an absent one is empty)."""
    v = obj.get(key)
    v = {} if v is None else v
    if not isinstance(v, dict):
        raise _fail(where, key, "must be an object")
    return v


def check_scorer(value: Any, field: str, where: str) -> str:
    """A scorer to run remotely: ``orm:MODEL`` or ``classifier:MODEL`` with an allowlisted MODEL."""
    text = check_id(value, field, where, MODEL)
    kind, sep, model = text.partition(":")
    if not sep or kind not in SCORER_KINDS or not model:
        raise _fail(
            where,
            field,
            f"{text[:80]!r} must be orm:MODEL or classifier:MODEL (probe runs locally)",
        )
    return text


def _score(v: dict[str, Any], where: str) -> dict[str, Any]:
    """The settings of a score job (its samples travel as input/samples.parquet)."""
    check_scorer(v.get("scorer"), "score.scorer", where)
    spec = _stage(ScoreSpec, v, "score", where, ("run_id", "device"))
    return {
        "scorer": spec.scorer,
        "batch_size": spec.batch_size,
        "store_hidden": spec.store_hidden,
        "dtype": spec.dtype or "auto",
    }


def _embed(v: dict[str, Any], where: str) -> dict[str, Any]:
    """The settings of an embed job: the embedder (hub id or folder on the remote), stored name."""
    check_id(v.get("embedder"), "embed.embedder", where, MODEL)
    if v.get("name") is not None:
        check_id(v["name"], "embed.name", where, MODEL)
    spec = _stage(EmbedSpec, v, "embed", where, ("run_id", "device"))
    return {
        "embedder": str(spec.embedder),
        "name": spec.name,
        "batch_size": spec.batch_size,
        "backend": spec.backend,
    }


def _names(v: Any, field: str, where: str) -> list[str] | None:
    """An optional list of allowlisted scorer or embedder names (None: all shipped ones)."""
    if v is None:
        return None
    if not isinstance(v, list):
        raise _fail(where, field, "must be a list of names or null")
    return list(dict.fromkeys(check_id(x, field, where, MODEL) for x in v))


def _draw(v: dict[str, Any], where: str) -> dict[str, Any]:
    """The settings of a draw job (samples, scores and embeddings travel as inputs)."""
    for key in ("scorers", "embedders"):
        _names(v.get(key), f"draw.{key}", where)
    if "seed" not in v:
        raise _fail(where, "draw.seed", "missing (a job spec states every draw setting)")
    spec = _stage(DrawSpec, v, "draw", where, ("run_id",))
    out = spec.to_mapping()
    del out["run_id"]
    return out


def validate_spec(obj: Any, where: str = "spec.json") -> dict[str, Any]:
    """The normalised spec, or a SpecError naming the first bad field."""
    if not isinstance(obj, dict):
        raise SpecError(f"{where}: the spec must be a JSON object")
    if obj.get("divtui_job") != SPEC_VERSION:
        raise _fail(where, "divtui_job", f"must be {SPEC_VERSION}, got {obj.get('divtui_job')!r}")
    kind = obj.get("kind")
    if kind not in KINDS:
        raise _fail(where, "kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    unknown = set(obj) - {"divtui_job", "job_id", "kind", "problems", "inputs", *KINDS}
    if unknown:
        raise _fail(where, sorted(unknown)[0], "unknown field")
    spec: dict[str, Any] = {
        "divtui_job": SPEC_VERSION,
        "job_id": check_id(obj.get("job_id"), "job_id", where, JOB_ID),
        "kind": kind,
        "problems": _problems(obj.get("problems"), where),
        "inputs": _inputs(obj.get("inputs", []), where),
    }
    if kind == "generate":
        spec["generate"] = _generate(obj.get("generate"), where)
        return spec
    if kind == "grade":
        spec["grade"] = _grade(obj.get("grade"), where)
    else:
        section = _section(obj, kind, where)
        spec[kind] = {"score": _score, "embed": _embed, "draw": _draw}[kind](section, where)
    if "samples" not in spec["inputs"]:
        raise _fail(where, "inputs", f"a {kind} job needs the samples input")
    return spec


def engine_spec(spec: dict[str, Any]) -> AnySpec:
    """The engine spec a validated grade/score/embed/draw job runs (engine.specs)."""
    kind = spec["kind"]
    settings = dict(spec[kind])
    if kind == "score" and settings.get("dtype") == "auto":
        settings["dtype"] = None
    return SPECS[kind].from_mapping(settings, "spec.json")


def _inputs(v: Any, where: str) -> list[str]:
    """Names of the input tables shipped beside the spec as input/<name>.parquet."""
    if not isinstance(v, list) or any(x not in INPUT_TABLES for x in v):
        raise _fail(
            where, "inputs", f"must be a list of table names from {', '.join(INPUT_TABLES)}"
        )
    return sorted(set(v))


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read and validate a spec file; JSON errors name the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{path}: cannot read the spec: {e}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    return validate_spec(obj, str(path))


def dump_spec(spec: dict[str, Any]) -> str:
    """The spec as JSON text (validated first, so nothing invalid is ever sent)."""
    return json.dumps(validate_spec(spec), indent=1, ensure_ascii=False) + "\n"


def generate_spec(
    problems: list[dict[str, Any]],
    *,
    model: str,
    temperatures: list[float],
    n: int,
    backend: str = "transformers",
    max_tokens: int = 1024,
    seed: int = 0,
    run_id: str | None = None,
    system_prompt: str | None = None,
    grade: bool = True,
    job_id: str | None = None,
    engine: dict[str, Any] | None = None,
    engine_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A validated spec for sampling ``n`` solutions per problem and temperature."""
    spec = {
        "divtui_job": SPEC_VERSION,
        "job_id": job_id or new_job_id("generate"),
        "kind": "generate",
        "problems": problems,
        "generate": {
            "model": model,
            "backend": backend,
            "temperatures": temperatures,
            "n": n,
            "max_tokens": max_tokens,
            "seed": seed,
            "run_id": run_id,
            "system_prompt": system_prompt,
            "grade": grade,
            **({"engine": engine} if engine else {}),
            **({"engine_args": engine_args} if engine_args else {}),
        },
    }
    return validate_spec(spec, "job spec")


def grade_spec(
    problems: list[dict[str, Any]],
    *,
    timeout: float = 5.0,
    regrade: bool = True,
    job_id: str | None = None,
) -> dict[str, Any]:
    """A validated spec for grading the samples shipped as input (runs and samples tables)."""
    spec = {
        "divtui_job": SPEC_VERSION,
        "job_id": job_id or new_job_id("grade"),
        "kind": "grade",
        "problems": problems,
        "inputs": ["runs", "samples"],
        "grade": {"timeout": timeout, "regrade": regrade},
    }
    return validate_spec(spec, "job spec")


def _shipped_spec(
    kind: str,
    problems: list[dict[str, Any]],
    settings: dict[str, Any],
    inputs: list[str],
    job_id: str | None,
) -> dict[str, Any]:
    """A validated spec of a kind whose samples (and ``inputs``) are shipped as Parquet."""
    spec = {
        "divtui_job": SPEC_VERSION,
        "job_id": job_id or new_job_id(kind),
        "kind": kind,
        "problems": problems,
        "inputs": inputs,
        kind: settings,
    }
    return validate_spec(spec, "job spec")


def score_spec(
    problems: list[dict[str, Any]],
    *,
    scorer: str,
    batch_size: int = 8,
    store_hidden: bool = False,
    dtype: str = "auto",
    job_id: str | None = None,
) -> dict[str, Any]:
    """A validated spec for scoring the shipped samples with one reward model."""
    settings = {
        "scorer": scorer,
        "batch_size": batch_size,
        "store_hidden": store_hidden,
        "dtype": dtype,
    }
    return _shipped_spec("score", problems, settings, ["runs", "samples"], job_id)


def embed_spec(
    problems: list[dict[str, Any]],
    *,
    embedder: str,
    name: str | None = None,
    batch_size: int = 64,
    job_id: str | None = None,
    backend: str = "torch",
) -> dict[str, Any]:
    """A validated spec for embedding the shipped samples with one sentence embedder."""
    settings = {"embedder": embedder, "name": name, "batch_size": batch_size, "backend": backend}
    return _shipped_spec("embed", problems, settings, ["runs", "samples"], job_id)


def draw_spec(
    problems: list[dict[str, Any]],
    *,
    sizes: list[int],
    reps: int,
    seed: int = 0,
    scorers: list[str] | None = None,
    embedders: list[str] | None = None,
    distinct_n: int = 3,
    quality: str = LOGPROB,
    job_id: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """A validated spec for drawing batches of the shipped samples (with scores and embeddings);
    ``workers`` processes on the remote host (None: its CPU count)."""
    settings = {
        "sizes": sizes,
        "reps": reps,
        "seed": seed,
        "scorers": scorers,
        "embedders": embedders,
        "distinct_n": distinct_n,
        "quality": quality,
        "workers": workers,
    }
    inputs = ["runs", "samples", "scores", "embeddings"]
    return _shipped_spec("draw", problems, settings, inputs, job_id)
