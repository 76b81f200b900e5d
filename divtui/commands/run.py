"""`divtui run study.toml`: the whole pipeline from one file; also the progress bar the stages share."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from divtui.errors import UserError

Progress = Callable[[int, int, str], None]


def _first_line(err: BaseException) -> str:
    """The first line of an exception's text."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


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
        TextColumn("{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task(stage, total=None, unit="", rate="")
    start = time.monotonic()
    started = False

    def update(done: int, total: int, label: str) -> None:
        """Move the bar to ``done`` of ``total`` ``label`` (shown from the first call on)."""
        nonlocal started
        if not started:
            bar.start()
            started = True
        spent = max(time.monotonic() - start, 1e-9)
        bar.update(task, completed=done, total=total, unit=label, rate=f"{done / spent:.2f}/s")

    try:
        yield update
    finally:
        if started:
            bar.stop()


@click.command("run")
@click.argument("study", type=click.Path(dir_okay=False))
@click.option("--db", "db", default=None, help="database file (overrides [study] db)")
@click.option(
    "--only", default=None, help="comma-separated stages to run (default: all in the file)"
)
def command(study: str, db: str | None, only: str | None) -> None:
    """Run every stage of STUDY (generate, grade, score, embed, draw, report), resuming."""
    from divtui.engine.study import StudyError, load_study, run_study

    try:
        spec = load_study(study)
    except StudyError as e:
        raise UserError(str(e)) from None
    stages = [s.strip() for s in only.split(",")] if only else None
    try:
        from .report import to_markdown

        run_study(
            spec,
            db=db,
            stages=stages,
            progress=progress_bar,
            echo=click.echo,
            render_md=to_markdown,
        )
    except StudyError as e:
        raise UserError(str(e)) from None
    except (ValueError, OSError, RuntimeError) as e:
        raise UserError(f"{study}: {_first_line(e)}") from None
