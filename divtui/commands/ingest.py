"""`divtui ingest DIR`: take in landed Parquet batches (data-parallel engines, Ray, copied jobs)."""

from __future__ import annotations

from pathlib import Path

import click

from divtui.errors import UserError

from . import db_option, resolve_db


@click.command("ingest")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--remove", is_flag=True, help="delete each batch once it is committed")
@db_option
def command(folder: str, remove: bool, db: str | None) -> None:
    """Ingest FOLDER (one batch of <table>.parquet files, or a folder of such batches).

    Each batch is one transaction and ingesting again adds nothing, so it is safe to repeat.
    """
    from divtui.store import open_db
    from divtui.store.jobs import IngestError
    from divtui.store.landing import ingest_landing

    con = open_db(resolve_db(db))
    try:
        added = ingest_landing(con, Path(folder), remove=remove)
    except (IngestError, FileNotFoundError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    finally:
        con.close()
    parts = ", ".join(f"{n} {t}" for t, n in added.items() if t != "batches" and n)
    click.echo(f"{added['batches']} batches ingested ({parts or 'nothing new'})")
