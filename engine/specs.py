"""One frozen spec per operation (draw, prune, score, embed, grade; generate beside them).

Every way in (the CLI options, a study.toml table, a remote job spec, the UI's dialog) only
translates its input into one of these; the checks of each field live here once, in the spec's
``__post_init__``, so a spec that exists is valid. ``from_mapping(mapping, where)`` builds one
from JSON/TOML-like values with the one-line error ``WHERE: field NAME: what is wrong``;
``to_mapping()`` / ``to_json()`` are its inverse. Seeds follow one rule everywhere: optional,
default 0, an integer in [0, 2**63 - 1].
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Self

from divtui.store.vocabulary import QUALITIES

from .prompts import DEFAULT_SYSTEM_PROMPT

DEFAULT_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
"""The embedder used when none is named (a sentence-transformers hub id)."""
MAX_SEED = 2**63 - 1
MAX_SIZES = 64
MAX_SIZE = 100_000
MAX_REPS = 1_000_000
MAX_WORKERS = 1024
MAX_BATCH = 100_000
MAX_TIMEOUT = 600.0
DTYPES = ("auto", "float32", "bfloat16", "float16")
"""Model dtypes a scorer may load in (``auto``, stored as None: the device's best)."""


class SpecError(ValueError):
    """A spec field that is not valid; ``str()`` is one line ``WHERE: field NAME: what``."""

    def __init__(self, message: str, field: str | None = None, what: str | None = None) -> None:
        """The one-line message, and (when one field is at fault) its name and the reason."""
        super().__init__(message)
        self.field, self.what = field, what


def _bad(spec: object, name: str, what: str) -> SpecError:
    """The error for field ``name`` of ``spec`` (``where`` is the class until from_mapping)."""
    return SpecError(f"{type(spec).__name__}: field {name}: {what}", name, what)


def _is_int(v: Any) -> bool:
    """An int that is not a bool."""
    return isinstance(v, int) and not isinstance(v, bool)


def _int(spec: object, name: str, lo: int, hi: int) -> int:
    """Field ``name`` as an integer in [lo, hi]."""
    v = getattr(spec, name)
    if not _is_int(v) or not lo <= v <= hi:
        what = "a positive integer" if (lo, hi) == (1, MAX_BATCH) else f"an integer in [{lo}, {hi}]"
        raise _bad(spec, name, f"must be {what}, got {v!r}")
    return int(v)


def _opt_int(spec: object, name: str, lo: int, hi: int) -> int | None:
    """Field ``name`` as None or an integer in [lo, hi]."""
    v = getattr(spec, name)
    if v is None:
        return None
    if not _is_int(v) or not lo <= v <= hi:
        raise _bad(spec, name, f"must be a positive integer (at most {hi}) or absent, got {v!r}")
    return int(v)


def _bool(spec: object, name: str) -> bool:
    """Field ``name`` as true or false."""
    v = getattr(spec, name)
    if not isinstance(v, bool):
        raise _bad(spec, name, f"must be true or false, got {v!r}")
    return v


def _opt_str(spec: object, name: str) -> str | None:
    """Field ``name`` as None or a non-empty string."""
    v = getattr(spec, name)
    if v is None:
        return None
    if not isinstance(v, str) or not v:
        raise _bad(spec, name, f"must be a non-empty string, got {v!r}")
    return v


def _choice(spec: object, name: str, choices: Sequence[str]) -> str:
    """Field ``name`` as one of ``choices``."""
    v = getattr(spec, name)
    if v not in choices:
        raise _bad(spec, name, f"must be one of {', '.join(choices)}, got {v!r}")
    return str(v)


def _ints(spec: object, name: str, hi: int) -> tuple[int, ...]:
    """Field ``name`` as 1 to MAX_SIZES integers in [1, hi], sorted and without repeats."""
    v = getattr(spec, name)
    if isinstance(v, str | bytes) or not isinstance(v, Sequence) or not 1 <= len(v) <= MAX_SIZES:
        raise _bad(spec, name, f"must be a list of 1 to {MAX_SIZES} positive integers, got {v!r}")
    for k in v:
        if not _is_int(k) or not 1 <= k <= hi:
            raise _bad(spec, name, f"{k!r} is not a positive integer (at most {hi})")
    return tuple(sorted({int(k) for k in v}))


def _names(spec: object, name: str) -> tuple[str, ...] | None:
    """Field ``name`` as None (all stored ones) or a list of names, in order without repeats."""
    v = getattr(spec, name)
    if v is None:
        return None
    if isinstance(v, str | bytes) or not isinstance(v, Sequence):
        raise _bad(spec, name, f"must be a list of names or absent, got {v!r}")
    for s in v:
        if not isinstance(s, str) or not s:
            raise _bad(spec, name, f"{s!r} is not a name")
    return tuple(dict.fromkeys(v))


def _set(spec: object, **values: Any) -> None:
    """Store normalised field values on a frozen spec."""
    for name, value in values.items():
        object.__setattr__(spec, name, value)


def _from_mapping(cls: Any, mapping: Any, where: str) -> Any:
    """``cls`` built from ``mapping``; unknown, missing and bad fields are one-line SpecErrors."""
    if not isinstance(mapping, Mapping):
        raise SpecError(f"{where}: must be a table of settings, got {type(mapping).__name__}")
    names = [f.name for f in fields(cls)]
    for key in mapping:
        if key not in names:
            what = f"unknown (known: {', '.join(names)})"
            raise SpecError(f"{where}: field {key}: {what}", str(key), what)
    for f in fields(cls):
        if f.name not in mapping and f.default is MISSING:
            what = "missing (required)"
            raise SpecError(f"{where}: field {f.name}: {what}", f.name, what)
    try:
        return cls(**mapping)
    except SpecError as e:
        raise SpecError(f"{where}: field {e.field}: {e.what}", e.field, e.what) from None


def _to_mapping(spec: Any) -> dict[str, Any]:
    """A spec's fields as JSON-ready values (tuples become lists)."""
    out: dict[str, Any] = {}
    for f in fields(spec):
        v = getattr(spec, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


class Settings:
    """What every spec does with its settings: is built from them, and written back as them."""

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], where: str) -> Self:
        """The spec from settings (a TOML table, a JSON object); bad ones name the field."""
        return _from_mapping(cls, mapping, where)

    def to_mapping(self) -> dict[str, Any]:
        """The settings as JSON-ready values (``from_mapping``'s inverse)."""
        return _to_mapping(self)

    def to_json(self) -> str:
        """The settings as JSON text."""
        return json.dumps(self.to_mapping(), sort_keys=True)


