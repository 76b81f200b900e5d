"""PNG figures of a report: accuracy against k per aggregator, accuracy against each metric, and
the pruning study (accuracy against m, medoids per space against random).

matplotlib is imported inside ``write_plots`` with the Agg backend, so importing this module
costs nothing and no display is needed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from divtui.store.vocabulary import OUTCOMES

Row = dict[str, Any]


def _safe(name: str) -> str:
    """A label as a file-name fragment."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "metric"


def _accuracy_vs_k(plt: Any, rows: list[Row], aggregators: list[str], path: Path) -> None:
    """Mean correctness of each aggregator against k, with bootstrap intervals, one line each."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    runs = sorted({r["run_id"] for r in rows})
    for run in runs:
        rs = sorted((r for r in rows if r["run_id"] == run), key=lambda r: r["k"])
        for a in aggregators:
            pts = [r for r in rs if r.get(a) is not None]
            if not pts:
                continue
            ks = [r["k"] for r in pts]
            ys = [r[a] for r in pts]
            lo = [r[a] - r[f"{a}_lo"] if r[f"{a}_lo"] is not None else 0 for r in pts]
            hi = [r[f"{a}_hi"] - r[a] if r[f"{a}_hi"] is not None else 0 for r in pts]
            label = a if len(runs) == 1 else f"{a} ({run})"
            ax.errorbar(ks, ys, yerr=[lo, hi], marker="o", capsize=3, label=label)
    ax.set_xscale("log", base=2)
    sizes = sorted({r["k"] for r in rows})
    ax.set_xticks(sizes, [str(k) for k in sizes])
    ax.minorticks_off()
    ax.set_xlabel("batch size k")
    ax.set_ylabel("accuracy (95% CI over problems)")
    ax.set_title("Accuracy against k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _metric_plot(
    plt: Any, metric: str, rows: list[Row], aggregators: list[str], path: Path
) -> None:
    """Per k, each aggregator's accuracy in equal-width bins of the metric (x = bin mean)."""
    by_k: dict[tuple[str, int, float], list[Row]] = defaultdict(list)
    for r in rows:
        by_k[(r["run_id"], r["k"], r.get("temperature") or 0.0)].append(r)
    keys = sorted(by_k)
    fig, axes = plt.subplots(
        1, len(keys), figsize=(3.6 * len(keys) + 1, 3.8), squeeze=False, sharey=True
    )
    for ax, key in zip(axes[0], keys, strict=True):
        bins = [r for r in sorted(by_k[key], key=lambda r: r["bin"]) if r["count"]]
        for a in aggregators:
            pts = [r for r in bins if r.get(a) is not None]
            ax.plot([r["mean"] for r in pts], [r[a] for r in pts], marker="o", label=a)
        run = "" if len({k[0] for k in keys}) == 1 else f"{key[0]}, "
        temp = f", T = {key[2]:g}" if any(r.get("temperature") is not None for r in rows) else ""
        ax.set_title(f"{run}k = {key[1]}{temp}")
        ax.set_xlabel(metric)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy in bin")
    axes[0][-1].legend(fontsize=7)
    scheme = "quantile" if any(r.get("scheme") == "quantile" for r in rows) else "equal-width"
    fig.suptitle(f"Accuracy against {metric} ({scheme} bins)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pruning_plot(plt: Any, rows: list[Row], path: Path) -> None:
    """Per aggregator a panel of accuracy against m: one line per space's medoids, random dashed."""
    aggs = [a for a in OUTCOMES if any(r.get(a) is not None for r in rows)]
    fig, axes = plt.subplots(
        1, len(aggs), figsize=(3.4 * len(aggs) + 1, 3.8), squeeze=False, sharey=True
    )
    lines: dict[tuple[str, str, bool], list[Row]] = defaultdict(list)
    for r in rows:
        lines[(r["metric"] or "random", r["selector"], r["weighted"])].append(r)
    for ax, a in zip(axes[0], aggs, strict=True):
        for (metric, selector, weighted), rs in sorted(lines.items()):
            pts = sorted((r for r in rs if r.get(a) is not None), key=lambda r: r["m"])
            if not pts:
                continue
            label = metric if selector == "medoids" else "random"
            label += " (weighted)" if weighted else ""
            lo = [r[a] - r[f"{a}_lo"] if r[f"{a}_lo"] is not None else 0 for r in pts]
            hi = [r[f"{a}_hi"] - r[a] if r[f"{a}_hi"] is not None else 0 for r in pts]
            ax.errorbar(
                [r["m"] for r in pts],
                [r[a] for r in pts],
                yerr=[lo, hi],
                marker="o",
                capsize=2,
                linestyle="--" if selector == "random" else "-",
                label=label,
            )
        ms = sorted({r["m"] for r in rows})
        ax.set_xscale("log", base=2)
        ax.set_xticks(ms, [str(m) for m in ms])
        ax.minorticks_off()
        ax.set_title(a)
        ax.set_xlabel("kept m")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (95% CI over problems)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"Pruning draws of size N = {rows[0]['k']}: medoids against random")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pass_at_k_runs(plt: Any, rows: list[Row], path: Path) -> None:
    """Per compared pair of pools: both runs' pass@k with intervals above, B - A with its paired
    interval below, the first sign change marked on both."""
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r["run_a"], r["temperature_a"], r["run_b"], r["temperature_b"])].append(r)
    fig, axes = plt.subplots(
        2, len(groups), figsize=(5.5 * len(groups) + 1, 6.5), squeeze=False, sharex="col"
    )
    for col, ((ra, ta, rb, tb), rs) in enumerate(groups.items()):
        rs = sorted(rs, key=lambda r: r["k"])
        ks = [r["k"] for r in rs]
        top, bottom = axes[0][col], axes[1][col]
        for side, run, t in (("a", ra, ta), ("b", rb, tb)):
            key = f"pass_at_k_{side}"
            ys = [r[key] for r in rs]
            top.plot(ks, ys, marker="o", label=f"{side.upper()}: {run} (T={t:g})")
            if rs[0][f"{key}_lo"] is not None:
                top.fill_between(
                    ks, [r[f"{key}_lo"] for r in rs], [r[f"{key}_hi"] for r in rs], alpha=0.2
                )
        bottom.plot(ks, [r["diff"] for r in rs], marker="o", color="black", label="B − A")
        if rs[0]["diff_lo"] is not None:
            bottom.fill_between(
                ks, [r["diff_lo"] for r in rs], [r["diff_hi"] for r in rs], color="gray", alpha=0.3
            )
        bottom.axhline(0.0, color="gray", linewidth=0.8)
        cross = rs[0]["crossing_k"]
        for ax in (top, bottom):
            if cross is not None:
                ax.axvline(cross, color="red", linestyle="--", linewidth=1)
            ax.set_xscale("log", base=2)
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.minorticks_off()
            ax.grid(alpha=0.3)
        title = f"{rs[0]['n_problems']} shared problems"
        top.set_title(
            title + (f"; crossing at k = {cross}" if cross is not None else "; no crossing")
        )
        top.set_ylabel("pass@k (95% CI over problems)")
        bottom.set_ylabel("B − A (paired 95% CI)")
        bottom.set_xlabel("k")
        top.legend(fontsize=8)
    fig.suptitle("pass@k of two runs on their shared problems")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(report: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write accuracy_vs_k.png, metric_<name>.png per bucketed metric, pruning_<run>_N<k>.png
    per pruned size and pass_at_k_runs.png of a run comparison; return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = report["tables"]
    aggregators = list(report["meta"]["aggregators"])
    written = []
    if tables.get("accuracy_by_k"):
        path = folder / "accuracy_vs_k.png"
        _accuracy_vs_k(plt, tables["accuracy_by_k"], aggregators, path)
        written.append(path)
    by_metric: dict[str, list[Row]] = defaultdict(list)
    for r in tables.get("buckets", []):
        by_metric[r["metric"]].append(r)
    for metric, rows in by_metric.items():
        path = folder / f"metric_{_safe(metric)}.png"
        _metric_plot(plt, metric, rows, aggregators, path)
        written.append(path)
    by_size: dict[tuple[str, int], list[Row]] = defaultdict(list)
    for r in tables.get("pruning", []):
        by_size[(r["run_id"], r["k"])].append(r)
    for (run, k), rows in sorted(by_size.items()):
        path = folder / f"pruning_{_safe(run)}_N{k}.png"
        _pruning_plot(plt, rows, path)
        written.append(path)
    if tables.get("run_comparison"):
        path = folder / "pass_at_k_runs.png"
        _pass_at_k_runs(plt, tables["run_comparison"], path)
        written.append(path)
    return written
