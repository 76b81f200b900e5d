"""One module per `divtui` subcommand, each exposing ``command``; heavy imports stay inside."""

from __future__ import annotations

import click

from divtui.settings import default_db

db_option = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=None,
    help="database file (default: $DIVTUI_DB or the demo database)",
)


def resolve_db(db: str | None) -> str:
    """The database path to use for a command."""
    return db or str(default_db())
