"""The overview: runs and counts, accuracy vs k per aggregator, and the report tables."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, OptionList, Static

from divtui.engine.browse import fmt_value
from divtui.store import browse_queries as bq
from divtui.store import queries as q

from .. import keys
from ..messages import OverviewReady, WorkFailed
from ..widgets.accuracy_plot import AccuracyPlot
from ..widgets.key_bar import KeyBar
from ..widgets.safe_text import safe_text


def report_tables(con: Any, scorer: str, embedder: str) -> dict[str, list[dict[str, Any]]]:
    """The analysis report's tables (engine.report) without bootstrap intervals, for speed
    (`divtui report` gives the intervals), or accuracy_by_k alone without engine.report."""
    try:
        from divtui.engine.report import build_report
    except ImportError:
        return {"accuracy_by_k": bq.accuracy_by_k(con, scorer=scorer, embedder=embedder)}
    rep = build_report(con, scorer=scorer or None, embedder=embedder or None, n_boot=0)
    return dict(rep.get("tables", {}))


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
            yield DataTable(id="ov-table", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        """Start loading in a worker."""
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.load()

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def load(self) -> None:
        """Read runs, counts, accuracy by k and the report (thread)."""
        app: Any = self.app
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
                tables = report_tables(cur, sc, em)
            self.post_message(OverviewReady(runs, counts, acc, tables))
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
        tables = msg.tables or {"accuracy_by_k": msg.accuracy}
        if list(tables) != list(self.tables):
            opts = self.query_one(OptionList)
            opts.clear_options()
            opts.add_options(list(tables))
            opts.highlighted = 0
        self.tables = tables
        self.show_table(next(iter(tables)))

    @on(OptionList.OptionHighlighted, "#ov-tables")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        """Show the highlighted report table."""
        self.show_table(str(event.option.prompt))

    def show_table(self, name: str) -> None:
        """Fill the table widget with report table ``name``."""
        rows = self.tables.get(name, [])
        table = self.query_one("#ov-table", DataTable)
        table.clear(columns=True)
        table.border_title = name
        if not rows:
            table.add_column(name)
            table.add_row("(no rows)")
            return
        cols = list(rows[0])
        table.add_columns(*cols)
        table.add_rows([[safe_text(fmt_value(r.get(c))) for c in cols] for r in rows])

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

    def action_next_table(self) -> None:
        """Highlight the next report table."""
        opts = self.query_one(OptionList)
        if opts.option_count:
            opts.highlighted = ((opts.highlighted or 0) + 1) % opts.option_count
