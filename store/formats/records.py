"""Shared record model of every import format: options, one-line errors, validators, the builder.

Each format turns one JSON line into a ``LineRecord`` (one problem and its samples); the
``Builder`` checks duplicates across lines and collects everything into Arrow columns.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

RECORD = "<record>"
FLOAT32_MAX = 3.4028234663852886e38


class BadRecord(Exception):
    """One malformed line: ``str()`` is ``FILE:LINE: field NAME: what is wrong``."""

    def __init__(self, path: str, line: int, field_name: str, message: str) -> None:
        """Keep the parts so callers can report or count them."""
        self.path, self.line, self.field, self.message = path, line, field_name, message
        super().__init__(f"{path}:{line}: field {field_name}: {message}")


class FieldError(Exception):
    """A problem with one field, raised by validators before the line number is attached."""

    def __init__(self, field_name: str, message: str) -> None:
        """Name the field and what is wrong with it."""
        self.field, self.message = field_name, message
        super().__init__(message)


@dataclass(frozen=True)
class ImportOptions:
    """What the user passed that shapes parsing: run name, defaults, strictness."""

    run_id: str
    temperature: float | None = None
    dataset: str | None = None
    skip_bad: bool = False
    replace: bool = False


@dataclass
class SampleRecord:
    """One sample as a format produces it, before ids are assigned."""

    temperature: float
    text: str
    idx: int | None = None
    n_tokens: int | None = None
    sum_logprob: float | None = None
    mean_logprob: float | None = None
    finish_reason: str | None = None
    source_answer: str | None = None
    source_correct: bool | None = None
    scores: dict[str, float] = field(default_factory=dict)
    embeddings: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class ProblemRecord:
    """One problem as a format produces it."""

    problem_id: str
    question: str
    gold_answer: str | None
    dataset: str | None = None
    level: str | None = None
    subject: str | None = None
    meta: dict[str, Any] | None = None


@dataclass
class LineRecord:
    """Everything one input line holds."""

    problem: ProblemRecord
    samples: list[SampleRecord]


@dataclass
class Parsed:
    """A whole file, normalised into Arrow tables ready for ``store.ingest``.

    ``scores`` and ``embeddings`` point at samples by their row number in ``samples``.
    """

    problems: pa.Table
    samples: pa.Table
    scores: pa.Table
    embeddings: pa.Table
    skipped: list[BadRecord] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    sample_lines: list[int] = field(default_factory=list)
    problem_lines: dict[str, int] = field(default_factory=dict)


PROBLEM_SCHEMA = pa.schema(
    [
        ("problem_id", pa.string()),
        ("dataset", pa.string()),
        ("question", pa.string()),
        ("gold_answer", pa.string()),
        ("level", pa.string()),
        ("subject", pa.string()),
        ("meta", pa.string()),
    ]
)
SAMPLE_SCHEMA = pa.schema(
    [
        ("problem_id", pa.string()),
        ("temperature", pa.float64()),
        ("idx", pa.int64()),
        ("text", pa.string()),
        ("n_tokens", pa.int64()),
        ("sum_logprob", pa.float64()),
        ("mean_logprob", pa.float64()),
        ("finish_reason", pa.string()),
        ("source_answer", pa.string()),
        ("source_correct", pa.bool_()),
    ]
)
SCORE_SCHEMA = pa.schema([("row", pa.int64()), ("scorer", pa.string()), ("value", pa.float64())])
EMBEDDING_SCHEMA = pa.schema(
    [("row", pa.int64()), ("embedder", pa.string()), ("vec", pa.list_(pa.float32()))]
)


class Num(float):
    """A JSON non-integer number that remembers its text, so a numeric gold keeps its digits."""

    text: str

    def __new__(cls, text: str) -> Num:
        """Parse ``text`` as a float and keep it."""
        obj = super().__new__(cls, text)
        obj.text = text
        return obj


MAX_INT_DIGITS = 4300  # Python's own limit for int(str); longer integers are kept as text


class BigInt(str):
    """A JSON integer too long to convert (over 4300 digits): kept as its text."""


def _int(text: str) -> int | BigInt:
    """A JSON integer; one too long for int() stays text, so no field can take it."""
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else BigInt(text)


def _no_constants(name: str) -> None:
    """Reject NaN / Infinity tokens, which are not JSON."""
    raise ValueError(f"{name} is not valid JSON (use a finite number)")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(obj: Any, where: str) -> tuple[str, str] | None:
    """(field, escape) of the first string (key or value) holding a lone surrogate."""
    stack: list[tuple[Any, str]] = [(obj, where)]
    while stack:
        value, name = stack.pop()
        if isinstance(value, str):
            m = _SURROGATE.search(value)
            if m:
                return name, f"\\u{ord(m.group()):04x}"
        elif isinstance(value, dict):
            for k in value:
                key = _SURROGATE.search(k)
                if key:
                    return name, f"\\u{ord(key.group()):04x}"
            # in file order: the first field holding one is named
            stack.extend(
                (v, k if name == RECORD else f"{name}.{k}") for k, v in reversed(value.items())
            )
        elif isinstance(value, list):
            stack.extend((v, f"{name}[{i}]") for i, v in reversed(list(enumerate(value))))
    return None


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build an object, rejecting a key given twice."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise FieldError(k, "given twice in the same object")
        out[k] = v
    return out


def loads(text: str) -> Any:
    """Strict json.loads: no NaN/Infinity, no duplicate keys, numbers keep their text."""
    return json.loads(
        text,
        parse_constant=_no_constants,
        object_pairs_hook=_pairs,
        parse_float=Num,
        parse_int=_int,
    )


def _type_name(value: Any) -> str:
    """The JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, BigInt):
        return f"a {len(value.lstrip('-'))}-digit number"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def req(obj: dict[str, Any], name: str) -> Any:
    """The value of a required field (present and not null)."""
    if name not in obj or obj[name] is None:
        raise FieldError(name, "required field is missing" if name not in obj else "is null")
    return obj[name]


