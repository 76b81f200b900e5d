"""The `divtui` command line: a click group whose subcommands load lazily so --help stays fast."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from . import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("divtui.commands.demo", "build a small simulated study and open it"),
    "generate": ("divtui.commands.generate", "sample solutions with vLLM or transformers"),
    "import": ("divtui.commands.import_", "import a file of sampled solutions"),
    "ingest": ("divtui.commands.ingest", "ingest landed Parquet batches (sharded or Ray runs)"),
    "grade": ("divtui.commands.grade", "extract answers and grade them with math-verify"),
    "score": ("divtui.commands.score", "score samples with a reward model or a probe"),
    "embed": ("divtui.commands.embed", "embed samples with a sentence-transformers model"),
    "draw": ("divtui.commands.draw", "draw random batches and compute metrics and aggregators"),
    "report": ("divtui.commands.report", "print the study's tables"),
    "prune": ("divtui.commands.prune", "k-medoids pruning study"),
    "info": ("divtui.commands.info", "what a database file holds"),
    "export": ("divtui.commands.export", "export samples with their scores"),
    "browse": ("divtui.commands.browse", "open the terminal UI"),
    "run": ("divtui.commands.run", "run a whole study from a TOML file"),
    "remote": ("divtui.commands.remote", "run jobs on a remote GPU box over SSH"),
    "worker": ("divtui.commands.worker", "the remote side of a job"),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands whose modules exist, in a fixed order."""
        return [n for n, (mod, _) in COMMANDS.items() if importlib.util.find_spec(mod) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the module and return its ``command``."""
        if cmd_name not in COMMANDS:
            return None
        mod_name, _ = COMMANDS[cmd_name]
        if importlib.util.find_spec(mod_name) is None:
            return None
        return importlib.import_module(mod_name).command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands from the static table, without importing them."""
        rows = [(n, COMMANDS[n][1]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="divtui")
def cli() -> None:
    """divtui: diversity vs accuracy of best-of-N sampling on math problems."""


def main() -> None:
    """Console-script entry: run the CLI, turning known errors into one line and an exit code."""
    from .errors import run_cli

    sys.exit(run_cli(cli))
