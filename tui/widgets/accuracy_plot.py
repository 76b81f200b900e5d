"""Accuracy against batch size k, drawn with textual-plotext, never pooling runs.

Two views: one run with a line per aggregator (``u`` steps through the runs), or one aggregator
with a line per run (``a`` steps through the aggregators). Each point is the mean correctness
over that run's draws of size k, pooled over its problems and temperatures (as the report's
``accuracy_by_k`` and its PNG). The legend is a separate line under the plot, so it never covers
the lines in a small terminal.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual_plotext import PlotextPlot

from divtui.store.vocabulary import OUTCOMES

from .safe_text import safe_text

MARKERS = "ox+*#@%&"


def _agg_key(name: str) -> tuple[int, str]:
    """Aggregators in the DESIGN order, others after."""
    return (OUTCOMES.index(name) if name in OUTCOMES else len(OUTCOMES), name)


class AccuracyPlot(PlotextPlot):
    """A terminal plot of accuracy vs k; ``set_rows`` takes accuracy_by_k rows (run_id,
    aggregator, k, accuracy, draws)."""

    def __init__(self, **kwargs: Any) -> None:
        """An empty plot until rows arrive."""
        super().__init__(**kwargs)
        self.rows: list[dict[str, Any]] = []
        self.runs: list[str] = []
        self.aggregators: list[str] = []
        self.view: tuple[str, str] = ("run", "")
        self._series: dict[str, tuple[list[int], list[float]]] = {}

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Keep the rows and redraw; the view stays when its run or aggregator still exists."""
        self.rows = rows
        self.runs = sorted({str(r["run_id"]) for r in rows})
        self.aggregators = sorted({str(r["aggregator"]) for r in rows}, key=_agg_key)
        kind, name = self.view
        if not (kind == "run" and name in self.runs) and not (
            kind == "aggregator" and name in self.aggregators
        ):
            self.view = ("run", self.runs[0] if self.runs else "")
        self._redraw()

    def next_run(self) -> None:
        """Show the next run (from the aggregator view: the first run)."""
        if not self.runs:
            return
        kind, name = self.view
        i = self.runs.index(name) + 1 if kind == "run" and name in self.runs else 0
        self.view = ("run", self.runs[i % len(self.runs)])
        self._redraw()

    def next_aggregator(self) -> None:
        """Compare the runs on the next aggregator (from the run view: the first one)."""
        if not self.aggregators:
            return
        kind, name = self.view
        aggs = self.aggregators
        i = aggs.index(name) + 1 if kind == "aggregator" and name in aggs else 0
        self.view = ("aggregator", aggs[i % len(aggs)])
        self._redraw()

    def _redraw(self) -> None:
        """Recompute the series of the current view and refresh."""
        kind, name = self.view
        field, line = ("run_id", "aggregator") if kind == "run" else ("aggregator", "run_id")
        series: dict[str, tuple[list[int], list[float]]] = {}
        for r in sorted(self.rows, key=lambda r: int(r["k"])):
            if str(r[field]) == name:
                xs, ys = series.setdefault(str(r[line]), ([], []))
                xs.append(int(r["k"]))
                ys.append(float(r["accuracy"]))
        order = sorted(series, key=_agg_key) if kind == "run" else sorted(series)
        self._series = {s: series[s] for s in order}
        self.refresh()

    def title(self) -> str:
        """The plot's title: which run or aggregator it shows."""
        kind, name = self.view
        if not name:
            return "accuracy vs k"
        return f"run {name}: accuracy vs k" if kind == "run" else f"{name}: accuracy vs k by run"

    def legend(self, width: int = 80) -> Text:
        """Each line's marker and name, packed into lines of ``width`` cells (an entry is never
        split), then what every point pools over."""
        kind, _name = self.view
        t = Text(no_wrap=True, overflow="ellipsis")
        used = 0
        for i, s in enumerate(self._series):
            label = s if kind == "run" else f"run {s}"
            size = len(label) + 4
            if used and used + size > width:
                t.append("\n")
                used = 0
            t.append(f"{MARKERS[i % len(MARKERS)]} ", style="bold")
            t.append_text(safe_text(label))
            t.append("  ")
            used += size
        if not self._series:
            t.append("no draws with outcomes yet")
        t.append("\npoint: mean over size-k draws, all problems & T", style="dim")
        if len(self.runs) > 1 or kind == "aggregator":
            t.append("\nu: next run  a: runs by aggregator", style="dim")
        return t

    def on_mount(self) -> None:
        """Fixed theme so snapshots do not depend on the terminal."""
        self.plt.theme("clear")

    def render(self) -> Any:
        """Declare the plot from the stored series (plotext redraws it at the widget's size)."""
        plt = self.plt
        plt.clear_data()
        plt.title(self.title())
        plt.ylim(0, 1)
        for i, (xs, ys) in enumerate(self._series.values()):
            plt.plot(xs, ys, marker=MARKERS[i % len(MARKERS)])
        ks: list[float] = sorted({k for xs, _ in self._series.values() for k in xs})
        if ks:
            plt.xticks(ks, [str(k) for k in ks])
        return super().render()
