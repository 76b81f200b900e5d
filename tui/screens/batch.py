"""The batch view: a draw's solutions side by side and what each aggregator picked."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, HorizontalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from divtui.engine import browse as eb

from .. import keys
from ..messages import BatchReady, Exported, WorkFailed
from ..widgets.safe_text import safe_text
from ..widgets.solution_column import SolutionColumn
from .modals import CompareScreen, PromptScreen, RerunScreen, ViewerScreen, member_title

_fresh_seed = itertools.count(1)


def picks_text(picks: list[dict[str, Any]], members: list[dict[str, Any]], label: str) -> Text:
    """The aggregator panel: each aggregator's pick (by batch position), answer and mark."""
    pos = {int(m["sample_id"]): i for i, m in enumerate(members) if m.get("sample_id") is not None}
    t = Text()
    t.append("aggregators\n", style="bold")
    t.append_text(safe_text(label, style="dim"))
    t.append("\n\n")
    for p in picks:
        mark = {True: ("✓", "bold green"), False: ("✗", "bold red")}.get(
            p.get("correct"), ("?", "")
        )
        sid = p.get("sample_id")
        where = f"#{pos[int(sid)]}" if sid is not None and int(sid) in pos else "  "
        t.append(f"{p['aggregator']:<9}", style="bold")
        t.append(mark[0], style=mark[1])
        t.append(f" {where} ")
        t.append_text(safe_text(p.get("answer") if p.get("answer") is not None else "-"))
        t.append("\n")
    if not picks:
        t.append("(no aggregator results)\n")
    return t


