"""`divtui worker`: the remote side of `divtui remote` (run one job spec in its folder)."""

from __future__ import annotations

import json
import sys

import click


@click.group("worker")
def command() -> None:
    """The remote side of a job: started by `divtui remote run` on the GPU box."""


@command.command("run")
@click.argument("spec", type=click.Path(dir_okay=False))
def run(spec: str) -> None:
    """Run the job SPEC (a spec.json in its job folder) and write its results beside it."""
    from divtui.engine.remote.worker import run_job

    sys.exit(run_job(spec))


@command.command("check")
def check() -> None:
    """Print this divtui's version and Python as JSON (the client checks it before a job)."""
    import platform

    from divtui import __version__

    info = {"divtui": __version__, "python": platform.python_version(), "host": platform.node()}
    click.echo(json.dumps(info))
