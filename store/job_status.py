"""Job statuses by role (what a worker writes, what ends a job on its host or here), each named
from ``store.vocabulary.JOB_STATUSES`` so no status word is written twice."""

from __future__ import annotations

from .vocabulary import JOB_STATUSES

QUEUED, RUNNING, DONE, FAILED, CANCELLED, CRASHED, INGESTED = JOB_STATUSES

WORKER_STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
"""What a remote worker writes into its job folder's status file (anything else is not obeyed)."""

LIVE_STATUSES = (QUEUED, RUNNING)
"""A job whose worker is still supposed to be working (without its process it has crashed)."""

REMOTE_TERMINAL = (DONE, FAILED, CANCELLED, CRASHED)
"""The host has nothing more to do for the job: polling it stops."""

FAILED_STATUSES = (FAILED, CRASHED, CANCELLED)
"""A job that ended without results."""

LOCAL_TERMINAL = (INGESTED, *FAILED_STATUSES)
"""Finished here: results ingested, or none will come; nothing follows such a job any more."""
