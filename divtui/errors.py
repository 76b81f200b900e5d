"""Turning expected failures into one-line messages and exit codes instead of tracebacks."""

from __future__ import annotations

import sys
from typing import IO, Any

import click


def safe_line(text: object) -> str:
    """An error's text as one line safe for a terminal (the store's rule; loaded lazily)."""
    from divtui.store.terminal import one_line

    return one_line(text)


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``error: message`` to stderr."""
        click.echo(f"error: {safe_line(self.format_message())}", err=True)


def run_cli(cli: click.Group, args: list[str] | None = None) -> int:
    """Run ``cli`` standalone (on ``args``, default the command line); StoreError and
    UserError become ``error: ...`` and their exit code."""
    from divtui.store.errors import StoreError

    try:
        cli.main(args=args, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        where = f" (see `{e.ctx.command_path} --help`)" if e.ctx else ""
        click.echo(f"error: {safe_line(e.format_message())}{safe_line(where)}", err=True)
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except StoreError as e:
        click.echo(f"error: {safe_line(e)}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted; work committed so far is kept, rerun to resume", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:
        line = _expected_failure(e)
        if line is None:
            raise
        click.echo(f"error: {safe_line(line)}", err=True)
        return 1
    return 0


def _expected_failure(e: Exception) -> str | None:
    """One line for failures of the machine rather than of divtui (a full disk, a file that
    cannot be read or written, a damaged database); None for anything else (a bug: traceback)."""
    import duckdb

    if isinstance(e, duckdb.Error):
        from divtui.store.db import database_error

        return str(database_error("database", e))
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror or e}"
    return None


def fail(message: str) -> None:
    """Raise a UserError with ``message``."""
    raise UserError(message)


__all__ = ["UserError", "fail", "run_cli", "sys"]
