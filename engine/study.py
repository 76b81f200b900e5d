"""`study.toml`: parsing with one-line errors naming the key, and the stage runner that resumes."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from divtui.store.vocabulary import QUALITIES

Progress = Callable[[int, int, str], None]
ProgressFactory = Callable[[str], AbstractContextManager[Progress | None]]

STAGES = ("generate", "grade", "score", "embed", "draw", "report")
FUNCTIONS = {
    "grade": ("divtui.engine.grading", "grade_db"),
    "score": ("divtui.engine.rewards", "score_db"),
    "embed": ("divtui.engine.embed", "embed_db"),
    "draw": ("divtui.engine.draws", "run_draws"),
    "report": ("divtui.engine.report", "build_report"),
}


class StudyError(ValueError):
    """A study file that cannot be used; str() is ``FILE:LINE: key K: what is wrong``."""


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _pos_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v >= 0


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _temps(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(_num(t) for t in v)


def _strs(v: Any) -> bool:
    return isinstance(v, list) and all(_str(s) for s in v)


def _by_spec(v: Any) -> bool:
    """Accept here: the key is checked by its stage's spec (engine.specs)."""
    return True


def _fields(v: Any) -> bool:
    keys = {"question", "answer", "id", "level", "subject", "answer_marker"}
    return isinstance(v, dict) and set(v) <= keys and all(_str(x) for x in v.values())


KEYS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "study": {"db": (_str, "a path string")},
    "generate": {
        "model": (_str, "a model id or folder"),
        "dataset": (_str, "math-500, gsm8k, an HF name or a .jsonl path"),
        "temperatures": (_temps, "a non-empty list of numbers >= 0"),
        "n": (_pos_int, "a positive integer"),
        "max_tokens": (_pos_int, "a positive integer"),
        "seed": (_int, "an integer"),
        "backend": (lambda v: v in ("vllm", "transformers"), '"vllm" or "transformers"'),
        "limit": (_pos_int, "a positive integer"),
        "system_prompt": (_str, "a string"),
        "run_id": (_str, "a string"),
        "batch_size": (_pos_int, "a positive integer"),
        "pools_per_call": (_pos_int, "a positive integer"),
        "device": (_str, "a string such as cuda or cpu"),
        "dtype": (_str, "float32, bfloat16 or float16"),
        "tensor_parallel_size": (_pos_int, "a positive integer"),
        "split": (_str, "a string"),
        "dataset_config": (_str, "a string"),
        "dataset_name": (_str, "a string"),
        "fields": (_fields, "a table of field names (question, answer, id, ...)"),
        "gpu_memory_utilization": (
            lambda v: _num(v) and 0 < v <= 1,
            "a number in (0, 1] (vllm: share of GPU memory per engine)",
        ),
        "max_model_len": (_pos_int, "a positive integer"),
        "enforce_eager": (_bool, "true or false"),
        "max_num_seqs": (_pos_int, "a positive integer"),
        "engine_args": (lambda v: isinstance(v, dict), "a table of vLLM engine arguments"),
        "data_parallel_size": (_pos_int, "a positive integer"),
        "gpus": (
            lambda v: isinstance(v, list) and bool(v) and all(_str(g) or _int(g) for g in v),
            "a list of GPU ids in engine order, e.g. [0, 1]",
        ),
        "launcher": (lambda v: v in ("local", "ray"), '"local" or "ray"'),
    },
    "grade": {
        "workers": (_by_spec, "a positive integer"),
        "timeout": (_by_spec, "a number of seconds in (0, 600]"),
        "regrade": (_by_spec, "true or false"),
    },
    "score": {
        "scorers": (_strs, "a list of orm:MODEL / classifier:MODEL strings"),
        "batch_size": (_by_spec, "a positive integer"),
        "store_hidden": (_by_spec, "true or false"),
        "device": (_by_spec, "a string such as cuda or cpu"),
        "dtype": (_by_spec, "auto, float32, bfloat16 or float16"),
    },
    "embed": {
        "embedders": (_strs, "a list of model ids or folders"),
        "batch_size": (_by_spec, "a positive integer"),
        "device": (_by_spec, "a string such as cuda or cpu"),
        "backend": (_by_spec, '"torch", "onnx" or "onnx-int8"'),
    },
    "draw": {
        "sizes": (_by_spec, "a non-empty list of positive integers"),
        "reps": (_by_spec, "a positive integer"),
        "seed": (_by_spec, "an integer >= 0 (default 0)"),
        "distinct_n": (_by_spec, "a positive integer"),
        "quality": (_by_spec, " | ".join(QUALITIES)),
        "workers": (_by_spec, "a positive integer"),
    },
    "report": {
        "format": (lambda v: v in ("md", "json"), '"md" or "json"'),
        "output": (_str, "a path string"),
        "tables": (_strs, "a list of table names"),
        "n_boot": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
        "seed": (_int, "an integer"),
    },
}
REQUIRED = {
    "generate": ("model", "dataset", "temperatures", "n"),
    "draw": ("sizes", "reps"),
    "score": ("scorers",),
}
SPEC_STAGES = ("grade", "score", "embed", "draw")
"""The stages whose table is translated into an engine spec (engine.specs) and run by it."""
LIST_KEYS = {"scorer": "scorers", "embedder": "embedders"}
"""A spec field that a study table gives as a list of values (one spec per value)."""


