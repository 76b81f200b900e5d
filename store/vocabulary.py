"""The project's vocabulary, declared once: metric, aggregator, quality and job-status names."""

from __future__ import annotations

METRICS = (
    "distinct_n",
    "mean_logprob",
    "n_correct",
    "cosine_sim",
    "dpp",
    "near_dup_pairs",
    "qual_dpp",
)
"""Every per-draw metric stored in draw_metrics, in report order."""

AGGREGATORS = ("maj", "wmaj", "bst", "mbr_lex", "mbr_sem")
"""The aggregators that pick one answer from a batch."""

OUTCOMES = (*AGGREGATORS, "coverage")
"""The draw_outcomes columns: every aggregator's pick, and coverage (any member correct)."""

QUALITIES = ("logprob", "reward", "both")
"""The quality q_i of qual_dpp: exp(mean_logprob), the reward, or both rows."""

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled", "crashed", "ingested")
"""Every status a job row can hold (a remote worker's states, then ``ingested`` locally)."""
