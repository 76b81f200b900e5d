"""What the long-running commands share on stderr: the progress bar, one-line notices, errors."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

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


def terminal_progress_bar(stage: str) -> AbstractContextManager[Progress | None]:
    """:func:`progress_bar` on a terminal's stderr; None (no output at all) when redirected."""
    return progress_bar(stage) if sys.stderr.isatty() else nullcontext(None)


def job_progress(line: Mapping[str, object]) -> None:
    """Print one progress line of a remote job on stderr (``  stage: done/total label``).

    A remote host's lines are untrusted (any field may be text or missing), so each is
    shown as escaped text rather than fed to a bar."""
    from divtui.store.terminal import one_line

    click.echo(
        f"  {one_line(line.get('stage', '?'))}: {one_line(line.get('done'))}/"
        f"{one_line(line.get('total'))} {one_line(line.get('label', ''))}",
        err=True,
    )