def as_str(value: Any, name: str, *, nonempty: bool = False) -> str:
    """A JSON string, else a FieldError."""
    if not isinstance(value, str) or isinstance(value, BigInt):
        raise FieldError(name, f"expected a string, got {_type_name(value)}")
    if nonempty and not value.strip():
        raise FieldError(name, "is empty")
    return value


def as_text(value: Any, name: str) -> str:
    """A string, or a number turned into its JSON text (for gold answers and extracted answers)."""
    if isinstance(value, Num):
        return value.text
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, BigInt):
        return str.__str__(value)
    return as_str(value, name)


def as_float(value: Any, name: str) -> float:
    """A finite JSON number, else a FieldError."""
    if isinstance(value, BigInt):
        raise FieldError(name, f"a {len(value.lstrip('-'))}-digit number is out of range")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(name, f"expected a number, got {_type_name(value)}")
    out = float(value)
    if not math.isfinite(out):
        raise FieldError(name, "expected a finite number")
    return out


def as_int(value: Any, name: str, *, minimum: int = 0) -> int:
    """A JSON integer >= ``minimum`` that fits in 32 bits, else a FieldError."""
    if isinstance(value, BigInt):
        raise FieldError(
            name,
            f"expected an integer from {minimum} to {2**31 - 1}, "
            f"got a {len(value.lstrip('-'))}-digit number",
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, f"expected an integer, got {_type_name(value)}")
    if value < minimum or value > 2**31 - 1:
        raise FieldError(name, f"expected an integer from {minimum} to {2**31 - 1}, got {value}")
    return value


def as_bool(value: Any, name: str) -> bool:
    """A JSON boolean, else a FieldError."""
    if not isinstance(value, bool):
        raise FieldError(name, f"expected true or false, got {_type_name(value)}")
    return value


def as_list(value: Any, name: str, length: int | None = None, of: str | None = None) -> list[Any]:
    """A JSON list, optionally of a given length (matching the list named ``of``)."""
    if not isinstance(value, list):
        raise FieldError(name, f"expected a list, got {_type_name(value)}")
    if length is not None and len(value) != length:
        raise FieldError(name, f"has {len(value)} items but {of} has {length}")
    return value


def as_object(value: Any, name: str) -> dict[str, Any]:
    """A JSON object, else a FieldError."""
    if not isinstance(value, dict):
        raise FieldError(name, f"expected an object, got {_type_name(value)}")
    return value


def opt(obj: dict[str, Any], name: str, conv: Callable[[Any, str], Any]) -> Any:
    """An optional field converted by ``conv``; absent or null gives None."""
    value = obj.get(name)
    return None if value is None else conv(value, name)


