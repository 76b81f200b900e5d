"""`divtui browse [DB]`: open the terminal UI, checking the file before Textual starts."""

from __future__ import annotations

from pathlib import Path

import click

from divtui.errors import fail

from . import db_option, resolve_db


def _build_demo(path: Path) -> None:
    """Build the demo database at ``path`` (first use), or explain how."""
    try:
        from divtui.engine.demo import build_demo
    except ImportError:
        fail(f"{path}: no database yet and the demo builder is not available; pass a DB file")
    click.echo(f"building the demo database at {path} (first use)…", err=True)
    build_demo(path)


@click.command("browse")
@click.argument("db_arg", required=False, metavar="[DB]")
@db_option
def command(db_arg: str | None, db: str | None) -> None:
    """Open the terminal UI on DB (default: the demo database, built on first use), read-only:
    other programs can read the file meanwhile; the UI writes only for a moment (a remote job's
    results) and waits while another process holds the file."""
    from divtui.settings import default_db
    from divtui.store import catalog as q

    path = Path(db_arg or resolve_db(db))
    if not path.exists() and path == default_db():
        _build_demo(path)
    if not path.exists():
        fail(f"{path}: no such database file; create one with `divtui import` or `divtui demo`")
    from divtui.settings import config_path
    from divtui.tui.keys import KeymapError, load_keymap

    try:
        load_keymap(config_path())
    except KeymapError as e:
        fail(str(e))
    from divtui.tui.access import DbAccess

    held = DbAccess(path)
    try:
        if q.table_counts(held.con)["samples"] == 0:
            fail(f"{path}: the database holds no samples yet; add some with `divtui import`")
        from divtui.tui.app import run_app

        run_app(str(path), db=held)
    finally:
        held.close()
