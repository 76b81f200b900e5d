"""Markdown of the run comparison tables (run_comparison, run_problems) for the report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from divtui.store.terminal import one_line

Row = dict[str, Any]
ANSWERS_WIDTH = 90


def cell(value: Any) -> str:
    """Database text as one Markdown table cell: one line, control, bidi and zero-width
    characters written out as ``\\u....`` escapes, pipes escaped."""
    s = one_line(" ".join(("" if value is None else str(value)).split()))
    return s.replace("|", "\\|")


def _cut(text: str, width: int = ANSWERS_WIDTH) -> str:
    """Text cut to ``width`` characters with an ellipsis (the JSON keeps it whole)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _f(v: Any, places: int = 3) -> str:
    """A number to ``places`` decimals, '–' when undefined."""
    return "–" if v is None else f"{v:.{places}f}"


def _ci(row: Row, key: str, sign: str = "") -> str:
    """``0.712 [0.68, 0.74]`` (``sign="+"``: signed, for differences)."""
    v, lo, hi = row.get(key), row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if v is None:
        return "–"
    if lo is None or hi is None:
        return f"{v:{sign}.3f}"
    return f"{v:{sign}.3f} [{lo:{sign}.2f}, {hi:{sign}.2f}]"


def _table(header: Sequence[str], body: Sequence[Sequence[str]], right: Sequence[int]) -> str:
    """A Markdown pipe table; the columns numbered in ``right`` are right-aligned."""
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def _groups(rows: list[Row]) -> dict[tuple[Any, ...], list[Row]]:
    """Rows by (run_a, temperature_a, run_b, temperature_b), in order."""
    out: dict[tuple[Any, ...], list[Row]] = {}
    for r in rows:
        out.setdefault((r["run_a"], r["temperature_a"], r["run_b"], r["temperature_b"]), []).append(
            r
        )
    return out


def _sides(key: tuple[Any, ...]) -> str:
    """``A = run (T = 0.7), B = run (T = 1)``."""
    ra, ta, rb, tb = key
    return f"A = {cell(ra)} (T = {ta:g}), B = {cell(rb)} (T = {tb:g})"


def comparison_md(rows: list[Row]) -> str:
    """One block per comparison: what it pools over, the crossing, diversity, the k table."""
    parts = []
    for key, rs in _groups(rows).items():
        g = rs[0]
        cross = g["crossing_k"]
        if cross is None:
            where = "the difference B − A never changes sign"
        else:
            where = f"B − A first changes sign at **k = {cross}**"
        if g.get("crossing_share") is not None:
            where += f" (resamples with a crossing: {g['crossing_share']:.0%}"
            if g.get("crossing_k_lo") is not None:
                where += f", their first k in [{g['crossing_k_lo']:g}, {g['crossing_k_hi']:g}]"
            where += ")"
        parts.append(
            f"**{_sides(key)}**: {g['n_problems']} shared problems (only in A: {g['only_a']}, "
            f"only in B: {g['only_b']}); pools of at least {g['pool_size_min']} graded samples; "
            f"{where}.\n\n"
            f"Answer classes per pool: A {g['classes_a']:.2f}, B {g['classes_b']:.2f}; share of "
            f"the pool in its most common class: A {g['top_share_a']:.2f}, B {g['top_share_b']:.2f}."
        )
        if g.get("embedder"):
            parts[-1] += f" cosine_sim under embedder `{cell(g['embedder'])}`."
        header = ["k", "pass@k A", "pass@k B", "B − A"]
        header += ["cosine_sim A", "cosine_sim B", "distinct_n A", "distinct_n B"]
        body = [
            [f"{r['k']} ← crossing" if r["k"] == cross else str(r["k"])]
            + [_ci(r, "pass_at_k_a"), _ci(r, "pass_at_k_b"), _ci(r, "diff", "+")]
            + [_f(r[f"{m}_{s}"]) for m in ("cosine_sim", "distinct_n") for s in "ab"]
            for r in rs
        ]
        parts.append(_table(header, body, right=range(1, len(header))))
    return "\n\n".join(parts)


def problems_md(rows: list[Row]) -> str:
    """One table per comparison: the problems only one side solves at pass@K."""
    parts = []
    for key, rs in _groups(rows).items():
        k = rs[0]["k"]
        na = sum(r["solved_by"] == "a" for r in rs)
        parts.append(
            f"**{_sides(key)}**, K = {k}: {na} problems solved only by A, {len(rs) - na} only by B."
        )
        body = [
            [
                cell(r["problem_id"]),
                r["solved_by"].upper(),
                _f(r["pass_at_k_a"]),
                _f(r["pass_at_k_b"]),
                f"{r['c_a']}/{r['n_a']}",
                f"{r['c_b']}/{r['n_b']}",
                cell(_cut(r["answers_a"])),
                cell(_cut(r["answers_b"])),
            ]
            for r in rs
        ]
        header = ["problem", "solved by", f"pass@{k} A", f"pass@{k} B", "correct A", "correct B"]
        parts.append(_table([*header, "answers A", "answers B"], body, right=range(2, 6)))
    return "\n\n".join(parts)
