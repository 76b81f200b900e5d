"""The overview: runs and counts, accuracy vs k per aggregator, and the report tables."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, OptionList, Static

from divtui.store import catalog as q
from divtui.store import pool_columns as bq

from .. import keys
from .. import report_view as rv
from ..app_of import app_of
from ..messages import OverviewReady, OverviewTables, WorkFailed
from ..widgets.accuracy_plot import AccuracyPlot
from ..widgets.key_bar import KeyBar
from ..widgets.safe_text import safe_text

QUICK_SKIP = ("fixed_effects",)
"""Left out of the report the overview computes itself: the fits import statsmodels, about
1.5 s of Python that would hold the interpreter while the user moves on; the stored report
(`divtui draw`) has them."""


def report_tables(con: Any, scorer: str, embedder: str) -> dict[str, Any]:
    """The analysis report (engine.report, ``{"tables", "meta"}``) without resampling and
    without QUICK_SKIP, or accuracy_by_k alone without engine.report."""
    try:
        from divtui.engine.report import TABLES, build_report
    except ImportError:
        acc = bq.accuracy_by_k(con, scorer=scorer, embedder=embedder)
        return {"tables": {"accuracy_by_k": acc}, "meta": {}}
    tables = [t for t in TABLES if t not in QUICK_SKIP]
    return build_report(
        con, tables=tables, scorer=scorer or None, embedder=embedder or None, n_boot=0
    )


def cached_tables(con: Any, scorer: str, embedder: str) -> dict[str, Any] | None:
    """The overview report stored after `divtui draw` (with intervals), if still valid."""
    try:
        from divtui.engine.report_cache import cached_overview
    except ImportError:
        return None
    return cached_overview(con, scorer, embedder)


def _cells(cells: list[list[tuple[str, bool]]]) -> list[list[Text]]:
    """Cells as inert Text; a marked cell (interval excluding 0) in bold."""
    return [[safe_text(text, style="bold" if mark else "") for text, mark in row] for row in cells]


class OverviewScreen(Screen[None]):
    """Runs, counts, the accuracy plot and a selectable list of report tables."""

    BINDINGS = keys.bindings("overview")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    HELP = (
        "Runs and row counts of the database; accuracy against the batch size k, never pooling "
        "runs: one run with a line per aggregator (u: next run), or one aggregator with a "
        "line per run (a: next aggregator); each point is the mean correctness over that "
        "run's draws of size k, all its problems and temperatures. The report tables (pick "
        "one in the list on the left). F3 opens the problems."
    )

    def compose(self) -> ComposeResult:
        """Header, summary and plot, table list and table, footer."""
        yield Header()
        with Horizontal(id="ov-top"):
            yield Static("loading…", id="ov-runs")
            with Vertical(id="ov-plot-box"):
                yield AccuracyPlot(id="ov-plot")
                yield Static("", id="ov-legend")
        with Horizontal(id="ov-bottom"):
            yield OptionList(id="ov-tables")
            with Vertical(id="ov-right"):
                yield Static("", id="ov-caption")
                yield DataTable(id="ov-table", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        """Start loading in a worker."""
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.meta: dict[str, Any] = {}
        self.source = ""
        self.load()

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def load(self) -> None:
        """Read runs, counts, accuracy by k and the report (thread)."""
        app = app_of(self)
        try:
            with app.db.reading() as cur:
                opts = bq.options(cur)
                sc = opts["scorers"][0] if opts["scorers"] else ""
                em = opts["embedders"][0] if opts["embedders"] else ""
                runs = q.runs(cur)
                counts = q.table_counts(cur)
                acc = bq.accuracy_by_k(cur, scorer=sc, embedder=em)
            self.post_message(OverviewReady(runs, counts, acc, {}))
            with app.db.reading() as cur:
                cached = cached_tables(cur, sc, em)
            if cached is not None:
                self.post_message(OverviewTables(cached, "cached"))
                return
            # no valid stored report: the point estimates only (the intervals take as long as a
            # `divtui report`, which would compete with the UI for the CPU)
            with app.db.reading() as cur:
                tables = report_tables(cur, sc, em)
            self.post_message(OverviewTables(tables, "quick"))
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(WorkFailed(f"overview: {type(e).__name__}: {e}"))

    def on_overview_ready(self, msg: OverviewReady) -> None:
        """Fill the summary, the plot and the table list."""
        c = msg.counts
        t = Text()
        t.append(
            f"{c['runs']} runs · {c['problems']} problems · {c['samples']} samples\n"
            f"{c['scores']} scores · {c['embeddings']} embeddings · {c['draws']} draws\n\n"
        )
        for r in msg.runs:
            acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
            temps = ",".join(f"{x:g}" for x in (r["temperatures"] or []))
            t.append("run ")
            t.append_text(safe_text(r["run_id"], style="bold"))
            t.append(" [")
            t.append_text(safe_text(r["source"]))
            t.append(f"] {r['problems']} problems, {r['samples']} samples, T={temps}, acc {acc}\n")
        self.query_one("#ov-runs", Static).update(t)
        self.query_one(AccuracyPlot).set_rows(msg.accuracy)
        self.show_legend()
        if msg.tables or not self.tables:
            self.set_tables(msg.tables or {"accuracy_by_k": msg.accuracy}, self.meta)

    def on_overview_tables(self, msg: OverviewTables) -> None:
        """Show the report's tables (cached, quick or computed with intervals)."""
        self.source = msg.source
        self.set_tables(dict(msg.report.get("tables", {})), dict(msg.report.get("meta", {})))
        app_of(self).freeze_heap()

    def set_tables(self, tables: dict[str, list[dict[str, Any]]], meta: dict[str, Any]) -> None:
        """Refill the table list (keeping the highlighted table) and show the current one."""
        opts = self.query_one(OptionList)
        current = self.query_one("#ov-table", DataTable).border_title
        if list(tables) != list(self.tables):
            opts.clear_options()
            opts.add_options(list(tables))
            opts.highlighted = list(tables).index(current) if current in tables else 0
        self.tables, self.meta = tables, meta
        self.show_table(str(current) if current in tables else next(iter(tables)))

    @on(OptionList.OptionHighlighted, "#ov-tables")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        """Show the highlighted report table."""
        self.show_table(str(event.option.prompt))

    def show_table(self, name: str) -> None:
        """Fill the table widget with report table ``name`` (statistics with their intervals,
        intervals excluding 0 in bold with a *; within_correlations as the pooled / between /
        within correlation view) under its caption."""
        rows = self.tables.get(name, [])
        table = self.query_one("#ov-table", DataTable)
        table.clear(columns=True)
        table.border_title = name
        self.query_one("#ov-caption", Static).update(self.caption(name, rows))
        if not rows:
            table.add_column(name)
            table.add_row("(no rows)")
            return
        view = rv.correlation_cells if name == rv.CORRELATION_VIEW else rv.table_cells
        cols, cells = view(rows)
        table.add_columns(*(safe_text(c) for c in cols))
        table.add_rows(_cells(cells))

    def caption(self, name: str, rows: list[dict[str, Any]]) -> Text:
        """What the table pools over (engine.report.caption), where its numbers come from, and
        its interval notes."""
        try:
            from divtui.engine.captions import caption
        except ImportError:
            return Text("")
        where = {
            "cached": "stored by `divtui draw`",
            "quick": "no intervals (and no fixed_effects): the stored report tables are "
            "missing or out of date (`divtui draw` or `divtui prune` stores them)",
        }.get(self.source, "")
        parts = [caption(name, self.meta) if self.meta else "", where, rv.notes(rows)]
        if name == rv.CORRELATION_VIEW:
            parts.append("bold *: the interval excludes 0")
        return safe_text(" · ".join(p for p in parts if p))

    def action_next_table(self) -> None:
        """Highlight the next report table."""
        opts = self.query_one(OptionList)
        if opts.option_count:
            opts.highlighted = ((opts.highlighted or 0) + 1) % opts.option_count

    def show_legend(self) -> None:
        """The plot's legend line under it."""
        box = self.query_one("#ov-legend", Static)
        width = box.content_size.width or max(20, self.app.size.width // 2)
        box.update(self.query_one(AccuracyPlot).legend(width))

    def on_resize(self) -> None:
        """Repack the legend for the new width."""
        self.call_after_refresh(self.show_legend)

    def action_plot_run(self) -> None:
        """u: plot the next run (a line per aggregator)."""
        self.query_one(AccuracyPlot).next_run()
        self.show_legend()

    def action_plot_aggregator(self) -> None:
        """a: plot the next aggregator with a line per run."""
        self.query_one(AccuracyPlot).next_aggregator()
        self.show_legend()
