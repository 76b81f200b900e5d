"""`divtui grade`: extract answers, grade them with math-verify and recompute answer classes."""

from __future__ import annotations

from typing import Any

import click

from . import db_option, resolve_db, spec_or_fail, wrote


class _Bar:
    """A progress callback that opens a click progress bar once the total is known."""

    def __init__(self) -> None:
        """No bar until the first call."""
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int, label: str) -> None:
        """Advance the bar to ``done`` of ``total`` pools."""
        if self.bar is None and total:
            self.bar = click.progressbar(length=total, label=f"{label} {total} pools")
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(done - self.shown)
            self.shown = done

    def close(self) -> None:
        """Finish the bar's line."""
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command("grade")
@db_option
@click.option("--run", "run_id", default=None, help="grade only this run")
@click.option("--regrade", is_flag=True, help="grade every sample again, not only ungraded ones")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="grading processes (default: CPU count)",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="seconds allowed for one math-verify comparison; past it the sample is incorrect",
)
def command(
    db: str | None, run_id: str | None, regrade: bool, workers: int | None, timeout: float
) -> None:
    """Extract each sample's final answer, grade it against the gold answer, and number the
    answer classes of every pool it touched. Interrupted, it resumes where it stopped."""
    from divtui.engine.grading import grade_db
    from divtui.engine.specs import GradeSpec
    from divtui.errors import fail
    from divtui.store import open_db
    from divtui.store import runs as rn

    spec = spec_or_fail(
        GradeSpec,
        {"run_id": "--run"},
        run_id=run_id,
        regrade=regrade,
        workers=workers,
        timeout=timeout,
    )
    path = resolve_db(db)
    con = open_db(path, create=False)
    bar = _Bar()
    try:
        if run_id is not None and not rn.run_exists(con, run_id):
            fail(f"{path}: no run {run_id!r}; `divtui info` lists the runs")
        counts = grade_db(con, spec, progress=bar)
    finally:
        bar.close()
        con.close()
    click.echo(summary(counts))
    wrote(path)


def summary(counts: dict[str, int]) -> str:
    """One line: how many samples and pools were graded, correct, unanswered, timed out."""
    if not counts["pools"]:
        return "nothing to grade: every sample is graded (use --regrade to grade again)"
    graded = counts["graded"]
    share = f" ({counts['correct'] / graded:.1%})" if graded else ""
    line = (
        f"graded {graded} samples in {counts['pools']} pools: {counts['correct']} correct{share}, "
        f"{counts['no_answer']} without an answer, {counts['timeouts']} timed out"
    )
    if counts["errors"]:
        line += f", {counts['errors']} failed comparisons"
    if counts["no_gold"]:
        line += f"; {counts['no_gold']} samples left ungraded (their problem has no gold answer)"
    return line