def as_vector(value: Any, name: str) -> list[float]:
    """A non-empty list of finite numbers (an embedding)."""
    items = as_list(value, name)
    if not items:
        raise FieldError(name, "is an empty list")
    out = [as_float(v, f"{name}[{i}]") for i, v in enumerate(items)]
    if any(abs(v) > FLOAT32_MAX for v in out):
        raise FieldError(name, "holds a number too large for a 32-bit float")
    return out


def read_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed JSON) for every non-blank line; BadRecord on a bad line."""
    shown = str(path)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark at the very start is skipped
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield (
                    lineno,
                    BadRecord(
                        shown,
                        lineno,
                        RECORD,
                        f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})",
                    ),
                )
                continue
            if not text.strip():
                continue
            try:
                obj = loads(text.strip())
                if _SURROGATE_ESCAPE.search(text):
                    bad = _lone_surrogate(obj, RECORD)
                    if bad is not None:
                        raise FieldError(
                            bad[0], f"holds a lone surrogate escape {bad[1]} (not valid Unicode)"
                        )
                yield lineno, obj
            except FieldError as e:
                yield lineno, BadRecord(shown, lineno, e.field, e.message)
            except RecursionError:
                yield lineno, BadRecord(shown, lineno, RECORD, "JSON nested too deeply")
            except json.JSONDecodeError as e:
                yield (
                    lineno,
                    BadRecord(
                        shown,
                        lineno,
                        RECORD,
                        f"invalid or truncated JSON: {_json_msg(e)} column {e.colno}",
                    ),
                )
            except ValueError as e:
                yield lineno, BadRecord(shown, lineno, RECORD, f"invalid JSON: {e}")


def _json_msg(e: json.JSONDecodeError) -> str:
    """json's message ready for "column N": "... starting at" gets no second "at"."""
    return e.msg if e.msg.endswith(" at") else f"{e.msg} at"


class Builder:
    """Collects validated lines, rejecting duplicates, and turns them into a ``Parsed``."""

    def __init__(self, path: str) -> None:
        """Start empty for the file ``path``."""
        self.path = path
        self.problems: dict[str, tuple[int, ProblemRecord]] = {}
        self.pools: dict[tuple[str, float], int] = {}
        self.seen: dict[tuple[str, float, int], int] = {}
        self.sample_cols: dict[str, list[Any]] = {n: [] for n in SAMPLE_SCHEMA.names}
        self.score_cols: dict[str, list[Any]] = {n: [] for n in SCORE_SCHEMA.names}
        self.emb_cols: dict[str, list[Any]] = {n: [] for n in EMBEDDING_SCHEMA.names}
        self.lines: list[int] = []

    def _check(self, line: int, rec: LineRecord) -> list[int]:
        """Raise BadRecord if ``rec`` conflicts with earlier lines; return its samples' idx."""
        p = rec.problem
        if p.problem_id in self.problems:
            first_line, old = self.problems[p.problem_id]
            for name in ("question", "gold_answer"):
                if getattr(old, name) != getattr(p, name):
                    raise BadRecord(
                        self.path,
                        line,
                        name,
                        f"problem {p.problem_id!r} has a different {name} on line {first_line}",
                    )
        counters: dict[tuple[str, float], int] = {}
        idxs: list[int] = []
        mine: dict[tuple[str, float, int], int] = {}
        for s in rec.samples:
            pool = (p.problem_id, round(s.temperature, 6))
            n = counters.get(pool, self.pools.get(pool, 0))
            counters[pool] = n + 1
            idx = n if s.idx is None else s.idx
            key = (*pool, idx)
            first = self.seen.get(key, mine.get(key))
            if first is not None:
                raise BadRecord(
                    self.path,
                    line,
                    "sample_idx",
                    f"duplicate sample (problem {p.problem_id!r}, temperature {s.temperature:g}, "
                    f"sample_idx {idx}) first seen on line {first}",
                )
            mine[key] = line
            idxs.append(idx)
        return idxs

    def add(self, line: int, rec: LineRecord) -> None:
        """Add one line's problem and samples, or raise BadRecord leaving the builder unchanged."""
        idxs = self._check(line, rec)
        p = rec.problem
        self.problems.setdefault(p.problem_id, (line, p))
        for s, idx in zip(rec.samples, idxs, strict=True):
            pool = (p.problem_id, round(s.temperature, 6))
            self.pools[pool] = self.pools.get(pool, 0) + 1
            self.seen[(*pool, idx)] = line
            row = len(self.sample_cols["idx"])
            self.lines.append(line)
            c = self.sample_cols
            c["problem_id"].append(p.problem_id)
            c["temperature"].append(s.temperature)
            c["idx"].append(idx)
            c["text"].append(s.text)
            c["n_tokens"].append(s.n_tokens)
            c["sum_logprob"].append(s.sum_logprob)
            c["mean_logprob"].append(s.mean_logprob)
            c["finish_reason"].append(s.finish_reason)
            c["source_answer"].append(s.source_answer)
            c["source_correct"].append(s.source_correct)
            for name, value in s.scores.items():
                self.score_cols["row"].append(row)
                self.score_cols["scorer"].append(name)
                self.score_cols["value"].append(value)
            for name, vec in s.embeddings.items():
                self.emb_cols["row"].append(row)
                self.emb_cols["embedder"].append(name)
                self.emb_cols["vec"].append(vec)

    def result(self) -> Parsed:
        """The collected rows as Arrow tables."""
        probs = [p for _, p in self.problems.values()]
        problems = pa.table(
            {
                "problem_id": [p.problem_id for p in probs],
                "dataset": [p.dataset for p in probs],
                "question": [p.question for p in probs],
                "gold_answer": [p.gold_answer for p in probs],
                "level": [p.level for p in probs],
                "subject": [p.subject for p in probs],
                "meta": [None if p.meta is None else json.dumps(p.meta) for p in probs],
            },
            schema=PROBLEM_SCHEMA,
        )
        return Parsed(
            problems=problems,
            samples=pa.table(self.sample_cols, schema=SAMPLE_SCHEMA),
            scores=pa.table(self.score_cols, schema=SCORE_SCHEMA),
            embeddings=pa.table(self.emb_cols, schema=EMBEDDING_SCHEMA),
            sample_lines=list(self.lines),
            problem_lines={pid: line for pid, (line, _) in self.problems.items()},
        )


