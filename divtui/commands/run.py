"""`divtui run study.toml`: the whole pipeline from one file."""

from __future__ import annotations

import click

from divtui.errors import UserError

from .progress import first_line as _first_line
from .progress import progress_bar


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
        run_study(
            spec,
            db=db,
            stages=stages,
            progress=progress_bar,
            echo=click.echo,
        )
    except StudyError as e:
        raise UserError(str(e)) from None
    except (ValueError, OSError, RuntimeError) as e:
        raise UserError(f"{study}: {_first_line(e)}") from None
    from . import wrote

    wrote(db or spec.resolve(spec.sections["study"]["db"]))
