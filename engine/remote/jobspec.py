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

SPEC_VERSION = 1
KINDS = ("generate", "grade")
BACKENDS = ("transformers", "vllm")
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SAFE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._:/@+=,-]{0,255}$")
MODEL = re.compile(r"^[A-Za-z0-9_./~][A-Za-z0-9._:/@+=,~-]{0,511}$")
MAX_TEXT = 1_000_000
INPUT_TABLES = ("runs", "samples")
_ALLOWED = {
    JOB_ID.pattern: ". _ -",
    SAFE_ID.pattern: ". _ : / @ + = , -",
    MODEL.pattern: ". _ : / @ + = , ~ -",
}


class SpecError(ValueError):
    """A spec that is not valid; ``str()`` is one line naming the file and the field."""


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
    return {
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


def _grade(v: Any, where: str) -> dict[str, Any]:
    """The settings of a grade job (its samples travel as input/samples.parquet)."""
    v = {} if v is None else v
    if not isinstance(v, dict):
        raise _fail(where, "grade", "must be an object")
    timeout = v.get("timeout", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise _fail(
            where, "grade.timeout", f"must be a number of seconds in (0, 600], got {timeout!r}"
        )
    regrade = v.get("regrade", False)
    if not isinstance(regrade, bool):
        raise _fail(where, "grade.regrade", "must be true or false")
    return {"timeout": float(timeout), "regrade": regrade}


def validate_spec(obj: Any, where: str = "spec.json") -> dict[str, Any]:
    """The normalised spec, or a SpecError naming the first bad field."""
    if not isinstance(obj, dict):
        raise SpecError(f"{where}: the spec must be a JSON object")
    if obj.get("divtui_job") != SPEC_VERSION:
        raise _fail(where, "divtui_job", f"must be {SPEC_VERSION}, got {obj.get('divtui_job')!r}")
    kind = obj.get("kind")
    if kind not in KINDS:
        raise _fail(where, "kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    unknown = set(obj) - {"divtui_job", "job_id", "kind", "problems", "generate", "grade", "inputs"}
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
    else:
        spec["grade"] = _grade(obj.get("grade"), where)
        if "samples" not in spec["inputs"]:
            raise _fail(where, "inputs", "a grade job needs the samples input")
    return spec


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
