"""The `search-and-learn` format: huggingface/search-and-learn completion rows, one per problem."""

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
    as_float,
    as_int,
    as_list,
    as_str,
    as_text,
    opt,
    parse_per_problem,
    req,
)

PRM_LAST = "import:search-and-learn:prm_last"
AGG_SCORES = "import:search-and-learn:agg_scores"
DEFAULT_TEMPERATURE = 0.8
DEFAULT_DATASET = "math"


def _last_step(value: Any, name: str) -> float:
    """The last step score of one completion's step-score list (sal hard-codes "last")."""
    steps = as_list(value, name)
    if not steps:
        raise FieldError(name, "is an empty list of step scores")
    for i, v in enumerate(steps):
        as_float(v, f"{name}[{i}]")
    return float(steps[-1])


def parse_line(obj: dict[str, Any], line: int, opts: ImportOptions) -> LineRecord:
    """Validate one row and expand its completions into samples."""
    comps = as_list(req(obj, "completions"), "completions")
    texts = [as_str(t, f"completions[{i}]") for i, t in enumerate(comps)]
    if not texts:
        raise FieldError("completions", "is an empty list")
    n = len(texts)

    def column(name: str, conv: Any) -> list[Any]:
        """An optional per-completion list of the same length as the completions."""
        value = obj.get(name)
        if value is None:
            return [None] * n
        return [
            conv(v, f"{name}[{i}]") for i, v in enumerate(as_list(value, name, n, "completions"))
        ]

    last = column("scores", _last_step)
    agg = column("agg_scores", as_float)
    tokens = column("completion_tokens", as_int)
    dataset = opts.dataset or DEFAULT_DATASET
    unique_id = opt(obj, "unique_id", lambda v, nm: as_str(v, nm, nonempty=True))
    temperature = DEFAULT_TEMPERATURE if opts.temperature is None else opts.temperature
    meta: dict[str, Any] = {"line": line}
    pred = opt(obj, "pred", as_str)
    if pred is not None:
        meta["pred"] = pred
    if isinstance(obj.get("solution"), str):
        meta["solution"] = obj["solution"]
    problem = ProblemRecord(
        problem_id=unique_id or f"{dataset}:{line - 1}",
        question=as_str(req(obj, "problem"), "problem"),
        gold_answer=as_text(req(obj, "answer"), "answer"),
        dataset=dataset,
        level=opt(obj, "level", as_text),
        subject=opt(obj, "subject", as_str),
        meta=meta,
    )
    samples = []
    for i in range(n):
        scores = {} if last[i] is None else {PRM_LAST: last[i]}
        if agg[i] is not None:
            scores[AGG_SCORES] = agg[i]
        samples.append(
            SampleRecord(
                temperature=temperature, text=texts[i], idx=i, n_tokens=tokens[i], scores=scores
            )
        )
    return LineRecord(problem, samples)


def parse(path: Path, opts: ImportOptions) -> Parsed:
    """Parse a search-and-learn completions file."""
    parsed = parse_per_problem(
        path, parse_line, opts, temperature=DEFAULT_TEMPERATURE, dataset=DEFAULT_DATASET
    )
    return parsed
