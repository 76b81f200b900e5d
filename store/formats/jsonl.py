"""The native `jsonl` format: one JSON object per sample, validated line by line.

This validator is the authority; ``jsonl_bulk`` is the DuckDB fast path that `divtui import`
tries first and that falls back here at the first doubt.
"""

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
    as_object,
    as_str,
    as_text,
    as_vector,
    opt,
    parse_lines,
    req,
)


def _first(obj: dict[str, Any], names: tuple[str, ...], conv: Any) -> Any:
    """The first of ``names`` present and not null, converted (source_* wins over the short name)."""
    for name in names:
        if obj.get(name) is not None:
            return conv(obj[name], name)
    return None


def parse_line(obj: dict[str, Any], line: int, opts: ImportOptions) -> LineRecord:
    """Validate one native record."""
    temperature = as_float(req(obj, "temperature"), "temperature")
    if temperature < 0:
        raise FieldError("temperature", f"must be >= 0, got {temperature:g}")
    scores = {
        as_str(k, "scores"): as_float(v, f"scores.{k}")
        for k, v in (opt(obj, "scores", as_object) or {}).items()
    }
    embeddings = {
        k: as_vector(v, f"embeddings.{k}")
        for k, v in (opt(obj, "embeddings", as_object) or {}).items()
    }
    problem = ProblemRecord(
        problem_id=as_str(req(obj, "problem_id"), "problem_id", nonempty=True),
        question=as_str(req(obj, "question"), "question"),
        gold_answer=as_text(req(obj, "gold_answer"), "gold_answer"),
        dataset=opt(obj, "dataset", as_str) or opts.dataset,
        level=opt(obj, "level", as_text),
        subject=opt(obj, "subject", as_str),
    )
    sample = SampleRecord(
        temperature=temperature,
        text=as_str(req(obj, "text"), "text"),
        idx=opt(obj, "sample_idx", as_int),
        n_tokens=opt(obj, "n_tokens", as_int),
        sum_logprob=opt(obj, "sum_logprob", as_float),
        mean_logprob=opt(obj, "mean_logprob", as_float),
        finish_reason=opt(obj, "finish_reason", as_str),
        source_answer=_first(obj, ("source_answer", "answer"), as_text),
        source_correct=_first(obj, ("source_correct", "correct"), as_bool),
        scores=scores,
        embeddings=embeddings,
    )
    return LineRecord(problem, [sample])


def parse(path: Path, opts: ImportOptions) -> Parsed:
    """Parse a native jsonl file line by line, with exact ``FILE:LINE: field`` errors."""
    parsed = parse_lines(path, parse_line, opts)
    parsed.config["parser"] = "line-by-line"
    return parsed
