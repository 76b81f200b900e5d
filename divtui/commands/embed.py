"""`divtui embed`: SBERT vectors for every sample that lacks one, with a progress bar."""

from __future__ import annotations

import click

from . import db_option, resolve_db, spec_or_fail, wrote
from .progress import progress_bar


@click.command("embed")
@db_option
@click.option(
    "--embedder",
    default="sentence-transformers/all-MiniLM-L6-v2",
    show_default=True,
    help="sentence-transformers hub id or local model folder",
)
@click.option("--name", default=None, help="stored embedder name (default: MODEL@MAX_SEQ_LENGTH)")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="texts per batch",
)
@click.option("--device", default=None, help="torch device (default: the best available)")
@click.option(
    "--backend",
    type=click.Choice(["torch", "onnx", "onnx-int8"]),
    default="torch",
    show_default=True,
    help="torch, or ONNX Runtime on the CPU (fp32, or int8 weights); stored as NAME+BACKEND",
)
@click.option("--run", "run_id", default=None, help="embed only this run's samples")
def command(
    db: str | None,
    embedder: str,
    name: str | None,
    batch_size: int,
    device: str | None,
    run_id: str | None,
    backend: str,
) -> None:
    """Embed samples lacking a vector under the embedder's name; rerun to resume."""
    from divtui.engine.embed import EmbedError, embed_db
    from divtui.engine.specs import EmbedSpec
    from divtui.errors import UserError
    from divtui.store import open_db
    from divtui.store.terminal import one_line

    try:
        spec = spec_or_fail(
            EmbedSpec,
            {"run_id": "--run"},
            embedder=embedder,
            name=name,
            batch_size=batch_size,
            device=device,
            run_id=run_id,
            backend=backend,
        )
    except EmbedError as e:
        raise UserError(str(e)) from None
    path = resolve_db(db)
    con = open_db(path, create=False)
    try:
        with progress_bar("embed") as progress:
            result = embed_db(
                con,
                spec,
                progress=progress,
                notice=lambda m: click.echo(f"notice: {one_line(m)}", err=True),
            )
    except EmbedError as e:
        raise UserError(str(e)) from None
    finally:
        con.close()
    if result["embedded"]:
        click.echo(
            f"embedded {result['embedded']} samples ({result['unique_texts']} distinct texts, "
            f"dim {result['dim']}) as {one_line(result['embedder'])} in {result['seconds']:.1f} s"
        )
    else:
        click.echo(
            f"nothing to embed: every sample has a vector under {one_line(result['embedder'])}"
        )
    wrote(path)
