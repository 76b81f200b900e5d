"""One solution of a batch: a header with its numbers above its scrollable text."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from .safe_text import safe_text
from .solution_text import SolutionText
from .text_update import set_text


def fmt_num(value: Any, fmt: str = ".3f") -> str:
    """A number for a header, '-' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(float(value), fmt)


def header_text(pos: int, m: dict[str, Any], picked_by: list[str], marked: bool) -> Text:
    """The column header, always four lines (so every column's text starts on the same row;
    a long answer is cut with …, the full-screen viewer shows it whole): position, idx,
    correct mark, answer; reward, log-prob; DPP contribution, near-dup, mark; the pickers."""
    marks: dict[bool | None, tuple[str, str]] = {
        True: ("✓", "bold green"),
        False: ("✗", "bold red"),
    }
    mark = marks.get(m.get("correct"), ("?", ""))
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"#{pos} idx {m.get('idx')} ")
    t.append(mark[0], style=mark[1])
    t.append(" ans ")
    t.append_text(safe_text(m.get("answer") if m.get("answer") is not None else "∅"))
    t.append(f"\nrwd {fmt_num(m.get('reward'))} lp {fmt_num(m.get('mean_logprob'))}")
    t.append(f"\ndpp {fmt_num(m.get('dpp_contribution'), '.2f')}")
    if m.get("near_dup"):
        t.append(" ≈dup", style="bold yellow")
    if marked:
        t.append(" [marked]", style="bold magenta")
    t.append("\n")
    if picked_by:
        t.append("← " + " ".join(picked_by), style="cyan")
    return t


class SolutionColumn(Vertical):
    """A slot of the batch view showing one member's header and text. The batch view keeps
    only as many slots as fit on screen and reuses them; none takes focus (a focus change
    makes the Footer rebuild itself), the current one carries the class ``-current``."""

    @dataclass
    class Clicked(Message):
        """The slot ``slot`` was clicked."""

        slot: int

    def __init__(self, slot: int, **kw: Any) -> None:
        """An empty slot, the ``slot``-th from the left."""
        super().__init__(classes="solution-column", **kw)
        self.slot = slot
        self.pos = -1
        self.member: dict[str, Any] = {}
        self.picked_by: list[str] = []
        self.marked = False

    def compose(self) -> ComposeResult:
        """Header and scrollable text."""
        yield Static("", classes="sol-head")
        text = SolutionText(classes="sol-scroll sol-text")
        text.can_focus = False
        yield text

    def on_click(self) -> None:
        """Tell the batch view this slot was clicked."""
        self.post_message(self.Clicked(self.slot))

    def show(self, pos: int, member: dict[str, Any], picked_by: list[str], marked: bool) -> None:
        """Show batch member ``pos`` (scrolled to its top); nothing is redrawn if it is shown."""
        same = pos == self.pos and member is self.member
        if same and picked_by == self.picked_by and marked == self.marked:
            return
        self.pos, self.member, self.picked_by, self.marked = pos, member, picked_by, marked
        set_text(self.query_one(".sol-head", Static), header_text(pos, member, picked_by, marked))
        if not same:
            self.query_one(SolutionText).show(safe_text(member.get("text")))