LineParser = Callable[[Any, int, ImportOptions], LineRecord]


def parse_lines(path: Path, parse_line: LineParser, opts: ImportOptions) -> Parsed:
    """Validate ``path`` line by line with ``parse_line``; the first bad line raises BadRecord.

    With ``opts.skip_bad`` bad lines are collected in ``Parsed.skipped`` instead.
    """
    shown = str(path)
    builder = Builder(shown)
    skipped: list[BadRecord] = []
    n_lines = 0
    for lineno, obj in read_lines(path):
        n_lines += 1
        try:
            if isinstance(obj, BadRecord):
                raise obj
            if not isinstance(obj, dict):
                raise BadRecord(
                    shown, lineno, RECORD, f"expected a JSON object, got {_type_name(obj)}"
                )
            try:
                rec = parse_line(obj, lineno, opts)
            except FieldError as e:
                raise BadRecord(shown, lineno, e.field, e.message) from None
            builder.add(lineno, rec)
        except BadRecord as bad:
            if not opts.skip_bad:
                raise
            skipped.append(bad)
    if n_lines == 0:
        raise BadRecord(shown, 1, RECORD, "the file holds no records")
    parsed = builder.result()
    if parsed.samples.num_rows == 0:
        raise BadRecord(
            shown,
            skipped[0].line if skipped else 1,
            RECORD,
            f"no valid records ({len(skipped)} bad lines skipped)",
        )
    parsed.skipped = skipped
    return parsed


def parse_per_problem(
    path: Path,
    parse_line: LineParser,
    opts: ImportOptions,
    *,
    temperature: float,
    dataset: str,
) -> Parsed:
    """Parse a one-problem-per-line file and record the temperature and dataset it was read with.

    Such files do not carry their sampling temperature; ``temperature`` and ``dataset`` are the
    format's defaults, used unless ``--temperature`` / ``--dataset`` were given.
    """
    parsed = parse_lines(path, parse_line, opts)
    parsed.config["temperature"] = temperature if opts.temperature is None else opts.temperature
    parsed.config["dataset"] = opts.dataset or dataset
    return parsed
