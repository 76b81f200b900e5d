"""`divtui score --scorer KIND:MODEL`: score samples with a reward model, or `probe:EMBEDDER`
with a logistic-regression probe on stored embeddings, cross-fitted by problem."""

from __future__ import annotations

import click

from divtui.errors import UserError

from . import db_option, resolve_db, spec_or_fail, wrote


@click.command("score")
@db_option
@click.option("--scorer", required=True, help="orm:MODEL, classifier:MODEL or probe:EMBEDDER")
@click.option("--run-id", default=None, help="only samples of this run")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--store-hidden", is_flag=True, help="also store final hidden states as an embedder")
@click.option("--device", default=None, help="cuda, cpu (default: cuda if present)")
@click.option("--dtype", default=None, help="float32, bfloat16, float16 (default: auto)")
@click.option(
    "--folds", type=click.IntRange(min=2), default=5, show_default=True, help="probe: folds"
)
@click.option(
    "--l2", type=click.FloatRange(min=0.0), default=1.0, show_default=True, help="probe: L2 penalty"
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="probe: fold assignment seed",
)
def command(
    db: str | None,
    scorer: str,
    run_id: str | None,
    batch_size: int,
    store_hidden: bool,
    device: str | None,
    dtype: str | None,
    folds: int,
    l2: float,
    seed: int,
) -> None:
    """Score every sample the scorer has not scored yet; batches commit as they finish.

    probe:EMBEDDER fits an L2 logistic regression on that embedder's vectors to predict
    correctness, cross-fitted by problem (no problem is scored by a probe trained on it), and
    stores its probability for every graded, embedded sample (a rerun replaces the values).
    """
    from divtui.store import open_db
    from divtui.store.terminal import one_line

    from .progress import first_line as _first_line
    from .progress import progress_bar

    if scorer.startswith("probe:"):
        _probe(resolve_db(db), scorer.split(":", 1)[1], run_id, folds, l2, seed)
        return
    from divtui.engine.rewards import score_db
    from divtui.engine.specs import ScoreSpec

    spec = spec_or_fail(
        ScoreSpec,
        {"scorer": "", "run_id": "--run-id"},
        scorer=scorer,
        run_id=run_id,
        batch_size=batch_size,
        store_hidden=store_hidden,
        device=device,
        dtype=dtype,
    )
    con = open_db(resolve_db(db))
    try:
        with progress_bar("score") as bar:
            stats = score_db(con, spec, progress=bar)
    except ValueError as e:
        raise UserError(_first_line(e)) from None
    except OSError as e:
        raise UserError(f"cannot load scorer {scorer}: {_first_line(e)}") from None
    finally:
        con.close()
    click.echo(f"{one_line(scorer)}: {stats['scored']} samples scored")
    wrote(resolve_db(db))


def _probe(path: str, embedder: str, run_id: str | None, folds: int, l2: float, seed: int) -> None:
    """Fit and store the cross-fitted correctness probe on one embedder's vectors."""
    from divtui.engine.probe import probe_db
    from divtui.store import open_db
    from divtui.store.catalog import embedder_names
    from divtui.store.terminal import one_line

    if not embedder:
        raise UserError("scorer 'probe:': expected probe:EMBEDDER, e.g. probe:all-MiniLM-L6-v2@256")
    con = open_db(path)
    try:
        known = embedder_names(con)
        if embedder not in known:
            raise UserError(
                f"embedder {embedder!r} is not in the database (present: {', '.join(known) or 'none'})"
            )
        stats = probe_db(con, embedder=embedder, run_id=run_id, folds=folds, l2=l2, seed=seed)
    except ValueError as e:
        raise UserError(str(e).splitlines()[0]) from None
    finally:
        con.close()
    click.echo(
        f"{one_line(stats['scorer'])}: {stats['samples']} samples scored by a probe cross-fitted over "
        f"{stats['folds']} folds of {stats['problems']} problems"
    )
    wrote(path)
