"""A tiny task for tests/test_workers.py, in its own module so worker processes import little."""

from __future__ import annotations

import os


def square_pid(x: int) -> tuple[int, int]:
    """A task: x squared, and the process that computed it; a negative x is an error."""
    if x < 0:
        raise ValueError(f"negative task {x}")
    return x * x, os.getpid()
