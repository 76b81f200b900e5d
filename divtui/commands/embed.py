"""`divtui embed`: SBERT vectors for every sample that lacks one, with a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from . import db_option, resolve_db, wrote


@contextmanager
def progress_bars() -> Iterator[Callable[[int, int, str], None]]:
    """A ``progress(done, total, label)`` callable drawing one click bar per label on stderr."""
    state: dict[str, Any] = {"label": None, "bar": None, "done": 0}

    def close() -> None:
        """Finish the current bar, if any."""
        if state["bar"] is not None:
            state["bar"].render_finish()
            state["bar"] = None

    def progress(done: int, total: int, label: str) -> None:
        """Advance (or start) the bar for ``label``."""
        if label != state["label"] or state["bar"] is None or state["bar"].length != total:
            close()
            state.update(label=label, done=0)
            state["bar"] = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(max(done - state["done"], 0))
        state["done"] = done

    try:
        yield progress
    finally:
        close()


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
    from divtui.errors import UserError
    from divtui.store import open_db
    from divtui.store.terminal import one_line

    path = resolve_db(db)
    con = open_db(path, create=False)
    try:
        with progress_bars() as progress:
            result = embed_db(
                con,
                embedder=embedder,
                name=name,
                batch_size=batch_size,
                device=device,
                run_id=run_id,
                backend=backend,
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
