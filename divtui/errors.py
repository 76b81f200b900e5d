"""Turning expected failures into one-line messages and exit codes instead of tracebacks."""

from __future__ import annotations

import sys

import click


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 1."""

    exit_code = 1

    def show(self, file=None) -> None:  # type: ignore[override]
        """Print ``error: message`` to stderr."""
        click.echo(f"error: {self.format_message()}", err=True)


def run_cli(cli: click.Group) -> int:
    """Run ``cli`` standalone; StoreError and UserError become ``error: ...`` and their exit code."""
    from divtui.store.errors import StoreError

    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        where = f" (see `{e.ctx.command_path} --help`)" if e.ctx else ""
        click.echo(f"error: {e.format_message()}{where}", err=True)
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except StoreError as e:
        click.echo(f"error: {e}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted; work committed so far is kept, rerun to resume", err=True)
        return 130
    except BrokenPipeError:
        return 0
    return 0


def fail(message: str) -> None:
    """Raise a UserError with ``message``."""
    raise UserError(message)


__all__ = ["UserError", "fail", "run_cli", "sys"]