@dataclass(frozen=True)
class DrawSpec(Settings):
    """A draw stage: ``reps`` random k-subsets of every pool for each k in ``sizes``
    (sequences are stored as tuples: sizes sorted without repeats, names in order)."""

    sizes: Sequence[int]
    reps: int
    seed: int = 0
    run_id: str | None = None
    scorers: Sequence[str] | None = None
    embedders: Sequence[str] | None = None
    distinct_n: int = 3
    quality: str = QUALITIES[0]
    workers: int | None = None

    def __post_init__(self) -> None:
        """Check and normalise every field (sizes sorted, names without repeats)."""
        _set(
            self,
            sizes=_ints(self, "sizes", MAX_SIZE),
            reps=_int(self, "reps", 1, MAX_REPS),
            seed=_int(self, "seed", 0, MAX_SEED),
            run_id=_opt_str(self, "run_id"),
            scorers=_names(self, "scorers"),
            embedders=_names(self, "embedders"),
            distinct_n=_int(self, "distinct_n", 1, 100),
            quality=_choice(self, "quality", QUALITIES),
            workers=_opt_int(self, "workers", 1, MAX_WORKERS),
        )


def _spaces() -> tuple[str, ...]:
    """The pruning spaces (engine.prune.SPACES), imported when a PruneSpec is checked."""
    from .prune import SPACES

    return tuple(SPACES)


@dataclass(frozen=True)
class PruneSpec(Settings):
    """A prune stage: every stored draw of each size N cut to m medoids and m random members."""

    sizes: Sequence[int]
    keep: Sequence[int] = (1, 2, 4, 8, 16)
    metrics: Sequence[str] = ("sbert", "bleu", "orm")
    weighted: bool = False
    seed: int = 0
    run_id: str | None = None
    scorer: str | None = None
    embedder: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        """Check and normalise every field (sizes and keep sorted, metrics in order)."""
        metrics = _names(self, "metrics")
        known = _spaces()
        bad = [m for m in metrics or () if m not in known]
        if not metrics or bad:
            what = f"unknown metric {bad[0]!r}" if bad else "give at least one"
            raise _bad(self, "metrics", f"{what}; choose from {', '.join(known)}")
        _set(
            self,
            sizes=_ints(self, "sizes", MAX_SIZE),
            keep=_ints(self, "keep", MAX_SIZE),
            metrics=metrics,
            weighted=_bool(self, "weighted"),
            seed=_int(self, "seed", 0, MAX_SEED),
            run_id=_opt_str(self, "run_id"),
            scorer=_opt_str(self, "scorer"),
            embedder=_opt_str(self, "embedder"),
            workers=_opt_int(self, "workers", 1, MAX_WORKERS),
        )


