"""The project's vocabulary, declared once: metric, aggregator, quality and job-status names.

Every other module imports these names (and what each metric and aggregator needs) from here
instead of writing them again; ``tests/test_vocabulary.py`` checks that the aggregator names,
qualities and job statuses appear as literals nowhere else outside tests and docs.
"""

from __future__ import annotations

from dataclasses import dataclass

MAJ = "maj"
WMAJ = "wmaj"
BST = "bst"
MBR_LEX = "mbr_lex"
MBR_SEM = "mbr_sem"
COVERAGE = "coverage"

AGGREGATORS = (MAJ, WMAJ, BST, MBR_LEX, MBR_SEM)
"""The aggregators that pick one answer from a batch."""

OUTCOMES = (*AGGREGATORS, COVERAGE)
"""The draw_outcomes columns: every aggregator's pick, and coverage (any member correct)."""

METRICS = (
    "distinct_n",
    "mean_logprob",
    "n_correct",
    "cosine_sim",
    "dpp",
    "near_dup_pairs",
    "qual_dpp",
)
"""Every per-draw metric stored in draw_metrics, in report order (``distinct_n`` is stored as
``distinct_<n>`` for n other than 3)."""

METRIC_ORDER = (
    "cosine_sim",
    "distinct_n",
    "dpp",
    "qual_dpp",
    "near_dup_pairs",
    "mean_logprob",
    "n_correct",
)
"""The metrics in the order report tables and the UI list them (diversity first)."""

LOGPROB = "logprob"
REWARD = "reward"
BOTH = "both"
QUALITIES = (LOGPROB, REWARD, BOTH)
"""The quality q_i of qual_dpp: exp(mean_logprob), the reward, or both rows."""

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
CRASHED = "crashed"
INGESTED = "ingested"

JOB_STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED, CRASHED, INGESTED)
"""Every status a job row can hold (a remote worker's states, then ``ingested`` locally)."""

REMOTE_STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
"""The states a remote worker writes in its status file."""

LIVE_STATUSES = (QUEUED, RUNNING)
"""A job whose worker is still supposed to be working (without its process it has crashed)."""

FAILED_STATUSES = (FAILED, CRASHED, CANCELLED)
"""A job that ended without results."""

REMOTE_TERMINAL = (DONE, FAILED, CANCELLED, CRASHED)
"""Remote states after which the worker does nothing more (``crashed``: it died unreported)."""

LOCAL_TERMINAL = (INGESTED, FAILED, CRASHED, CANCELLED)
"""Job-row statuses after which nothing more happens locally (``done`` still awaits ingest)."""


@dataclass(frozen=True)
class Needs:
    """What a metric or aggregator needs beyond the samples' texts and answer classes.

    ``embedder``/``scorer``: its rows carry an embedder/scorer name (``''`` otherwise) and
    exist once per stored embedder/scorer; ``logprobs``: the samples' mean log-probs;
    ``graded``: graded samples; ``quality``: the input of the chosen quality as well
    (log-probs for ``logprob``, one row per scorer for ``reward``, both for ``both``).
    """

    embedder: bool = False
    scorer: bool = False
    logprobs: bool = False
    graded: bool = False
    quality: bool = False


METRIC_NEEDS: dict[str, Needs] = {
    "distinct_n": Needs(),
    "mean_logprob": Needs(logprobs=True),
    "n_correct": Needs(graded=True),
    "cosine_sim": Needs(embedder=True),
    "dpp": Needs(embedder=True),
    "near_dup_pairs": Needs(embedder=True),
    "qual_dpp": Needs(embedder=True, quality=True),
}
"""What each metric of METRICS needs."""

OUTCOME_NEEDS: dict[str, Needs] = {
    MAJ: Needs(),
    WMAJ: Needs(scorer=True),
    BST: Needs(scorer=True),
    MBR_LEX: Needs(),
    MBR_SEM: Needs(embedder=True),
    COVERAGE: Needs(graded=True),
}
"""What each aggregator (and coverage) of OUTCOMES needs."""

QUALITY_NEEDS: dict[str, Needs] = {
    LOGPROB: Needs(logprobs=True),
    REWARD: Needs(scorer=True),
    BOTH: Needs(logprobs=True, scorer=True),
}
"""What each quality of QUALITIES reads: log-probs, a scorer's rewards, or both."""


def needs(name: str) -> Needs:
    """What the metric or aggregator ``name`` needs (``distinct_<n>`` as ``distinct_n``); an
    unknown name is a one-line KeyError."""
    if name.startswith("distinct_") and name[len("distinct_") :].isdigit():
        name = "distinct_n"
    if name in METRIC_NEEDS:
        return METRIC_NEEDS[name]
    if name in OUTCOME_NEEDS:
        return OUTCOME_NEEDS[name]
    raise KeyError(f"{name!r} is neither a metric nor an aggregator")


def needing(names: tuple[str, ...], what: str) -> tuple[str, ...]:
    """The names among ``names`` that need ``what`` (a field of Needs), in their order."""
    return tuple(n for n in names if getattr(needs(n), what))


def listed(names: tuple[str, ...], last: str = "and") -> str:
    """Names as prose for a message: ``a``, ``a and b``, ``a, b and c``."""
    return f" {last} ".join(filter(None, (", ".join(names[:-1]), names[-1]))) if names else ""


def quality_reads(quality: str, what: str) -> bool:
    """Whether the qual_dpp quality ``quality`` reads ``what`` (``logprobs`` or ``scorer``)."""
    return bool(getattr(QUALITY_NEEDS[quality], what))
