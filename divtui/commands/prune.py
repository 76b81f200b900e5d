"""`divtui prune`: the pruning study (k-medoids in a metric space vs random subsets) and each
space's neighbourhood quality."""

from __future__ import annotations

import click

from divtui.errors import UserError

from . import (
    db_option,
    int_list,
    report_cache_option,
    resolve_db,
    spec_or_fail,
    workers_option,
    wrote,
)


@click.command("prune")
@db_option
@click.option(
    "--metric",
    "metric",
    default="sbert,bleu,orm",
    show_default=True,
    help="spaces to find medoids in, comma-separated: sbert, bleu, orm",
)
@click.option("--sizes", required=True, help="draw sizes N to prune, comma-separated (e.g. 32)")
@click.option(
    "--keep",
    default="1,2,4,8,16",
    show_default=True,
    help="numbers m of kept members, comma-separated (m > N is left out)",
)
@click.option("--weighted", is_flag=True, help="weight each medoid by its cluster size")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="seed of the random subsets",
)
@click.option("--run", "run_id", default=None, help="only this run (default: every run)")
@click.option("--scorer", default=None, help="scorer for wmaj/bst (default: the first stored)")
@click.option("--embedder", default=None, help="SBERT embedder (default: the first stored)")
@workers_option
@report_cache_option
def command(
    db: str | None,
    metric: str,
    sizes: str,
    keep: str,
    weighted: bool,
    seed: int,
    run_id: str | None,
    scorer: str | None,
    embedder: str | None,
    workers: int | None,
    no_report_cache: bool,
) -> None:
    """Prune every stored draw of size N to m medoids and to m random members, for every m.

    The aggregators run on each kept set and land in the prune_outcomes table (see `divtui
    report --table pruning`); rerunning adds nothing, an interrupted run resumes. Also prints
    each space's neighbourhood quality: how often a sample's nearest neighbour in its pool has
    the same answer class and the same correctness, against chance.
    """
    from divtui.engine.prune import PruneError, run_prune
    from divtui.engine.report_markdown import neighbours_table
    from divtui.engine.specs import PruneSpec
    from divtui.store import open_db
    from divtui.store.terminal import visible

    from .progress import notice, progress_bar

    spec = spec_or_fail(
        PruneSpec,
        {"metrics": "--metric", "run_id": "--run"},
        metrics=tuple(v.strip() for v in metric.split(",") if v.strip()),
        sizes=int_list(sizes, "--sizes"),
        keep=int_list(keep, "--keep", "1,2,4"),
        weighted=weighted,
        seed=seed,
        run_id=run_id,
        scorer=scorer,
        embedder=embedder,
        workers=workers,
    )
    path = resolve_db(db)
    con = open_db(path)
    con.execute("SET enable_progress_bar = false")
    try:
        with progress_bar("prune") as progress:
            stats = run_prune(con, spec, progress=progress, notice=notice)
        if not no_report_cache:
            from divtui.engine.report_cache import refresh_overview

            with progress_bar("report tables for the UI") as progress:
                refresh_overview(con, progress=progress)
    except (PruneError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    finally:
        con.close()
    click.echo(
        f"{stats['draws']} draws pruned, {stats['draws_skipped']} already done; "
        f"{stats['rows_written']} rows written; metrics {', '.join(stats['metrics'])}"
        + (" (weighted)" if weighted else "")
    )
    wrote(path)
    if stats["neighbours"]:
        click.echo("\nNeighbourhood quality (nearest other sample of the pool):\n")
        click.echo(visible(neighbours_table(stats["neighbours"])))
