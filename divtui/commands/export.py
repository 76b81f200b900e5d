"""`divtui export`: write samples with gold answers and every scorer to Parquet, CSV or JSONL."""

from __future__ import annotations

from pathlib import Path

import click

from divtui.errors import UserError

from . import db_option, resolve_db


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    required=True,
    help="output format (jsonl is the native import format)",
)
@db_option
@click.option("--run", "run_id", default=None, help="only this run (default: all runs)")
@click.option("--embeddings", is_flag=True, help="include embeddings (parquet and jsonl only)")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="file to write",
)
def command(fmt: str, db: str | None, run_id: str | None, embeddings: bool, output: Path) -> None:
    """Export samples joined with their problem's gold answer, one column per scorer."""
    from divtui.store import open_db
    from divtui.store.export import export_samples

    if embeddings and fmt == "csv":
        raise UserError("--embeddings: not available for csv; use parquet or jsonl")
    if output.parent and not output.parent.is_dir():
        raise UserError(f"{output}: folder {output.parent} does not exist")
    con = open_db(resolve_db(db), read_only=True)
    try:
        if run_id is not None:
            known = con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchall()
            if not known[0][0]:
                raise UserError(f"--run: no run named {run_id!r} in {resolve_db(db)}")
        n = export_samples(con, output, fmt, run_id=run_id, embeddings=embeddings)
    finally:
        con.close()
    click.echo(f"wrote {n} samples to {output}")
