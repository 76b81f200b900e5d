"""The `gsm8k-example-solutions` format: OpenAI grade-school-math example_model_solutions.jsonl."""

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
    as_object,
    as_str,
    parse_per_problem,
    req,
)

SYSTEMS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
DEFAULT_TEMPERATURE = 0.0
DEFAULT_DATASET = "gsm8k"


def gold_from_ground_truth(text: str) -> str:
    """The final answer of a GSM8K ground-truth solution: the text after its last ``A:``."""
    at = text.rfind("A:")
    if at < 0:
        raise FieldError("ground_truth", "has no final 'A: <answer>' marker")
    gold = text[at + 2 :].strip()
    if not gold:
        raise FieldError("ground_truth", "the final 'A:' marker has no answer after it")
    return gold


def parse_line(obj: dict[str, Any], line: int, opts: ImportOptions) -> LineRecord:
    """Validate one problem line; its four systems' solutions form one pool (idx 0..3)."""
    truth = as_str(req(obj, "ground_truth"), "ground_truth")
    temperature = DEFAULT_TEMPERATURE if opts.temperature is None else opts.temperature
    dataset = opts.dataset or DEFAULT_DATASET
    samples = []
    for i, system in enumerate(SYSTEMS):
        entry = as_object(req(obj, system), system)
        for key in ("solution", "is_correct"):
            if entry.get(key) is None:
                raise FieldError(f"{system}.{key}", "required field is missing")
        samples.append(
            SampleRecord(
                temperature=temperature,
                text=as_str(entry["solution"], f"{system}.solution"),
                idx=i,
                source_correct=as_bool(entry["is_correct"], f"{system}.is_correct"),
            )
        )
    problem = ProblemRecord(
        problem_id=f"{dataset}:{line - 1}",
        question=as_str(req(obj, "question"), "question"),
        gold_answer=gold_from_ground_truth(truth),
        dataset=dataset,
        meta={"line": line, "solution": truth},
    )
    return LineRecord(problem, samples)


def parse(path: Path, opts: ImportOptions) -> Parsed:
    """Parse an example_model_solutions.jsonl file."""
    parsed = parse_per_problem(
        path, parse_line, opts, temperature=DEFAULT_TEMPERATURE, dataset=DEFAULT_DATASET
    )
    parsed.config["idx_systems"] = dict(enumerate(SYSTEMS))
    return parsed
