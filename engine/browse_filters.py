"""The problems screen's filter language: parsing, the canonical text, and which draws pass.

``T=0.7 k=8 maj=wrong bst=correct coverage=0 run=R bucket=dpp:5:2 \\frac{1}{2} "x = 2" /re/``:
every term must hold (AND). Each NAME=VALUE filter may appear once (a second ``k=`` is refused,
as is ``maj=`` twice); several aggregator terms combine. Words that are not a filter are a
plain-text search (case-insensitive, LaTeX such as ``\\frac`` as typed), ``"..."`` quotes a
phrase, and ``/.../`` is a regular expression; both search the question and the solutions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from divtui.engine.stats import equal_width_buckets
from divtui.store.vocabulary import AGGREGATORS, COVERAGE

OUTCOME_WORDS = {"correct": True, "right": True, "wrong": False, "incorrect": False}
_KEYS = {"t": "T", "temp": "T", "temperature": "T", "cov": COVERAGE, "re": "regex"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_@]*")
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


class FilterError(ValueError):
    """A filter expression the user typed that cannot be understood; str() is one line."""


@dataclass(frozen=True)
class Filters:
    """The problems screen's filters; ``None`` (or empty) means "any".

    ``outcomes`` holds (aggregator, correct) pairs, all required; ``text`` the plain-text
    search terms, each required (case-insensitive) in the question or in one solution.
    """

    temperature: float | None = None
    k: int | None = None
    outcomes: tuple[tuple[str, bool], ...] = ()
    coverage: bool | None = None
    metric: str | None = None
    n_buckets: int = 5
    bucket: int | None = None
    regex: str | None = None
    text: tuple[str, ...] = ()
    run: str | None = None

    def draw_level(self) -> bool:
        """Whether any filter selects individual draws (not only pools)."""
        return bool(self.outcomes) or any(
            v is not None for v in (self.k, self.coverage, self.bucket)
        )

    def searches(self) -> bool:
        """Whether a text or regex search limits the pools."""
        return bool(self.text) or self.regex is not None

    def is_empty(self) -> bool:
        """Whether no filter is set."""
        return self == Filters(n_buckets=self.n_buckets)


def _bool_word(value: str, field: str) -> bool:
    """'correct'/'wrong' (or 1/0, yes/no) as a bool, or a FilterError naming the field."""
    v = value.lower()
    if v in OUTCOME_WORDS:
        return OUTCOME_WORDS[v]
    if v in ("1", "yes", "true"):
        return True
    if v in ("0", "no", "false"):
        return False
    raise FilterError(f"field {field}: {value!r} is not correct/wrong")


def _split_regex(text: str) -> tuple[str | None, str]:
    """The ``/.../`` term (from a slash opening a term to the last slash closing one) and the
    rest of the text."""
    m = re.search(r"(?:^|\s)/(.*)/(?:\s|$)", text)
    if not m:
        return None, text
    return m.group(1), (text[: m.start()] + " " + text[m.end() :]).strip()


def parse_filters(
    text: str, *, metrics: list[str] | None = None, runs: list[str] | None = None
) -> Filters:
    """Parse the filter line into Filters (``metrics``/``runs``: what the file holds, checked
    when given); a bad or repeated term raises FilterError naming the field."""
    regex, rest = _split_regex(text.strip())
    f = Filters(regex=regex)
    seen: dict[str, str] = {}
    words: list[str] = []
    for m in _TOKEN.finditer(rest):
        quoted, term = m.group(1), m.group(2)
        if quoted is not None:
            if quoted.strip():
                words.append(quoted)
            continue
        name, eq, value = term.partition("=")
        if not eq or not _NAME.fullmatch(name):
            words.append(term)
            continue
        key = _KEYS.get(name.lower(), name.lower())
        if key in seen:
            raise FilterError(
                f"field {key}: given twice ({seen[key]} and {term}); one value per filter"
            )
        seen[key] = term
        f = _apply(f, key, value, metrics, runs)
    if words:
        f = replace(f, text=tuple(words))
    if f.regex is not None:
        try:
            re.compile(f.regex)
        except re.error as e:
            raise FilterError(f"field regex: {e}") from None
    return f


def _apply(
    f: Filters, key: str, value: str, metrics: list[str] | None, runs: list[str] | None
) -> Filters:
    """Filters ``f`` with one NAME=VALUE term set."""
    try:
        if key == "T":
            return replace(f, temperature=float(value))
        if key == "k":
            return replace(f, k=int(value))
        if key in AGGREGATORS:
            return replace(f, outcomes=(*f.outcomes, (key, _bool_word(value, key))))
        if key == COVERAGE:
            return replace(f, coverage=_bool_word(value, key))
        if key == "regex":
            return replace(f, regex=value)
        if key == "run":
            if not value:
                raise FilterError("field run: give a run id, e.g. run=gsm8k")
            if runs is not None and value not in runs:
                raise FilterError(f"field run: no run {value!r} (runs: {', '.join(runs)})")
            return replace(f, run=value)
        if key == "bucket":
            parts = value.split(":")
            if len(parts) != 3:
                raise FilterError("field bucket: expected METRIC:N:B, e.g. dpp:5:2")
            metric, n, b = parts[0], int(parts[1]), int(parts[2])
            if metrics is not None and metric not in metrics:
                raise FilterError(f"field bucket: no metric {metric!r} in this database")
            if n < 1 or not 1 <= b <= n:
                raise FilterError(f"field bucket: bucket {b} is not in 1..{n}")
            return replace(f, metric=metric, n_buckets=n, bucket=b - 1)
    except FilterError:
        raise
    except ValueError:
        raise FilterError(f"field {key}: {value!r} is not a number") from None
    raise FilterError(f'field {key}: unknown filter (to search for this text, quote it: "{key}=…")')


def _quote(word: str) -> str:
    """A search word as parse_filters reads it back (quoted when it would not be one word)."""
    plain = word and not re.search(r'\s|"', word) and not word.startswith("/")
    if plain and not ("=" in word and _NAME.fullmatch(word.partition("=")[0])):
        return word
    return f'"{word}"'


def terms(f: Filters) -> list[str]:
    """Each filter term in the syntax :func:`parse_filters` reads, in a fixed order."""
    parts = []
    if f.run is not None:
        parts.append(f"run={f.run}")
    if f.temperature is not None:
        parts.append(f"T={f.temperature:g}")
    if f.k is not None:
        parts.append(f"k={f.k}")
    for agg, ok in f.outcomes:
        parts.append(f"{agg}={'correct' if ok else 'wrong'}")
    if f.coverage is not None:
        parts.append(f"coverage={int(f.coverage)}")
    if f.metric is not None and f.bucket is not None:
        parts.append(f"bucket={f.metric}:{f.n_buckets}:{f.bucket + 1}")
    parts.extend(_quote(w) for w in f.text)
    if f.regex is not None:
        parts.append(f"/{f.regex}/")
    return parts


def describe(f: Filters) -> str:
    """The filter state in the same syntax :func:`parse_filters` reads ('' when none)."""
    return " ".join(terms(f))


def bucket_index(values: np.ndarray, ks: np.ndarray, n_buckets: int) -> np.ndarray:
    """Each draw's bucket (0..n-1) among equal-width bins of its metric over draws of its size k.

    The bins are the report's (engine.stats.equal_width_buckets over the finite values of one
    k); NaN gives -1.
    """
    out = np.full(values.shape, -1, dtype=np.int64)
    for k in np.unique(ks):
        sel = np.flatnonzero((ks == k) & np.isfinite(values))
        if sel.size:
            out[sel] = equal_width_buckets(values[sel], n_buckets)[1]
    return out


def bucket_range(
    values: np.ndarray, ks: np.ndarray, k: int, n_buckets: int, bucket: int
) -> tuple[float, float] | None:
    """The [low, high] edges of one bucket of a metric over the draws of size k."""
    v = values[(ks == k) & np.isfinite(values)]
    if v.size == 0:
        return None
    edges = equal_width_buckets(v, n_buckets)[0]
    return float(edges[bucket]), float(edges[bucket + 1])


def bucket_of(
    values: np.ndarray, ks: np.ndarray, k: int, n_buckets: int, value: float | None
) -> int | None:
    """Which bucket (0..n-1) ``value`` falls in among the bins of a metric over the draws of
    size k (the rule of :func:`bucket_index`: last bin closed, values outside go to the end
    bins); None without a finite value or draws of that size."""
    if value is None or not np.isfinite(value):
        return None
    v = values[(ks == k) & np.isfinite(values)]
    if v.size == 0:
        return None
    edges = equal_width_buckets(v, n_buckets)[0]
    return int(np.clip(np.searchsorted(edges, value, side="right") - 1, 0, n_buckets - 1))


def allowed_pools(
    pools: dict[str, np.ndarray], f: Filters, search_pools: np.ndarray | None = None
) -> np.ndarray | None:
    """Pool indices the pool-level filters keep (run, T, the text/regex search), None for all.

    ``search_pools`` are the pools the search matched (store.pool_columns.pools_matching).
    """
    n = len(pools["n"])
    keep = np.ones(n, dtype=bool)
    limited = False
    if f.run is not None:
        keep &= pools["run_id"] == f.run
        limited = True
    if f.temperature is not None:
        keep &= np.isclose(pools["temperature"], f.temperature)
        limited = True
    if f.searches() and search_pools is not None:
        keep &= np.isin(np.arange(n), search_pools)
        limited = True
    return np.flatnonzero(keep) if limited else None


def draw_mask(
    frame: dict[str, np.ndarray], f: Filters, pools_kept: np.ndarray | None = None
) -> np.ndarray:
    """Which draws of the frame pass every filter (``pools_kept``: from :func:`allowed_pools`)."""
    mask = np.ones(frame["draw_id"].shape, dtype=bool)
    if f.temperature is not None:
        mask &= np.isclose(frame["temperature"], f.temperature)
    if f.k is not None:
        mask &= frame["k"] == f.k
    for agg, ok in f.outcomes:
        mask &= frame[agg] == int(ok)
    if f.coverage is not None:
        mask &= frame[COVERAGE] == int(f.coverage)
    if f.metric is not None and f.bucket is not None:
        values = frame.get(f"metric:{f.metric}")
        if values is None:
            mask[:] = False
        else:
            mask &= bucket_index(values, frame["k"], f.n_buckets) == f.bucket
    if pools_kept is not None:
        mask &= np.isin(frame["pool"], pools_kept)
    return mask


def term_matches(
    f: Filters,
    *,
    run_id: str,
    temperature: float,
    k: int,
    correct: dict[str, bool | None],
    bucket: int | None,
    searched: bool | None,
) -> list[tuple[str, bool | None]]:
    """Each filter term with whether one batch meets it (None: cannot tell, e.g. a metric the
    batch lacks). ``correct`` maps aggregator (and "coverage") to the batch's outcome,
    ``bucket`` is the batch's bucket of the filter's metric (:func:`bucket_of`), ``searched``
    whether the pool matched the text/regex search."""
    out: list[tuple[str, bool | None]] = []
    if f.run is not None:
        out.append((f"run={f.run}", run_id == f.run))
    if f.temperature is not None:
        out.append((f"T={f.temperature:g}", bool(np.isclose(temperature, f.temperature))))
    if f.k is not None:
        out.append((f"k={f.k}", k == f.k))
    for agg, ok in f.outcomes:
        got = correct.get(agg)
        out.append((f"{agg}={'correct' if ok else 'wrong'}", None if got is None else got == ok))
    if f.coverage is not None:
        got = correct.get(COVERAGE)
        out.append((f"coverage={int(f.coverage)}", None if got is None else got == f.coverage))
    if f.metric is not None and f.bucket is not None:
        hit = None if bucket is None else bucket == f.bucket
        out.append((f"bucket={f.metric}:{f.n_buckets}:{f.bucket + 1}", hit))
    search = [_quote(w) for w in f.text] + ([f"/{f.regex}/"] if f.regex is not None else [])
    out.extend((t, searched) for t in search)
    return out


def describe_terms(matches: list[tuple[str, Any]]) -> str:
    """``T=0.5 ✓  maj=wrong ✗`` for the batch header."""
    marks = {True: "✓", False: "✗", None: "?"}
    return "  ".join(f"{t} {marks[v]}" for t, v in matches)
