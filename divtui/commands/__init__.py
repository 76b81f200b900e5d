"""One module per `divtui` subcommand, each exposing ``command``; heavy imports stay inside."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from divtui.settings import default_db

S = TypeVar("S")

db_option = click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=None,
    help="database file (default: $DIVTUI_DB or the demo database)",
)

workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="worker processes for the per-pool work (default: CPU count; 1: in this process)",
)

report_cache_option = click.option(
    "--no-report-cache",
    is_flag=True,
    help="do not recompute the overview's report tables for the UI afterwards",
)


def resolve_db(db: str | None) -> str:
    """The database path to use for a command."""
    return db or str(default_db())


def import_db(db: str | None) -> str:
    """The database `divtui import` writes into: --db, else $DIVTUI_DB, else a one-line error
    (an import never lands in the demo database by default)."""
    from divtui.errors import UserError

    if db:
        return db
    if os.environ.get("DIVTUI_DB"):
        return os.environ["DIVTUI_DB"]
    raise UserError(
        "--db: name the database to import into (or set $DIVTUI_DB); "
        f"divtui does not import into the demo database {default_db()} by default"
    )


def wrote(path: str | Path) -> None:
    """Say on stderr which database file a stage wrote into, so no write goes unnoticed."""
    click.echo(f"database: {Path(path).resolve()}", err=True)


def int_list(value: str, flag: str, example: str = "4,8,16") -> tuple[int, ...]:
    """Parse a comma-separated option like ``4,8,16`` into integers, or fail in one line (their
    range is the spec's to check)."""
    from divtui.errors import UserError

    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise UserError(
            f"{flag}: expected comma-separated integers like {example}, got {value!r}"
        ) from None


def spec_or_fail(
    spec_class: Callable[..., S], flags: dict[str, str] | None = None, **options: Any
) -> S:
    """The engine spec built from a command's options, or a one-line error naming the option
    (``--FIELD``, or ``flags[FIELD]`` where the option is named otherwise; ``""``: the reason
    names it already)."""
    from divtui.engine.specs import SpecError
    from divtui.errors import UserError

    try:
        return spec_class(**options)
    except SpecError as e:
        flag = (flags or {}).get(e.field or "", f"--{(e.field or '').replace('_', '-')}")
        if not e.field:
            raise UserError(str(e)) from None
        raise UserError(f"{flag}: {e.what}" if flag else str(e.what)) from None
