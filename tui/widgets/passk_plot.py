"""Two runs' pass@k against k with their bootstrap intervals and the crossing, via textual-plotext."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual_plotext import PlotextPlot


@dataclass
class Curves:
    """What the plot shows: per side (a, b) the k values, pass@k, interval ends; the crossing."""

    ks: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    lo: dict[str, list[float | None]] = field(default_factory=dict)
    hi: dict[str, list[float | None]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    crossing: int | None = None


def curves_from_rows(rows: list[dict[str, Any]], labels: dict[str, str]) -> Curves:
    """The run_comparison rows of one pair of pools as plot data (rows sorted by k)."""
    rows = sorted(rows, key=lambda r: r["k"])
    out = Curves(ks=[int(r["k"]) for r in rows], labels=dict(labels))
    for s in "ab":
        key = f"pass_at_k_{s}"
        out.values[s] = [float(r[key]) for r in rows]
        out.lo[s] = [r[f"{key}_lo"] for r in rows]
        out.hi[s] = [r[f"{key}_hi"] for r in rows]
    out.crossing = rows[0]["crossing_k"] if rows else None
    return out


class PassKPlot(PlotextPlot):
    """pass@k of side A and side B against k (log2 axis), intervals dotted, crossing a line."""

    def __init__(self, **kwargs: Any) -> None:
        """Empty until curves arrive."""
        super().__init__(**kwargs)
        self.curves = Curves()

    def on_mount(self) -> None:
        """Fixed theme so snapshots do not depend on the terminal."""
        self.plt.theme("clear")

    def show(self, curves: Curves) -> None:
        """Plot ``curves`` and redraw."""
        self.curves = curves
        self.refresh()

    def render(self) -> Any:
        """Declare the plot (plotext redraws it at the widget's size)."""
        plt = self.plt
        plt.clear_data()
        c = self.curves
        cross = "no crossing" if c.crossing is None else f"crossing at k={c.crossing}"
        plt.title(f"pass@k, 95% CI dotted; {cross}")
        plt.xlabel("k")
        plt.ylim(0.0, 1.0)
        if c.ks:
            plt.xscale("log")
            for s, marker, color in (("a", "o", "blue"), ("b", "x", "orange")):
                plt.plot(c.ks, c.values[s], label=c.labels.get(s, s), marker=marker, color=color)
                for ends in (c.lo[s], c.hi[s]):
                    pts = [(k, v) for k, v in zip(c.ks, ends, strict=True) if v is not None]
                    if pts:
                        plt.plot(
                            [k for k, _ in pts], [v for _, v in pts], marker="dot", color=color
                        )
            plt.xticks(list[float](c.ks), [str(k) for k in c.ks])
            if c.crossing is not None:
                plt.vline(c.crossing, "red")
        return super().render()
