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


def positive_ints(value: str, flag: str, example: str = "4,8,16") -> list[int]:
    """Parse a comma-separated option like ``4,8,16`` into positive integers, or fail in one line."""
    from divtui.errors import UserError

    try:
        out = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise UserError(
            f"{flag}: expected comma-separated integers like {example}, got {value!r}"
        ) from None
    if not out or min(out) < 1:
        raise UserError(f"{flag}: values must be positive integers, got {value!r}")
    return out
