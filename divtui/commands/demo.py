"""`divtui demo`: build the simulated study through the real pipeline, then open or report it."""

from __future__ import annotations

import importlib.util

import click

from . import db_option, resolve_db


def _note(message: str) -> None:
    """Print a pipeline notice on stderr."""
    from divtui.store.terminal import one_line

    click.echo(f"notice: {one_line(message)}", err=True)


def _print_report(path: str) -> None:
    """Print the Markdown report of ``path`` (or say why there is none)."""
    if importlib.util.find_spec("divtui.engine.report") is None:
        _note("the report engine is not available in this build; try `divtui info`")
        return
    from divtui.engine.report import build_report
    from divtui.engine.report_cache import cached_overview
    from divtui.engine.report_markdown import to_markdown
    from divtui.store import open_db

    con = open_db(path, read_only=True)
    try:
        report = cached_overview(con) or build_report(con)
    finally:
        con.close()
    click.echo(to_markdown(report, path))


@click.command("demo")
@db_option
@click.option("--no-browse", is_flag=True, help="print the report instead of opening the UI")
@click.option("--force", is_flag=True, help="delete the demo database and build it again")
def command(db: str | None, no_browse: bool, force: bool) -> None:
    """Build a small simulated study (40 problems x 4 temperatures x 32 samples) and open it.

    The build runs the real pipeline (grading, SBERT embedding, draws of 4, 8, 16 and 32);
    a rerun resumes an interrupted build and leaves a complete one untouched.
    """
    from divtui.engine.demo import DemoError, build_demo, remove_demo
    from divtui.errors import UserError

    from .progress import progress_bar

    path = resolve_db(db)
    try:
        if force and remove_demo(path):
            _note(f"removed {path}")
        with progress_bar("demo") as progress:
            result = build_demo(path, progress=progress, notice=_note)
    except DemoError as e:
        raise UserError(str(e)) from None
    if result["complete_before"]:
        click.echo(f"demo database {path} is complete; opening it", err=True)
    else:
        secs = ", ".join(f"{k} {v:.1f} s" for k, v in result["seconds"].items())
        click.echo(f"built demo database {path} ({secs})", err=True)
    if no_browse or importlib.util.find_spec("divtui.tui.app") is None:
        _print_report(path)
        return
    from divtui.tui.app import run_app

    run_app(path)