class BatchScreen(Screen[None]):
    """A draw of one pool; n/p step through the pool's draws that passed the filters."""

    BINDINGS = keys.bindings("batch")
    HELP = (
        "The draw's solutions side by side (scroll sideways with left/right, inside a column "
        "with up/down). Each column: batch position #, sample idx, correct mark (✓/✗), "
        "extracted answer, reward (rwd), mean log-prob (lp), DPP contribution "
        "-log([L^-1]_ii) (dpp), ≈dup when it is a near-duplicate of another member, and the "
        "aggregators that picked it. The right panel shows each aggregator's pick. "
        "Model text is shown literally: markup and escape sequences are not interpreted."
    )

    def __init__(
        self, run_id: str, problem_id: str, temperature: float, draw_ids: list[int]
    ) -> None:
        """The batch view of ``draw_ids`` (the pool's filtered draws)."""
        super().__init__()
        self.run_id, self.problem_id, self.temperature = run_id, problem_id, temperature
        self.draw_ids = draw_ids
        self.pos = 0
        self.detail: dict[str, Any] = {"info": {}, "members": [], "picks": []}
        self.settings: dict[str, Any] = {"scorer": None, "embedder": None, "weighted": True}
        self.sample_ids: list[int] | None = None

    def compose(self) -> ComposeResult:
        """Title, the columns and the aggregator panel."""
        yield Header()
        yield Static("loading…", id="batch-title")
        with Horizontal(id="batch-body"):
            yield HorizontalScroll(id="columns")
            yield Static("", id="picks")
        yield Footer()

    def on_mount(self) -> None:
        """Load the first draw with the app's scorer and embedder."""
        app: Any = self.app
        self.settings["scorer"] = app.data.scorer or None if app.data else None
        self.settings["embedder"] = app.data.embedder or None if app.data else None
        if self.draw_ids:
            self.load(draw_id=self.draw_ids[0], label="stored draw")
        else:
            self.query_one("#batch-title", Static).update("no draws pass the filters; press d")

    @work(thread=True, exclusive=True, group="batch", exit_on_error=False)
    def load(
        self,
        *,
        draw_id: int | None = None,
        sample_ids: list[int] | None = None,
        fresh: int | None = None,
        label: str = "",
    ) -> None:
        """Fetch a batch's members and picks, drawing ``fresh`` new samples first (thread)."""
        app: Any = self.app
        cur = app.con.cursor()
        try:
            if fresh is not None:
                sample_ids = eb.fresh_sample_ids(
                    cur, self.run_id, self.problem_id, self.temperature, fresh, next(_fresh_seed)
                )
            detail = eb.batch_detail(
                cur,
                draw_id=draw_id,
                sample_ids=sample_ids,
                scorer=self.settings["scorer"],
                embedder=self.settings["embedder"],
                weighted=self.settings["weighted"],
            )
            self.post_message(BatchReady(detail, label))
        except ValueError as e:
            self.post_message(WorkFailed(f"batch: {e}"))
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(WorkFailed(f"batch: {type(e).__name__}: {e}"))
        finally:
            cur.close()

    async def on_batch_ready(self, msg: BatchReady) -> None:
        """Replace the columns and the panel."""
        self.detail = msg.detail
        members = msg.detail["members"]
        self.sample_ids = [int(m["sample_id"]) for m in members]
        info = msg.detail.get("info") or {}
        t = Text()
        t.append_text(safe_text(self.problem_id, style="bold"))
        t.append(f"  T={self.temperature:g}  k={len(members)}")
        if info.get("draw_id") is not None and self.draw_ids:
            t.append(f"  rep {info.get('rep')}  draw {self.pos + 1}/{len(self.draw_ids)}")
        t.append("  ")
        t.append_text(safe_text(msg.label, style="italic"))
        t.append("\nQ: ")
        t.append_text(safe_text(info.get("question") or self._question()))
        self.query_one("#batch-title", Static).update(t)
        picked: dict[int, list[str]] = {}
        for p in msg.detail["picks"]:
            if p.get("sample_id") is not None:
                picked.setdefault(int(p["sample_id"]), []).append(str(p["aggregator"]))
        cols = self.query_one("#columns", HorizontalScroll)
        existing = self.columns()
        if len(existing) == len(members):
            for col, m in zip(existing, members, strict=True):
                col.show(m, picked.get(int(m["sample_id"]), []))
        else:
            await cols.remove_children()
            await cols.mount_all(
                [
                    SolutionColumn(i, m, picked.get(int(m["sample_id"]), []))
                    for i, m in enumerate(members)
                ]
            )
        self.query_one("#picks", Static).update(picks_text(msg.detail["picks"], members, msg.label))
        first = self.query(".sol-scroll")
        if first:
            first.first().focus()

    def _question(self) -> str:
        """The problem's question from the app's cached pools."""
        app: Any = self.app
        pools = app.data.pools
        for i, pid in enumerate(pools["problem_id"]):
            if pid == self.problem_id:
                return str(pools["question"][i])
        return ""

    def columns(self) -> list[SolutionColumn]:
        """The solution columns in batch order."""
        return list(self.query(SolutionColumn))

    def focused_column(self) -> SolutionColumn | None:
        """The column holding focus, else the first."""
        cols = self.columns()
        for c in cols:
            if c.has_focus_within:
                return c
        return cols[0] if cols else None

    def action_step(self, delta: int) -> None:
        """Show the next or previous draw of this problem."""
        if not self.draw_ids:
            return
        self.pos = (self.pos + delta) % len(self.draw_ids)
        self.load(draw_id=self.draw_ids[self.pos], label="stored draw")

    def action_move(self, delta: int) -> None:
        """Focus the column to the left or right."""
        cols = self.columns()
        cur = self.focused_column()
        if not cols or cur is None:
            return
        nxt = cols[max(0, min(len(cols) - 1, cols.index(cur) + delta))]
        nxt.query_one(".sol-scroll").focus()
        nxt.scroll_visible()

    def action_fresh_draw(self) -> None:
        """Ask for a size and draw a fresh random batch from the pool."""
        default = str(len(self.sample_ids or []) or 4)

        def done(value: str | None) -> None:
            if value:
                self.fresh(value)

        self.app.push_screen(PromptScreen("Fresh batch of size", default), done)

    def fresh(self, value: str) -> None:
        """Draw ``value`` samples at random from the pool, aggregators rerun (in the worker)."""
        try:
            size = int(value)
        except ValueError:
            self.notify(
                f"fresh draw: {value!r} is not a whole number", severity="error", markup=False
            )
            return
        self.load(fresh=size, label=f"fresh draw of {size}")

    def action_rerun(self) -> None:
        """Ask for scorer, embedder and weighting, then rerun the aggregators on this batch."""
        app: Any = self.app
        opts = app.data.options

        def done(settings: dict[str, Any] | None) -> None:
            if settings is None or not self.sample_ids:
                return
            self.settings.update(settings)
            label = (
                f"rerun: scorer={settings['scorer'] or '-'} embedder={settings['embedder'] or '-'} "
                f"weighted={'yes' if settings['weighted'] else 'no'}"
            )
            self.load(sample_ids=list(self.sample_ids), label=label)

        self.app.push_screen(RerunScreen(opts["scorers"], opts["embedders"], self.settings), done)

    def action_full_screen(self) -> None:
        """Open the focused solution full screen."""
        col = self.focused_column()
        if col is not None:
            self.app.push_screen(
                ViewerScreen(member_title(col.pos, col.member), safe_text(col.member.get("text")))
            )

    def action_mark(self) -> None:
        """Mark (or unmark) the focused solution for comparison."""
        col = self.focused_column()
        if col is not None:
            col.set_marked(not col.marked)

    def action_compare(self) -> None:
        """Compare the marked solution with the focused one (or the first two marked)."""
        cols = self.columns()
        marked = [c for c in cols if c.marked]
        cur = self.focused_column()
        pair = marked[:2] if len(marked) >= 2 else [*marked, cur] if marked else cols[:2]
        if len(pair) < 2 or pair[0] is None or pair[1] is None or pair[0] is pair[1]:
            self.notify("mark a solution with m, focus another, then press c", markup=False)
            return
        a, b = pair
        self.app.push_screen(
            CompareScreen(
                (member_title(a.pos, a.member), str(a.member.get("text") or "")),
                (member_title(b.pos, b.member), str(b.member.get("text") or "")),
            )
        )

    def batch_rows(self) -> list[dict[str, Any]]:
        """The batch as rows: one per member with the aggregators that picked it."""
        picked: dict[int, list[str]] = {}
        for p in self.detail["picks"]:
            if p.get("sample_id") is not None:
                picked.setdefault(int(p["sample_id"]), []).append(str(p["aggregator"]))
        rows = []
        for i, m in enumerate(self.detail["members"]):
            row = {"position": i, **{f: m.get(f) for f in eb.MEMBER_FIELDS}}
            row["picked_by"] = " ".join(picked.get(int(m["sample_id"]), []))
            rows.append(row)
        return rows

    def action_export(self) -> None:
        """Ask for a path and write this batch as CSV or JSONL."""

        def done(path: str | None) -> None:
            if path:
                self.export(path, self.batch_rows())

        self.app.push_screen(PromptScreen("Export batch to (.csv or .jsonl)", "batch.jsonl"), done)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def export(self, path: str, rows: list[dict[str, Any]]) -> None:
        """Write the rows (thread)."""
        try:
            self.post_message(Exported(path, eb.export_rows(Path(path), rows)))
        except (OSError, ValueError) as e:
            self.post_message(WorkFailed(f"export: {e}"))

    def action_back(self) -> None:
        """Back to the problems."""
        self.app.pop_screen()
