"""Import formats: each module turns one kind of file into normalised Arrow tables (``Parsed``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import gsm8k_solutions, jsonl, qwen_math_eval, search_and_learn
from .records import BadRecord, ImportOptions, Parsed

FORMATS: dict[str, Callable[[Path, ImportOptions], Parsed]] = {
    "jsonl": jsonl.parse,
    "qwen-math-eval": qwen_math_eval.parse,
    "gsm8k-example-solutions": gsm8k_solutions.parse,
    "search-and-learn": search_and_learn.parse,
}


def parse_file(path: Path | str, fmt: str, opts: ImportOptions) -> Parsed:
    """Parse ``path`` as ``fmt``; raises BadRecord (one line) on the first bad line."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    parsed = FORMATS[fmt](Path(path), opts)
    parsed.config.setdefault("format", fmt)
    return parsed


__all__ = ["FORMATS", "BadRecord", "ImportOptions", "Parsed", "parse_file"]
