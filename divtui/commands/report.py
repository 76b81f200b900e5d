"""`divtui report`: the study's tables as Markdown research notes, JSON or CSV, and PNG plots."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from . import db_option, resolve_db

Row = dict[str, Any]
PLOT_TABLES = ("accuracy_by_k", "buckets", "pruning")


def _csv(rows: list[Row]) -> str:
    """Rows as CSV; the header is every key in order of first appearance."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    return buf.getvalue()


def to_csv(report: dict[str, Any], single: bool) -> str:
    """One table as plain CSV, or each table after a ``# table NAME`` line."""
    tables = report["tables"]
    if single:
        return _csv(next(iter(tables.values())))
    return "\n".join(f"# table {name}\n{_csv(rows)}" for name, rows in tables.items())


@click.command("report")
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(["md", "json", "csv"]), default="md", show_default=True
)
@click.option("--table", "tables", multiple=True, metavar="NAME", help="only this table (repeat)")
@click.option("--run", "run_id", default=None, help="only this run")
@click.option("--temperature", type=float, default=None, help="only this temperature")
@click.option("--k", "k", type=int, default=None, help="only draws of this size; run_problems: K")
@click.option("--runs", default=None, metavar="A,B", help="compare two runs (RUN or RUN@T each)")
@click.option("--scorer", default=None, help="only this scorer's bst/wmaj (plain labels)")
@click.option("--embedder", default=None, help="only this embedder's metrics and mbr_sem")
@click.option("--buckets", "n_buckets", type=int, default=5, show_default=True, help="bins")
@click.option(
    "--bucket-scheme",
    type=click.Choice(["width", "quantile"]),
    default="width",
    show_default=True,
    help="equal-width or equal-count (quantile) bins",
)
@click.option("--by-temperature", is_flag=True, help="buckets per temperature too")
@click.option(
    "--control",
    default="mean_logprob",
    show_default=True,
    metavar="mean_logprob|reward:SCORER|none",
    help="control of the partial correlations and the fixed-effects slopes",
)
@click.option(
    "--partial-pooled",
    is_flag=True,
    help="fit the partial correlations' control across temperatures (default: per temperature)",
)
@click.option("--metric", "metrics", multiple=True, metavar="M", help="only this metric (repeat)")
@click.option("--boot", "n_boot", type=int, default=1000, show_default=True, help="resamples")
@click.option("--seed", type=int, default=0, show_default=True, help="bootstrap seed")
@click.option("--plots", "plots", type=click.Path(file_okay=False), default=None, metavar="DIR")
def command(
    db: str | None,
    fmt: str,
    tables: tuple[str, ...],
    run_id: str | None,
    temperature: float | None,
    k: int | None,
    runs: str | None,
    scorer: str | None,
    embedder: str | None,
    n_buckets: int,
    bucket_scheme: str,
    by_temperature: bool,
    control: str,
    partial_pooled: bool,
    metrics: tuple[str, ...],
    n_boot: int,
    seed: int,
    plots: str | None,
) -> None:
    """Print the study's tables: accuracy by k and temperature, correlations, buckets, pass@k.

    Intervals are bootstraps over problems. Tables: accuracy_by_k,
    accuracy_by_temperature, accuracy_by_k_temperature, metric_correlations,
    partial_correlations, count_correlations, buckets, coverage_correlations, pass_at_k,
    pruning (after `divtui prune`), scorers, within_correlations, fixed_effects; and, only
    when named with --table (it rebuilds every pool's matrices), neighbours. With --runs A,B:
    run_comparison and run_problems (the two runs' pass@k curves and where they cross; the
    problems only one of them solves).
    """
    from divtui.engine.report import OPT_IN, TABLES, ReportError, build_report
    from divtui.engine.report_markdown import to_markdown
    from divtui.errors import UserError
    from divtui.store import open_db
    from divtui.store.terminal import visible

    for name in tables:
        if name not in TABLES + OPT_IN:
            raise UserError(f"unknown table {name!r}; choose from {', '.join(TABLES + OPT_IN)}")
    compare = ["run_comparison", "run_problems"]
    wanted = list(dict.fromkeys(tables)) or (compare if runs else list(TABLES))
    extra = ["run_comparison"] if runs else PLOT_TABLES
    compute = wanted + [t for t in extra if plots and t not in wanted]
    path = resolve_db(db)
    con = open_db(path, read_only=True)
    try:
        report = build_report(
            con,
            tables=compute,
            run_id=run_id,
            temperature=temperature,
            k=k,
            scorer=scorer,
            embedder=embedder,
            metrics=list(metrics) or None,
            n_buckets=n_buckets,
            bucket_scheme=bucket_scheme,
            by_temperature=by_temperature,
            control=control,
            partial_pooled=partial_pooled,
            n_boot=n_boot,
            seed=seed,
            runs=runs,
        )
    except ReportError as e:
        raise UserError(str(e)) from None
    finally:
        con.close()
    for note in report["meta"].get("notes", []):
        click.echo(f"note: {note}", err=True)
    if plots:
        from divtui.engine.plots import write_plots

        for p in write_plots(report, plots):
            click.echo(f"wrote {p}", err=True)
    report["tables"] = {n: report["tables"][n] for n in wanted}
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, default=str))
    elif fmt == "csv":
        click.echo(visible(to_csv(report, single=len(wanted) == 1)), nl=False)
    else:
        click.echo(visible(to_markdown(report, path)), nl=False)
