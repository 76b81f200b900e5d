"""Report rows as overview table cells (core: no Textual): each statistic with its interval in
one cell, intervals that exclude 0 marked, and the pooled / between / within correlation view.
"""

from __future__ import annotations

import math
from typing import Any

Row = dict[str, Any]
CORRELATION_VIEW = "within_correlations"
"""The table the overview shows as its correlation view: pooled, between and within side by
side."""
ZERO_MARK = " *"
HIDDEN = ("n_boot_valid", "ci_note")
SIGNED = ("pearson", "spearman", "partial", "pooled_r", "between_r", "within_r", "slope")
"""Statistics whose interval is marked when it excludes 0 (correlations, slopes, differences)."""


def _num(value: Any) -> str:
    """A number to 3 decimals (integers as they are), '-' when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.3f}"


def excludes_zero(row: Row, key: str) -> bool:
    """Whether ``key``'s interval lies wholly above or below 0."""
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def signed(key: str) -> bool:
    """Whether 0 is the reference value of statistic ``key`` (a correlation, slope, difference)."""
    return key in SIGNED or key.endswith(("_minus_random", "top_minus_bottom"))


def cell(row: Row, key: str) -> tuple[str, bool]:
    """``0.712 [0.68, 0.74]`` (``[no CI]`` when withheld) and whether to mark it (a signed
    statistic whose interval excludes 0; the text then ends with ZERO_MARK)."""
    value = row.get(key)
    if f"{key}_lo" not in row:
        return _num(value), False
    if value is None:
        return "-", False
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if lo is None or hi is None:
        text = f"{value:.3f}" + (" [no CI]" if row.get("n_boot_valid") is not None else "")
        return text, False
    mark = signed(key) and excludes_zero(row, key)
    return f"{value:.3f} [{lo:.2f}, {hi:.2f}]" + (ZERO_MARK if mark else ""), mark


def columns(rows: list[Row]) -> list[str]:
    """The row keys to show, in order: intervals folded into their statistic's cell."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    have = set(keys)
    out = []
    for k in keys:
        if k in HIDDEN:
            continue
        if k.endswith(("_lo", "_hi")) and k[:-3] in have:
            continue
        out.append(k)
    return out


def table_cells(rows: list[Row]) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """(headers, rows of (text, marked) cells) for any report table."""
    cols = columns(rows)
    return cols, [[cell(r, c) for c in cols] for r in rows]


def correlation_cells(rows: list[Row]) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """The correlation view of within_correlations rows: k, metric, outcome, then pooled,
    between and within r side by side, then what they rest on."""
    head = ["k", "metric", "outcome", "pooled r", "between r", "within r"]
    head += ["draws", "pools", "informative pools", "events"]
    body = []
    for r in rows:
        line = [(_num(r.get("k")), False), (str(r["metric"]), False), (str(r["outcome"]), False)]
        line += [cell(r, key) for key in ("pooled_r", "between_r", "within_r")]
        line += [
            (_num(r.get(key)), False)
            for key in ("n_draws", "n_pools", "n_informative_pools", "n_events")
        ]
        body.append(line)
    return head, body


def notes(rows: list[Row], limit: int = 3) -> str:
    """The table's distinct interval notes, at most ``limit``."""
    found = list(dict.fromkeys(n for r in rows for n in (r.get("ci_note") or "").split("; ") if n))
    if not found:
        return ""
    more = f" (+{len(found) - limit} more)" if len(found) > limit else ""
    return "Intervals: " + "; ".join(found[:limit]) + more
