"""`divtui draw`: random batches of every pool with their diversity metrics and aggregator picks."""

from __future__ import annotations

import click

from divtui.errors import UserError
from divtui.store.vocabulary import LOGPROB, QUALITIES

from . import (
    db_option,
    int_list,
    report_cache_option,
    resolve_db,
    spec_or_fail,
    workers_option,
    wrote,
)


@click.command("draw")
@db_option
@click.option("--sizes", required=True, help="batch sizes k, comma-separated (e.g. 4,8,16,32)")
@click.option("--reps", required=True, type=click.IntRange(min=1), help="draws per pool and k")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="random seed (same seed, same draws; the same default in study.toml and remote run)",
)
@click.option("--run", "run_id", default=None, help="only this run (default: every run)")
@click.option(
    "--scorer", "scorers", multiple=True, help="reward scorer to use (repeatable; default all)"
)
@click.option(
    "--embedder", "embedders", multiple=True, help="embedder to use (repeatable; default all)"
)
@click.option(
    "--distinct-n",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="n of the distinct-n metric (stored as distinct_n for 3, distinct_<n> otherwise)",
)
@click.option(
    "--quality",
    type=click.Choice(QUALITIES),
    default=LOGPROB,
    show_default=True,
    help="quality q_i of qual_dpp: exp(mean_logprob) or the reward",
)
@workers_option
@report_cache_option
def command(
    db: str | None,
    sizes: str,
    reps: int,
    seed: int,
    run_id: str | None,
    scorers: tuple[str, ...],
    embedders: tuple[str, ...],
    distinct_n: int,
    quality: str,
    workers: int | None,
    no_report_cache: bool,
) -> None:
    """Draw REPS random k-subsets of every pool for each k and store all metrics and picks.

    Rerunning with the same options adds nothing; an interrupted run resumes where it stopped.
    Afterwards the overview's report tables (with intervals) are computed and stored for the
    UI, unless they are still valid or --no-report-cache is given.
    """
    from divtui.engine.draws import run_draws
    from divtui.engine.specs import DrawSpec
    from divtui.store import open_db

    from .progress import notice, progress_bar

    spec = spec_or_fail(
        DrawSpec,
        {"run_id": "--run", "scorers": "--scorer", "embedders": "--embedder"},
        sizes=int_list(sizes, "--sizes"),
        reps=reps,
        seed=seed,
        run_id=run_id,
        scorers=tuple(scorers) or None,
        embedders=tuple(embedders) or None,
        distinct_n=distinct_n,
        quality=quality,
        workers=workers,
    )
    path = resolve_db(db)
    con = open_db(path)
    con.execute("SET enable_progress_bar = false")
    try:
        with progress_bar("draw") as progress:
            stats = run_draws(con, spec, progress=progress, notice=notice)
        if not no_report_cache:
            from divtui.engine.report_cache import refresh_overview

            with progress_bar("report tables for the UI") as progress:
                refresh_overview(con, progress=progress)
    except ValueError as e:
        raise UserError(str(e)) from None
    finally:
        con.close()
    click.echo(
        f"{stats['draws_written']} draws written, {stats['draws_existing']} already present, "
        f"{stats['pools']} pools; {stats['metric_rows']} metric rows, "
        f"{stats['outcome_rows']} outcome rows"
    )
    small = {k: v for k, v in stats["skipped_small"].items() if v}
    if small:
        click.echo(
            "pools skipped as smaller than k: "
            + ", ".join(f"k={k}: {v}" for k, v in sorted(small.items()))
        )
    wrote(path)
