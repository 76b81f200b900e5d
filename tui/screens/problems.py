"""The problems table: per pool, aggregates over the draws that pass the combined filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Header, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from divtui.engine import browse as eb
from divtui.store.vocabulary import OUTCOMES

from .. import keys, state
from ..app_of import app_of
from ..messages import Exported, RowsReady, WorkFailed
from ..widgets.key_bar import KeyBar
from ..widgets.problem_table import Column, ProblemTable
from ..widgets.safe_text import plain_cell, safe_text
from ..widgets.text_update import set_text
from .coverable import CoverableScreen
from .modals import PromptScreen

SYNTAX = r"T=0.7 k=8 maj=wrong bst=correct run=R coverage=0 bucket=dpp:5:2 \frac /regex/"
QUESTION_WIDTH = 30
FROZEN = ("problem", "T")


class ProblemsScreen(CoverableScreen):
    """Problems with pass@k, aggregator accuracy and mean metrics over the filtered draws."""

    BINDINGS = keys.bindings("problems")
    AUTO_FOCUS = "#problems"
    HELP = (
        "One row per pool: a (run, problem, temperature). question: its start. n samples, c "
        "correct; draws: how many of its draws pass the filters; pass@K: unbiased estimate "
        "from n and c at K = the filter's k, else the largest k drawn; maj..mbr_sem: accuracy "
        "of each aggregator over those draws (every size unless k= is set); coverage: share "
        "of those draws with a correct member; metric columns (name@K): means over those "
        "draws of size K only.\n\n"
        f"Filters (type in the box, Enter applies, every term must hold): {SYNTAX}\n"
        "  T=      temperature        k=   draw size       run=  run id\n"
        "  AGG=correct|wrong          aggregator maj, wmaj, bst, mbr_lex or mbr_sem; "
        "several combine (maj=wrong bst=correct)\n"
        "  coverage=1|0               some member correct / none\n"
        "  bucket=METRIC:N:B          bucket B of N equal-width buckets of METRIC over the "
        "draws of each size k (the report's buckets)\n"
        '  words, "a phrase"          plain text (case-insensitive, LaTeX as typed) in the '
        "question or in one solution\n"
        "  /regex/                    a regular expression (RE2) over the same texts\n"
        "A filter given twice (k=4 k=8) is refused. ←/→ pick a column (problem and T stay "
        "on screen), s sorts by it: ascending, descending, original (a header click does "
        "the same); ids sort naturally (gsm8k:2 before gsm8k:10). Enter opens the selected "
        "pool's draws in the batch view. Only the rows on screen are drawn, so filters and "
        "sorts stay fast with thousands of pools."
    )

    def compose(self) -> ComposeResult:
        """Filter box, filter state, table."""
        yield Header()
        yield Input(placeholder=f"filter: {SYNTAX}", id="filter")
        yield Static("loading…", id="filter-state")
        yield ProblemTable(id="problems")
        yield KeyBar()

    def on_mount(self) -> None:
        """Wait for the app's data, then show every problem."""
        self.filters = eb.Filters()
        self.table: dict[str, Any] = {}
        self.order = np.arange(0)
        self.sort: tuple[str, int] = ("", 0)
        self.columns: list[str] = []
        app = app_of(self)
        app.data_listeners.append(self)
        self.query_one(ProblemTable).loading = True
        self.query_one(ProblemTable).focus()
        if app.data is not None:
            self.data_ready()

    def data_ready(self) -> None:
        """The app loaded (or reloaded) its data: recompute the rows."""
        self.apply(self.filters)

    def apply(self, filters: eb.Filters) -> None:
        """Recompute the table for ``filters`` in a worker."""
        self.filters = filters
        state = self.query_one("#filter-state", Static)
        busy = Text("computing…", style="italic")
        busy.append("\n" * max(0, state.size.height - 1))  # same height: no new layout
        set_text(state, busy)
        self.compute(filters)

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def compute(self, filters: eb.Filters) -> None:
        """Aggregate the draws per pool while the (cached) text search runs beside it (thread)."""
        app = app_of(self)
        data = app.loaded()
        try:
            with app.db.reading() as cur:
                search = state.search_soon(data, cur, filters)
                try:
                    table = eb.problem_table(data.frame, data.pools, filters, metrics=data.metrics)
                finally:
                    found = search.result()
            if get_current_worker().is_cancelled:
                return
            table = eb.keep_pools(table, eb.allowed_pools(data.pools, filters, found))
            k = eb.metric_k(data.frame, filters)
            self.post_message(RowsReady(table, eb.describe(filters), k))
        except ValueError as e:
            self.post_message(RowsReady({}, f"error: {e}", 0))
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(WorkFailed(f"filter: {type(e).__name__}: {e}"))

    def on_rows_ready(self, msg: RowsReady) -> None:
        """Show the new rows (keeping the current sort) and the filter state; a search the
        database refused (an RE2 pattern error) leaves the rows and says why."""
        if not msg.table:
            self.query_one(ProblemTable).loading = False
            self.show_error(msg.description.removeprefix("error: "))
            return
        self.table = msg.table
        self.pass_k = msg.k
        self.show_state()
        self.fill()

    def show_error(self, text: str) -> None:
        """A one-line filter error on the state line (the previous rows stay)."""
        set_text(
            self.query_one("#filter-state", Static),
            Text.assemble(("error: ", "bold red"), safe_text(text)),
        )

    def show_state(self) -> None:
        """The filter line: the active filters, the pool count, the size K of the pass@K and
        metric columns, the scorer and embedder, the bucket's range when known."""
        app = app_of(self)
        n = len(self.table.get("pool", []))
        desc = eb.describe(self.filters)
        t = Text()
        t.append("filters: ", style="bold")
        t.append_text(safe_text(desc or "none"))
        t.append(f"  ·  {n} pools  ·  pass@k, metrics at k={self.pass_k}  ·  scorer ")
        t.append_text(safe_text(app.loaded().scorer or "-"))
        t.append("  embedder ")
        t.append_text(safe_text(app.loaded().embedder or "-"))
        f = self.filters
        if f.metric and f.bucket is not None and f.k is not None:
            rng = eb.bucket_range(
                app.loaded().frame[f"metric:{f.metric}"],
                app.loaded().frame["k"],
                f.k,
                f.n_buckets,
                f.bucket,
            )
            if rng:
                t.append(f"  ·  {f.metric} in [{rng[0]:.3g}, {rng[1]:.3g}]")
        if desc:
            t.append("  (x clears)", style="dim")
        set_text(self.query_one("#filter-state", Static), t)

    def fill(self) -> None:
        """Point the table at the current rows in the current sort order (nothing is formatted
        until a row is on screen); the default order is natural (run, problem id, T)."""
        app = app_of(self)
        data = app.loaded()
        tab = self.table
        pools = data.pools
        idx = tab["pool"]
        metrics = data.metrics
        self.columns = [
            "problem", "T", "question", "run", "n", "c", "pass@k", "draws", *OUTCOMES, *metrics
        ]  # fmt: skip
        col_values: dict[str, np.ndarray] = {
            "problem": pools["problem_id"][idx],
            "T": pools["temperature"][idx],
            "question": pools["question"][idx],
            "run": pools["run_id"][idx],
            "n": pools["n"][idx],
            "c": pools["c"][idx],
            "pass@k": tab["pass@k"],
            "draws": tab["draws"],
            **{a: tab[a] for a in OUTCOMES},
            **{m: tab[m] for m in metrics},
        }
        self.col_values = col_values
        base = np.argsort(data.pool_rank[idx], kind="stable")
        name, direction = self.sort
        self.order = (
            base[eb.sort_order(col_values[name][base], direction)] if name in col_values else base
        )
        if getattr(self, "_widths_for", None) is not pools:
            self._widths_for = pools
            self._widths = {
                "problem": min(28, max([7, *(len(str(x)) for x in pools["problem_id"])])),
                "run": min(16, max([3, *(len(str(r)) for r in pools["run_id"])])),
                "T": 4,
                "question": QUESTION_WIDTH,
            }
        cols = []
        for c in self.columns:
            label = self.label_of(c)
            if c == name and direction:
                label += " ▲" if direction > 0 else " ▼"
            cols.append(Column(c, label, self._widths.get(c, max(len(self.label_of(c)), 6) + 2)))
        order, values = self.order, col_values
        texts = {"question": QUESTION_WIDTH}

        def cells(row: int) -> list[str]:
            """One displayed row's cells, formatted when it first comes on screen."""
            j = order[row]
            return [
                plain_cell(values[c][j], texts[c])
                if c in texts
                else plain_cell(f"{values[c][j]:g}" if c == "T" else eb.fmt_value(values[c][j]))
                for c in self.columns
            ]

        table = self.query_one(ProblemTable)
        table.set_rows(
            cols, len(order), cells, lambda row: int(idx[order[row]]), frozen=len(FROZEN)
        )
        table.loading = False

    def label_of(self, column: str) -> str:
        """A column's header: pass@K and metric@K name the size K they are computed at."""
        if column == "pass@k":
            return f"pass@{self.pass_k}"
        if column in self.app.data.metrics:  # type: ignore[attr-defined]
            return f"{column}@{self.pass_k}"
        return column

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A cancelled filter (ctrl+g) leaves the previous rows and says so."""
        if event.worker.group == "filter" and event.state == WorkerState.CANCELLED:
            self.query_one(ProblemTable).loading = False
            set_text(self.query_one("#filter-state", Static), Text("filter cancelled"))

    @on(ProblemTable.HeaderSelected, "#problems")
    def _header(self, event: ProblemTable.HeaderSelected) -> None:
        """Cycle the clicked column's sort: ascending, descending, original."""
        self.cycle_sort(event.column)

    def cycle_sort(self, col: str | None) -> None:
        """Sort by ``col``: ascending, then descending, then the original order."""
        if col not in self.columns:
            return
        name, direction = self.sort
        nxt = {0: 1, 1: -1, -1: 0}[direction if name == col else 0]
        self.sort = (col, nxt)
        self.fill()

    def action_sort_column(self) -> None:
        """s: cycle the sort of the column under the column cursor (←/→ move it)."""
        self.cycle_sort(self.query_one(ProblemTable).current_column())

    def sort_by(self, column: str, direction: int) -> None:
        """Sort by ``column`` (1 ascending, -1 descending, 0 original order)."""
        self.sort = (column, direction)
        self.fill()

    @on(Input.Submitted, "#filter")
    def _filter(self, event: Input.Submitted) -> None:
        """Parse the typed filters and apply them; a bad one is shown on the state line."""
        app = app_of(self)
        data = app.data
        try:
            f = eb.parse_filters(
                event.value,
                metrics=data.metrics if data else None,
                runs=data.runs if data else None,
            )
        except eb.FilterError as e:
            self.show_error(str(e))
            return
        self.query_one(ProblemTable).focus()
        self.apply(f)

    def action_back(self) -> None:
        """Esc: out of the filter box to the table; from the table back to the screen before."""
        box = self.query_one("#filter", Input)
        if box.has_focus:
            self.query_one(ProblemTable).focus()
        else:
            self.app.action_go_back()  # type: ignore[attr-defined]

    def action_focus_filter(self) -> None:
        """Put the cursor in the filter box at once (Widget.focus waits for the queued keys,
        so a fast "/k=4" would send "k=4" to the table)."""
        self.set_focus(self.query_one("#filter", Input))

    def action_clear_filters(self) -> None:
        """Drop every filter."""
        self.query_one("#filter", Input).value = ""
        self.apply(eb.Filters())

    @on(ProblemTable.RowSelected, "#problems")
    def _selected(self, event: ProblemTable.RowSelected) -> None:
        """Enter on a row opens its batch view."""
        self.open_pool(event.key)

    def action_open_batch(self) -> None:
        """Open the highlighted problem's draws."""
        table = self.query_one(ProblemTable)
        if table.row_count:
            self.open_pool(table.row_key(table.cursor_row))

    def open_pool(self, pool: int) -> None:
        """Push the batch view over the draws of ``pool`` that pass the filters (one batch view,
        installed once and reused: composing a fresh screen costs far more than updating it)."""
        from .batch import BatchScreen

        app = app_of(self)
        data = app.loaded()
        found = data.search_cache.get((self.filters.text, self.filters.regex))
        kept = eb.allowed_pools(data.pools, self.filters, found)
        draw_ids = eb.pool_draw_ids(data.frame, self.filters, pool, kept)
        p = data.pools
        where = (str(p["run_id"][pool]), str(p["problem_id"][pool]), float(p["temperature"][pool]))
        name = f"divtui-batch-{id(self)}"
        if app.is_screen_installed(name) and app.get_screen(name).is_mounted:
            cast(BatchScreen, app.get_screen(name)).set_pool(
                *where, draw_ids, filters=self.filters, push_when_ready=bool(draw_ids)
            )
            if not draw_ids:
                app.push_screen(name)
        else:
            if not app.is_screen_installed(name):
                app.install_screen(BatchScreen(*where, draw_ids, self.filters), name)
            else:
                cast(BatchScreen, app.get_screen(name)).set_pool(
                    *where, draw_ids, filters=self.filters
                )
            app.push_screen(name)

    def rows_for_export(self) -> list[dict[str, Any]]:
        """Every filtered row (loaded or not), in the shown order, with the question text."""
        app = app_of(self)
        pools = app.loaded().pools
        idx = self.table["pool"][self.order]
        ordered = {c: self.col_values[c][self.order] for c in self.columns}
        rows = []
        for j, p in enumerate(idx):
            row = {self.label_of(c): ordered[c][j] for c in self.columns if c != "question"}
            row["question"] = pools["question"][p]
            rows.append(row)
        return rows

    def action_export(self) -> None:
        """Ask for a path and write the filtered rows as CSV or JSONL."""

        def done(path: str | None) -> None:
            if path:
                self.export(path, self.rows_for_export())

        self.app.push_screen(
            PromptScreen("Export problem rows to (.csv or .jsonl)", "problems.csv"), done
        )

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def export(self, path: str, rows: list[dict[str, Any]]) -> None:
        """Write the rows (thread)."""
        try:
            n = eb.export_rows(Path(path), rows)
            self.post_message(Exported(path, n))
        except (OSError, ValueError) as e:
            self.post_message(WorkFailed(f"export: {e}"))