@dataclass
class Study:
    """A parsed study file: its path, its folder (for relative paths), its stage tables, and
    the (label, spec) of each call a spec stage makes."""

    path: Path
    sections: dict[str, dict[str, Any]]
    specs: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    def resolve(self, value: str) -> str:
        """A path from the file, relative to the file's folder."""
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else self.path.parent / p)


def line_of(text: str, section: str, key: str | None = None) -> int:
    """The line of ``[section]`` (or of ``key`` inside it) in ``text``; 1 when not found."""
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]")
    for i, line in enumerate(lines):
        if header.match(line):
            if key is None:
                return i + 1
            pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
            for j in range(i + 1, len(lines)):
                if re.match(r"^\s*\[", lines[j]) and not lines[j].strip().startswith(
                    f"[{section}."
                ):
                    break
                if pattern.match(lines[j]) or lines[j].strip() == f"[{section}.{key}]":
                    return j + 1
            return i + 1
    return 1


def load_study(path: str | Path) -> Study:
    """Read and check a study file; every problem is a StudyError naming file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise StudyError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        line = m.group(1) if m else "1"
        reason = re.sub(r" \(at line.*", "", msg)
        raise StudyError(f"{path}:{line}: invalid TOML: {reason}") from None
    for section, table in data.items():
        if section not in KEYS:
            raise StudyError(
                f"{path}:{line_of(text, section)}: section [{section}]: unknown "
                f"(known: {', '.join(KEYS)})"
            )
        if not isinstance(table, dict):
            raise StudyError(f"{path}:1: key {section}: must be a [{section}] table")
        for key, value in table.items():
            where = f"{path}:{line_of(text, section, key)}: key {section}.{key}"
            if key not in KEYS[section]:
                raise StudyError(f"{where}: unknown (known: {', '.join(KEYS[section])})")
            check, what = KEYS[section][key]
            if not check(value):
                raise StudyError(f"{where}: must be {what}, got {value!r}")
        if section == "generate" and "engine_args" in table:
            from .engine_settings import SettingError, check_engine_args

            try:
                check_engine_args(table["engine_args"])
            except SettingError as e:
                line = line_of(text, section, "engine_args")
                m = re.match(r"engine_args\.(\w+)", str(e))
                name = m.group(1) if m else None
                lines = text.splitlines()
                for j in range(line, len(lines)) if name else ():
                    if re.match(r"^\s*\[", lines[j]):
                        break
                    if re.match(rf"^\s*[\"']?{name}[\"']?\s*=", lines[j]):
                        line = j + 1
                        break
                raise StudyError(f"{path}:{line}: key generate.{e}") from None
        for key in REQUIRED.get(section, ()):
            if key not in table:
                raise StudyError(
                    f"{path}:{line_of(text, section)}: key {section}.{key}: missing (required)"
                )
    if not any(s in data for s in STAGES):
        raise StudyError(f"{path}:1: no stage sections (use some of {', '.join(STAGES)})")
    specs = {
        stage: _stage_specs(stage, data[stage], path, text)
        for stage in SPEC_STAGES
        if stage in data
    }
    return Study(path, data, specs)


def _stage_specs(stage: str, table: dict[str, Any], path: Path, text: str) -> list[tuple[str, Any]]:
    """(label, spec) of each call of a spec stage: one per scorer (score), per embedder (embed),
    else one; a bad field is a StudyError naming the file, the line and the key."""
    from .specs import SPECS, SpecError

    cfg = dict(table)
    if stage == "score":
        calls = [(f"score {s}", {**cfg, "scorer": s}) for s in cfg.pop("scorers")]
    elif stage == "embed":
        embedders = cfg.pop("embedders", None) or [None]
        calls = [
            (f"embed {e or 'default'}", {**cfg, **({"embedder": e} if e else {})})
            for e in embedders
        ]
    else:
        calls = [(stage, cfg)]
    out = []
    for label, mapping in calls:
        try:
            out.append((label, SPECS[stage].from_mapping(mapping, str(path))))
        except SpecError as e:
            key = LIST_KEYS.get(e.field or "", e.field or "")
            raise StudyError(
                f"{path}:{line_of(text, stage, key)}: key {stage}.{key}: {e.what}"
            ) from None
    return out


def stage_function(stage: str) -> Callable[..., Any] | None:
    """The engine function behind ``stage``, imported now; None when it does not exist (yet)."""
    module, name = FUNCTIONS[stage]
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _no_progress(stage: str) -> AbstractContextManager[Progress | None]:
    """No progress display."""
    return nullcontext(None)


def _stage_calls(study: Study, stage: str) -> Iterator[tuple[str, Any]]:
    """(label, spec) of each call a spec stage makes; (label, keyword arguments) for report."""
    if stage in SPEC_STAGES:
        yield from study.specs[stage]
    elif stage == "report":
        cfg = dict(study.sections[stage])
        cfg.pop("format", None)
        cfg.pop("output", None)
        yield "report", cfg


def run_study(
    study: Study,
    *,
    db: str | None = None,
    stages: list[str] | None = None,
    progress: ProgressFactory = _no_progress,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the file's stages in order on its database; each skips work already stored.

    Returns each stage's counts, and the report.
    """
    from divtui.store import open_db

    for s in stages or ():
        if s not in STAGES:
            raise StudyError(f"stage {s!r}: unknown (known: {', '.join(STAGES)})")
    db_path = db or (
        study.resolve(study.sections["study"]["db"])
        if "db" in study.sections.get("study", {})
        else None
    )
    if not db_path:
        raise StudyError(f"{study.path}:1: key study.db: missing (or pass --db)")
    todo = [s for s in STAGES if s in study.sections and (not stages or s in stages)]
    results: dict[str, Any] = {}
    con = open_db(db_path)
    try:
        for stage in todo:
            if stage == "generate":
                results["generate"] = _run_generate(con, study, progress, echo)
                continue
            fn = stage_function(stage)
            if fn is None:
                echo(f"{stage}: skipped ({'.'.join(FUNCTIONS[stage])} is not available)")
                continue
            for label, args in _stage_calls(study, stage):
                with progress(label) as bar:
                    if stage == "report":
                        out = fn(con, **args, progress=bar)
                    else:
                        extra = {"notice": echo} if stage == "draw" else {}
                        out = fn(con, args, progress=bar, **extra)
                results.setdefault(stage, []).append(out)
                if stage == "report":
                    results["report"] = out
                    _write_report(study, db_path, out, echo)
                else:
                    echo(f"{label}: {_summary(out)}")
    finally:
        con.close()
    return results


