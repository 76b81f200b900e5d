"""Problem sets for sampling: Hugging Face presets (MATH-500, GSM8K), any HF dataset, local JSONL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DatasetError(ValueError):
    """A dataset that cannot be read; str() is one line naming the file, line and field."""


@dataclass(frozen=True)
class Fields:
    """Which field of a record holds each part of a problem (None: absent)."""

    question: str = "question"
    answer: str | None = "answer"
    id: str | None = None
    level: str | None = None
    subject: str | None = None
    answer_marker: str | None = None


def fields_from(names: dict[str, str | None]) -> Fields:
    """Fields from a table of field names (the CLI's or a study file's); question needs one."""
    question = names.get("question", Fields.question)
    if question is None:
        raise DatasetError("fields: question: must name a field")
    return Fields(question, **{k: v for k, v in names.items() if k != "question"})


@dataclass(frozen=True)
class Source:
    """Where a problem set comes from: an HF dataset (path, config, split) and its field names."""

    name: str
    path: str
    config: str | None
    split: str
    fields: Fields = field(default_factory=Fields)


PRESETS: dict[str, Source] = {
    "math-500": Source(
        "math500",
        "HuggingFaceH4/MATH-500",
        None,
        "test",
        Fields("problem", "answer", "unique_id", "level", "subject"),
    ),
    "gsm8k": Source(
        "gsm8k", "openai/gsm8k", "main", "test", Fields("question", "answer", answer_marker="####")
    ),
}


def gold_from(text: Any, marker: str | None) -> str | None:
    """The gold answer: the text after the last ``marker`` (e.g. GSM8K's ``#### 42``) or all of it."""
    if text is None:
        return None
    text = str(text)
    if marker and marker in text:
        text = text.rsplit(marker, 1)[1]
        return text.strip().replace(",", "")
    return text.strip()


def to_problem(
    record: dict[str, Any], index: int, dataset: str, fields: Fields, where: str
) -> dict[str, Any]:
    """One ``problems`` row from one record; ``where`` names the record in error messages."""
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(record).__name__}")
    question = record.get(fields.question)
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: field {fields.question}: missing or not a non-empty string")
    gold = None
    if fields.answer:
        if fields.answer not in record:
            raise DatasetError(f"{where}: field {fields.answer}: missing")
        gold = gold_from(record[fields.answer], fields.answer_marker)
    if fields.id:
        if record.get(fields.id) in (None, ""):
            raise DatasetError(f"{where}: field {fields.id}: missing or empty")
        problem_id = str(record[fields.id])
    else:
        problem_id = f"{dataset}:{index}"
    used = {fields.question, fields.answer, fields.id, fields.level, fields.subject}
    meta = {k: v for k, v in record.items() if k not in used}
    if fields.answer_marker and fields.answer:
        meta["solution"] = record[fields.answer]
    return {
        "problem_id": problem_id,
        "dataset": dataset,
        "question": question,
        "gold_answer": gold,
        "level": None if not fields.level else _opt_str(record.get(fields.level)),
        "subject": None if not fields.subject else _opt_str(record.get(fields.subject)),
        "meta": json.dumps(meta, default=str),
    }


def _opt_str(value: Any) -> str | None:
    """``str(value)`` or None."""
    return None if value is None else str(value)


def read_jsonl(
    path: Path, fields: Fields, *, dataset: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Problems from a local JSONL file, one object a line; ids default to ``dataset:line-1``."""
    name = dataset or path.stem
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    try:
        handle = path.open(encoding="utf-8")
    except OSError as e:
        raise DatasetError(f"{path}: cannot read: {e.strerror}") from None
    with handle:
        for lineno, line in enumerate(handle, 1):
            if limit is not None and len(out) >= limit:
                break
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{where}: not valid JSON: {e.msg}") from None
            row = to_problem(record, lineno - 1, name, fields, where)
            if row["problem_id"] in seen:
                raise DatasetError(
                    f"{where}: field {fields.id}: duplicate id {row['problem_id']!r} "
                    f"(first on line {seen[row['problem_id']]})"
                )
            seen[row["problem_id"]] = lineno
            out.append(row)
    if not out:
        raise DatasetError(f"{path}: no problems in the file")
    return out


def read_hf(source: Source, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Problems from a Hugging Face dataset (``datasets`` imported here, only when needed)."""
    try:
        import datasets
    except ImportError:
        raise DatasetError(
            f"{source.path}: reading Hugging Face datasets needs `pip install datasets`"
        ) from None
    try:
        ds = datasets.load_dataset(source.path, source.config, split=source.split)
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DatasetError(f"{source.path}: cannot load split {source.split!r}: {first}") from None
    n = len(ds) if limit is None else min(limit, len(ds))
    return [
        to_problem(ds[i], i, source.name, source.fields, f"{source.path}[{i}]") for i in range(n)
    ]


def load_problems(
    spec: str,
    *,
    split: str | None = None,
    config: str | None = None,
    fields: Fields | None = None,
    name: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Problems named by ``spec``: a preset (math-500, gsm8k), a local .jsonl path, or an HF name."""
    preset = PRESETS.get(spec.lower())
    path = Path(spec)
    if preset is None and (path.suffix == ".jsonl" or path.exists()):
        if not path.is_file():
            raise DatasetError(f"{spec}: no such file")
        return read_jsonl(path, fields or Fields(), dataset=name, limit=limit)
    if preset is not None:
        source = Source(
            name or preset.name,
            preset.path,
            config if config is not None else preset.config,
            split or preset.split,
            fields or preset.fields,
        )
    else:
        source = Source(
            name or spec.rsplit("/", 1)[-1].lower(),
            spec,
            config,
            split or "test",
            fields or Fields(),
        )
    return read_hf(source, limit=limit)