@dataclass(frozen=True)
class ScoreSpec(Settings):
    """A score stage: one reward model (orm:MODEL or classifier:MODEL) over unscored samples."""

    scorer: str
    run_id: str | None = None
    batch_size: int = 8
    store_hidden: bool = False
    device: str | None = None
    dtype: str | None = None

    def __post_init__(self) -> None:
        """Check every field; dtype ``auto`` is stored as None."""
        from .rewards import ScorerError, parse_scorer

        if not isinstance(self.scorer, str):
            raise _bad(self, "scorer", f"must be a string, got {self.scorer!r}")
        try:
            parse_scorer(self.scorer)
        except ScorerError as e:
            raise _bad(self, "scorer", str(e)) from None
        dtype = None if self.dtype is None else _choice(self, "dtype", DTYPES)
        _set(
            self,
            run_id=_opt_str(self, "run_id"),
            batch_size=_int(self, "batch_size", 1, MAX_BATCH),
            store_hidden=_bool(self, "store_hidden"),
            device=_opt_str(self, "device"),
            dtype=None if dtype == "auto" else dtype,
        )


@dataclass(frozen=True)
class EmbedSpec(Settings):
    """An embed stage: one sentence embedder over the samples lacking its vector."""

    embedder: str | os.PathLike[str] = DEFAULT_EMBEDDER
    name: str | None = None
    batch_size: int = 64
    device: str | None = None
    run_id: str | None = None
    backend: str = "torch"

    def __post_init__(self) -> None:
        """Check every field (the backend against engine.embed.BACKENDS)."""
        from .embed import BACKENDS

        embedder = os.fspath(self.embedder) if isinstance(self.embedder, os.PathLike) else None
        if isinstance(self.embedder, str):
            embedder = self.embedder
        if not embedder:
            raise _bad(self, "embedder", f"must be a model id or folder, got {self.embedder!r}")
        if self.backend not in BACKENDS:
            from .embed import EmbedError

            raise EmbedError(f"backend {self.backend!r}: must be one of {', '.join(BACKENDS)}")
        _set(
            self,
            embedder=str(embedder),
            name=_opt_str(self, "name"),
            batch_size=_int(self, "batch_size", 1, MAX_BATCH),
            device=_opt_str(self, "device"),
            run_id=_opt_str(self, "run_id"),
        )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], where: str) -> Self:
        """The spec from settings (a TOML table, a JSON object); bad ones name the field."""
        from .embed import BACKENDS

        if "backend" in mapping and mapping["backend"] not in BACKENDS:
            what = f"must be one of {', '.join(BACKENDS)}, got {mapping['backend']!r}"
            raise SpecError(f"{where}: field backend: {what}", "backend", what)
        return _from_mapping(cls, mapping, where)


@dataclass(frozen=True)
class GradeSpec(Settings):
    """A grade stage: extract and grade ungraded samples (all with ``regrade``)."""

    run_id: str | None = None
    regrade: bool = False
    workers: int | None = None
    timeout: float = 5.0

    def __post_init__(self) -> None:
        """Check every field; timeout is seconds in (0, 600]."""
        t = self.timeout
        if (
            isinstance(t, bool)
            or not isinstance(t, int | float)
            or not math.isfinite(t)
            or not 0 < t <= MAX_TIMEOUT
        ):
            raise _bad(self, "timeout", f"must be a number of seconds in (0, 600], got {t!r}")
        _set(
            self,
            run_id=_opt_str(self, "run_id"),
            regrade=_bool(self, "regrade"),
            workers=_opt_int(self, "workers", 1, MAX_WORKERS),
            timeout=float(t),
        )


@dataclass
class GenerateSpec:
    """Everything that defines a generation run (what `divtui generate` and study.toml set)."""

    model: str
    dataset: str
    temperatures: list[float]
    n: int
    max_tokens: int = 1024
    seed: int = 0
    backend: str = "transformers"
    limit: int | None = None
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    run_id: str | None = None
    batch_size: int = 64
    pools_per_call: int = 64
    device: str | None = None
    dtype: str | None = None
    tensor_parallel_size: int = 1
    split: str | None = None
    dataset_config: str | None = None
    dataset_name: str | None = None
    fields: dict[str, str | None] | None = None
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    enforce_eager: bool | None = None
    max_num_seqs: int | None = None
    engine_args: dict[str, Any] | None = None
    data_parallel_size: int = 1
    gpus: list[str] | None = None
    launcher: str = "local"


AnySpec = DrawSpec | PruneSpec | ScoreSpec | EmbedSpec | GradeSpec
"""A spec of one of the operations that take one."""
SpecClass = type[DrawSpec] | type[PruneSpec] | type[ScoreSpec] | type[EmbedSpec] | type[GradeSpec]
SPECS: dict[str, SpecClass] = {
    "draw": DrawSpec,
    "prune": PruneSpec,
    "score": ScoreSpec,
    "embed": EmbedSpec,
    "grade": GradeSpec,
}
"""The spec class of each operation that takes one (generate's GenerateSpec is set apart)."""