def _run_generate(
    con: Any, study: Study, progress: ProgressFactory, echo: Callable[[str], None]
) -> dict[str, Any]:
    """The generate stage: relative dataset paths resolve against the study file's folder."""
    from .generate import GenerateSpec, generate_db

    cfg = dict(study.sections["generate"])
    if cfg["dataset"].endswith(".jsonl"):
        cfg["dataset"] = study.resolve(cfg["dataset"])
    if Path(study.resolve(cfg["model"])).is_dir():
        cfg["model"] = study.resolve(cfg["model"])
    if "gpus" in cfg:
        cfg["gpus"] = [str(g) for g in cfg["gpus"]]
    spec = GenerateSpec(**cfg)
    with progress("generate") as bar:
        out = generate_db(con, spec, progress=bar)
    echo(f"generate: {_summary(out)}")
    return out


def _summary(stats: Any) -> str:
    """A stage's returned counts as one line."""
    if isinstance(stats, dict):
        return ", ".join(f"{k}={v}" for k, v in stats.items() if not isinstance(v, dict | list))
    return str(stats)


def _write_report(
    study: Study,
    db_path: str,
    report: dict[str, Any],
    echo: Callable[[str], None],
) -> None:
    """Write the report where [report] output says, as Markdown (engine.report_markdown) or JSON."""
    cfg = study.sections["report"]
    if cfg.get("format", "md") == "md":
        from .report_markdown import to_markdown

        text = to_markdown(report, db_path)
    else:
        text = json.dumps(report, default=str, indent=2)
    if "output" in cfg:
        out = Path(study.resolve(cfg["output"]))
        out.write_text(text + "\n", encoding="utf-8")
        echo(f"report: written to {out}")
    else:
        echo(text)
