"""`divtui score --scorer KIND:MODEL`: score samples with an outcome or classifier reward model."""

from __future__ import annotations

import click

from divtui.errors import UserError

from . import db_option, resolve_db


@click.command("score")
@db_option
@click.option("--scorer", required=True, help="orm:MODEL or classifier:MODEL")
@click.option("--run-id", default=None, help="only samples of this run")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--store-hidden", is_flag=True, help="also store final hidden states as an embedder")
@click.option("--device", default=None, help="cuda, cpu (default: cuda if present)")
@click.option("--dtype", default=None, help="float32, bfloat16, float16 (default: auto)")
def command(
    db: str | None,
    scorer: str,
    run_id: str | None,
    batch_size: int,
    store_hidden: bool,
    device: str | None,
    dtype: str | None,
) -> None:
    """Score every sample the scorer has not scored yet; batches commit as they finish."""
    from divtui.engine.rewards import ScorerError, parse_scorer, score_db
    from divtui.store import open_db

    from .run import _first_line, progress_bar

    try:
        parse_scorer(scorer)
    except ScorerError as e:
        raise UserError(str(e)) from None
    con = open_db(resolve_db(db))
    try:
        with progress_bar("score") as bar:
            stats = score_db(
                con,
                scorer=scorer,
                run_id=run_id,
                batch_size=batch_size,
                store_hidden=store_hidden,
                device=device,
                dtype=dtype,
                progress=bar,
            )
    except ValueError as e:
        raise UserError(_first_line(e)) from None
    except OSError as e:
        raise UserError(f"cannot load scorer {scorer}: {_first_line(e)}") from None
    finally:
        con.close()
    click.echo(f"{scorer}: {stats['scored']} samples scored")
