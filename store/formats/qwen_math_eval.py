"""The `qwen-math-eval` format: Qwen2.5-Math evaluation output, one line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .records import (
    FieldError,
    ImportOptions,
    LineRecord,
    Parsed,
    ProblemRecord,
    SampleRecord,
    as_bool,
    as_float,
    as_int,
    as_list,
    as_str,
    as_text,
    opt,
    parse_per_problem,
    req,
)

SCORER = "import:qwen-math-eval:pred_score"
DEFAULT_TEMPERATURE = 0.7
DEFAULT_DATASET = "math"


def _reward(value: Any, name: str) -> float:
    """A ``pred_score`` item: a one-element list holding the reward."""
    items = as_list(value, name)
    if len(items) != 1:
        raise FieldError(name, f"expected a one-element list, got {len(items)} items")
    return as_float(items[0], name)


def parse_line(obj: dict[str, Any], line: int, opts: ImportOptions) -> LineRecord:
    """Validate one problem line and expand its response lists into samples."""
    field = "code" if obj.get("code") is not None else "response"
    if obj.get(field) is None:
        raise FieldError("code", "required field is missing (give code or response)")
    texts = [as_str(t, f"{field}[{i}]") for i, t in enumerate(as_list(req(obj, field), field))]
    if not texts:
        raise FieldError(field, "is an empty list")
    n = len(texts)

    def column(name: str, conv: Any) -> list[Any]:
        """An optional per-response list of the same length as the texts."""
        value = obj.get(name)
        if value is None:
            return [None] * n
        return [conv(v, f"{name}[{i}]") for i, v in enumerate(as_list(value, name, n, field))]

    preds = column("pred", lambda v, nm: None if v is None else as_text(v, nm))
    correct = column("score", lambda v, nm: None if v is None else as_bool(v, nm))
    rewards = column("pred_score", _reward)
    temperature = DEFAULT_TEMPERATURE if opts.temperature is None else opts.temperature
    dataset = opts.dataset or DEFAULT_DATASET
    src_idx = as_int(req(obj, "idx"), "idx")
    meta = {"idx": src_idx}
    for key in ("solution", "gt_cot", "system"):
        if isinstance(obj.get(key), str):
            meta[key] = obj[key]
    problem = ProblemRecord(
        problem_id=f"{dataset}:{src_idx}",
        question=as_str(req(obj, "question"), "question"),
        gold_answer=as_text(req(obj, "gt"), "gt"),
        dataset=dataset,
        level=opt(obj, "level", as_text),
        subject=opt(obj, "subject", as_str) or opt(obj, "type", as_str),
        meta=meta,
    )
    samples = [
        SampleRecord(
            temperature=temperature,
            text=texts[i],
            idx=i,
            source_answer=preds[i],
            source_correct=correct[i],
            scores={} if rewards[i] is None else {SCORER: rewards[i]},
        )
        for i in range(n)
    ]
    return LineRecord(problem, samples)


def parse(path: Path, opts: ImportOptions) -> Parsed:
    """Parse a Qwen2.5-Math evaluation file."""
    parsed = parse_per_problem(
        path, parse_line, opts, temperature=DEFAULT_TEMPERATURE, dataset=DEFAULT_DATASET
    )
    return parsed
