"""One solution of a batch: a header with its numbers above its scrollable text."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from .safe_text import safe_text


def _num(value: Any, fmt: str = ".3f") -> str:
    """A number for a header, '-' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(float(value), fmt)


def header_text(pos: int, m: dict[str, Any], picked_by: list[str], marked: bool) -> Text:
    """The column header: position, idx, answer, correct mark, reward, log-prob, DPP, near-dup."""
    mark = {True: ("✓", "bold green"), False: ("✗", "bold red")}.get(m.get("correct"), ("?", ""))
    t = Text()
    t.append(f"#{pos} idx {m.get('idx')} ")
    t.append(mark[0], style=mark[1])
    t.append(" ans ")
    t.append_text(safe_text(m.get("answer") if m.get("answer") is not None else "∅"))
    t.append(f"\nrwd {_num(m.get('reward'))} lp {_num(m.get('mean_logprob'))}")
    t.append(f"\ndpp {_num(m.get('dpp_contribution'), '.2f')}")
    if m.get("near_dup"):
        t.append(" ≈dup", style="bold yellow")
    if marked:
        t.append(" [marked]", style="bold magenta")
    if picked_by:
        t.append("\n← " + " ".join(picked_by), style="cyan")
    return t


class SolutionColumn(Vertical):
    """A batch member's header and text; its scroll area takes focus."""

    def __init__(self, pos: int, member: dict[str, Any], picked_by: list[str], **kw: Any) -> None:
        """Keep the member so screens can read it back."""
        super().__init__(classes="solution-column", **kw)
        self.pos = pos
        self.member = member
        self.picked_by = picked_by
        self.marked = False

    def compose(self) -> ComposeResult:
        """Header and scrollable text."""
        yield Static(header_text(self.pos, self.member, self.picked_by, False), classes="sol-head")
        with VerticalScroll(classes="sol-scroll"):
            yield Static(safe_text(self.member.get("text")), classes="sol-text")

    def show(self, member: dict[str, Any], picked_by: list[str]) -> None:
        """Reuse this column for another member (a redraw of the same size), unmarked."""
        self.member, self.picked_by, self.marked = member, picked_by, False
        self.query_one(".sol-head", Static).update(header_text(self.pos, member, picked_by, False))
        self.query_one(".sol-text", Static).update(safe_text(member.get("text")))
        self.query_one(".sol-scroll", VerticalScroll).scroll_home(animate=False)

    def set_marked(self, marked: bool) -> None:
        """Show or hide the compare mark."""
        self.marked = marked
        head = self.query_one(".sol-head", Static)
        head.update(header_text(self.pos, self.member, self.picked_by, marked))
