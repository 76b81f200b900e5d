"""What the long-running commands share on stderr: a progress bar, one-line notices, errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

Progress = Callable[[int, int, str], None]


def first_line(err: BaseException) -> str:
    """The first line of an exception's text."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def notice(line: str) -> None:
    """Print a one-line ``note:`` on stderr (made safe: notes quote names from the data)."""
    from divtui.store.terminal import one_line

    click.echo(f"note: {one_line(line)}", err=True)


@contextmanager
def progress_bar(stage: str) -> Iterator[Progress]:
    """A stderr progress bar for one stage, with counts, rate and time left; yields the callback."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    bar = RichProgress(
        TextColumn("{task.description:<9}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}", markup=False),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    from divtui.store.terminal import one_line

    task = bar.add_task(one_line(stage), total=None, unit="", rate="")
    start = time.monotonic()
    started = False

    def update(done: int, total: int, label: str) -> None:
        """Move the bar to ``done`` of ``total`` ``label`` (shown from the first call on)."""
        nonlocal started
        if not started:
            bar.start()
            started = True
        spent = max(time.monotonic() - start, 1e-9)
        bar.update(
            task, completed=done, total=total, unit=one_line(label), rate=f"{done / spent:.2f}/s"
        )

    try:
        yield update
    finally:
        if started:
            bar.stop()
