"""`divtui info`: what a database file holds."""

from __future__ import annotations

import json
from typing import Any

import click

from . import db_option, resolve_db


@click.command("info")
@click.argument("db_arg", required=False, metavar="[DB]")
@db_option
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def command(db_arg: str | None, db: str | None, as_json: bool) -> None:
    """Show runs, problems, samples, scorers, embedders and draws in DB."""
    from divtui.store import catalog as q
    from divtui.store import open_db
    from divtui.store.terminal import one_line as safe

    path = db_arg or resolve_db(db)
    con = open_db(path, read_only=True)
    try:
        info: dict[str, Any] = {
            "db": path,
            "counts": q.table_counts(con),
            "runs": q.runs(con),
            "scorers": [{"scorer": s, "samples": n} for s, n in q.scorers(con)],
            "embedders": [{"embedder": e, "samples": n, "dim": d} for e, n, d in q.embedders(con)],
            "draw_sizes": [{"k": k, "draws": n} for k, n in q.draw_sizes(con)],
        }
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(info, default=str, indent=2))
        return
    c = info["counts"]
    click.echo(safe(path))
    click.echo(
        f"  {c['runs']} runs, {c['problems']} problems, {c['samples']} samples, "
        f"{c['scores']} scores, {c['embeddings']} embeddings, {c['draws']} draws"
    )
    for r in info["runs"]:
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        temps = ",".join(f"{t:g}" for t in (r["temperatures"] or []))
        click.echo(
            f"  run {safe(repr(r['run_id']))} [{safe(r['source'])}] model={safe(r['model'] or '-')}: "
            f"{r['problems']} problems, "
            f"{r['samples']} samples at T={temps or '-'}, {r['graded']} graded, accuracy {acc}"
        )
    for s in info["scorers"]:
        click.echo(f"  scorer {safe(s['scorer'])}: {s['samples']} samples")
    for e in info["embedders"]:
        click.echo(f"  embedder {safe(e['embedder'])}: {e['samples']} samples, dim {e['dim']}")
    for d in info["draw_sizes"]:
        click.echo(f"  draws k={d['k']}: {d['draws']}")
