"""Accuracy against batch size k, one line per aggregator, drawn with textual-plotext."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot


class AccuracyPlot(PlotextPlot):
    """A terminal plot of accuracy vs k; ``set_rows`` takes accuracy_by_k rows."""

    def __init__(self, **kwargs: Any) -> None:
        """An empty plot until rows arrive."""
        super().__init__(**kwargs)
        self._series: dict[str, tuple[list[int], list[float]]] = {}

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Group rows by aggregator and redraw."""
        series: dict[str, tuple[list[int], list[float]]] = {}
        for r in rows:
            xs, ys = series.setdefault(str(r["aggregator"]), ([], []))
            xs.append(int(r["k"]))
            ys.append(float(r["accuracy"]))
        self._series = series
        self.refresh()

    def on_mount(self) -> None:
        """Fixed theme so snapshots do not depend on the terminal."""
        self.plt.theme("clear")

    def render(self) -> Any:
        """Declare the plot from the stored series (plotext redraws it at the widget's size)."""
        plt = self.plt
        plt.clear_data()
        plt.title("accuracy vs k")
        plt.xlabel("k")
        markers = "ox+*#@"
        for i, (name, (xs, ys)) in enumerate(sorted(self._series.items())):
            plt.plot(xs, ys, label=name, marker=markers[i % len(markers)])
        if self._series:
            ks = sorted({k for xs, _ in self._series.values() for k in xs})
            plt.xticks(ks, [str(k) for k in ks])
        return super().render()
