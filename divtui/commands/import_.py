"""`divtui import`: read a file of sampled solutions into the database in one transaction."""

from __future__ import annotations

from pathlib import Path

import click

from divtui.engine.file_import import FORMAT_NAMES, ImportFileError, import_file, summary, utf8
from divtui.engine.specs import GradeSpec
from divtui.errors import UserError

from . import db_option, import_db, wrote
from .progress import terminal_progress_bar


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(FORMAT_NAMES), required=True, help="the file's format"
)
@db_option
@click.option("--run", "run_id", default=None, help="run name (default: the file's stem)")
@click.option("--skip-bad", is_flag=True, help="import the good lines, report each bad one")
@click.option("--no-grade", is_flag=True, help="do not extract and grade answers after import")
@click.option(
    "--temperature",
    type=float,
    default=None,
    help="sampling temperature, for formats that do not record it "
    "(defaults: qwen-math-eval 0.7, gsm8k-example-solutions 0.0, search-and-learn 0.8)",
)
@click.option("--dataset", default=None, help="dataset name used in problem ids and rows")
@click.option(
    "--replace",
    is_flag=True,
    help="replace samples stored with other content (with their scores, embeddings, "
    "grades and the draws that include them)",
)
def command(
    file: Path,
    fmt: str,
    db: str | None,
    run_id: str | None,
    skip_bad: bool,
    no_grade: bool,
    temperature: float | None,
    dataset: str | None,
    replace: bool,
) -> None:
    """Import FILE (one transaction: a bad line stores nothing unless --skip-bad)."""
    import math

    from divtui.store import open_db

    if temperature is not None:
        if fmt == "jsonl":
            raise UserError("--temperature: jsonl records carry their own 'temperature' field")
        if not math.isfinite(temperature) or temperature < 0:
            raise UserError(f"--temperature: must be a finite number >= 0, got {temperature}")
    for flag, value in (("--dataset", dataset), ("--run", run_id)):
        if value is not None and value != utf8(value):
            raise UserError(f"{flag}: not valid UTF-8 text ({value!r})")
    run = run_id or utf8(file.stem)
    path = import_db(db)
    con = open_db(path)
    try:
        try:
            result = import_file(
                con,
                file,
                fmt,
                run_id=run,
                temperature=temperature,
                dataset=dataset,
                skip_bad=skip_bad,
                replace=replace,
            )
        except ImportFileError as e:
            raise UserError(str(e)) from None
        from divtui.store.terminal import one_line

        for line in result["skipped"]:
            click.echo(f"skipped: {one_line(line)}", err=True)
        if result["skipped"]:
            click.echo(f"skipped {len(result['skipped'])} bad lines", err=True)
        click.echo(f"{summary(result['counts'])} into run {one_line(repr(run))}")
        if not no_grade:
            from divtui.engine.grading import grade_db

            with terminal_progress_bar("grade") as progress:
                graded = grade_db(con, GradeSpec(run_id=run), progress=progress)
            click.echo("graded: " + ", ".join(f"{k} {v}" for k, v in graded.items()))
    finally:
        con.close()
    wrote(path)
