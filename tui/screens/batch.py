"""The batch view: a draw's solutions side by side and what each aggregator picked."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from divtui.engine import browse as eb

from .. import keys, state
from ..app_of import app_of
from ..messages import BatchReady, Exported, WorkFailed
from ..widgets.key_bar import KeyBar
from ..widgets.safe_text import safe_text
from ..widgets.solution_column import SolutionColumn, fmt_num
from ..widgets.solution_text import SolutionText
from ..widgets.text_update import set_text
from .coverable import CoverableScreen
from .modals import CompareScreen, PromptScreen, RerunScreen, ViewerScreen, member_title

if TYPE_CHECKING:
    from divtui.engine.batch_detail import ShownBatch

_fresh_seed = itertools.count(1)
COLUMN_WIDTH = 42
PICKS_WIDTH = 34


def picks_text(picks: list[dict[str, Any]], members: list[dict[str, Any]], label: str) -> Text:
    """The aggregator panel: each aggregator's pick (by batch position), answer and mark."""
    pos = {int(m["sample_id"]): i for i, m in enumerate(members) if m.get("sample_id") is not None}
    t = Text()
    t.append("aggregators\n", style="bold")
    t.append_text(safe_text(label, style="dim"))
    t.append("\n\n")
    for p in picks:
        marks: dict[bool | None, tuple[str, str]] = {
            True: ("✓", "bold green"),
            False: ("✗", "bold red"),
        }
        mark = marks.get(p.get("correct"), ("?", ""))
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


class BatchScreen(CoverableScreen):
    """A draw of one pool; n/p step through the pool's draws that passed the filters.

    Only as many solution columns as fit on screen exist; left/right move the focus through
    the batch and slide that window, so opening or redrawing a 32-member batch lays out and
    wraps two or three texts, not 32.
    """

    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    BINDINGS = [
        *keys.bindings("batch"),
        Binding("up", "scroll_column('up')", "Scroll up", show=False),
        Binding("down", "scroll_column('down')", "Scroll down", show=False),
        Binding("pageup", "scroll_column('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll_column('page_down')", "Page down", show=False),
        Binding("home", "scroll_column('home')", "Top", show=False),
        Binding("end", "scroll_column('end')", "Bottom", show=False),
    ]
    HELP = (
        "The header: problem, run, T, k, which draw; the gold answer; the batch's metrics, "
        "each with its percentile (p) among this run's stored draws of the same size k; which "
        "filter terms this batch meets (✓/✗); the question. "
        "The draw's solutions side by side, as many as fit; left/right move through the batch "
        "(the title says which members are shown; the current one has a bright border, click "
        "a column to make it current), up/down/PageUp/PageDown scroll inside it (s: all "
        "columns together); each column's header stays above its text. Each "
        "column: batch position #, sample idx, correct mark (✓/✗), extracted answer, reward "
        "(rwd), mean log-prob (lp), DPP contribution -log([L^-1]_ii) (dpp), ≈dup when it is a "
        "near-duplicate of another member, and the aggregators that picked it. The right "
        "panel shows each aggregator's pick. Model text is shown literally: markup and escape "
        "sequences are not interpreted."
    )

    def __init__(
        self,
        run_id: str,
        problem_id: str,
        temperature: float,
        draw_ids: list[int],
        filters: eb.Filters | None = None,
    ) -> None:
        """The batch view of ``draw_ids`` (the pool's draws that pass ``filters``)."""
        super().__init__()
        self.settings: dict[str, Any] = {"scorer": None, "embedder": None, "weighted": True}
        self.together = False
        self.set_pool(run_id, problem_id, temperature, draw_ids, filters=filters)

    def set_pool(
        self,
        run_id: str,
        problem_id: str,
        temperature: float,
        draw_ids: list[int],
        *,
        filters: eb.Filters | None = None,
        push_when_ready: bool = False,
    ) -> None:
        """Show another pool's draws; the problems screen reuses one batch view this way, so
        opening a batch composes and mounts nothing. With ``push_when_ready`` the screen pushes
        itself once the first draw is loaded, so the stale batch is never painted."""
        self.run_id, self.problem_id, self.temperature = run_id, problem_id, temperature
        self.draw_ids = draw_ids
        self.filters = filters
        self.pos = 0
        self.detail: ShownBatch = {
            "info": {},
            "members": [],
            "picks": [],
            "metrics": {},
            "scorer": "",
            "embedder": "",
        }
        self.sample_ids: list[int] | None = None
        self.draw_id: int | None = None
        self.seed: int | None = None
        self.label = ""
        self.first = 0
        self.focus_pos = 0
        self.marked: set[int] = set()
        self.picked: dict[int, list[str]] = {}
        self.push_when_ready = push_when_ready and bool(draw_ids)
        if self.is_mounted:
            self.start()

    def slot_count(self) -> int:
        """How many solution columns fit beside the aggregator panel."""
        return max(1, (self.app.size.width - PICKS_WIDTH) // COLUMN_WIDTH)

    def compose(self) -> ComposeResult:
        """Title, the column slots and the aggregator panel."""
        yield Header()
        yield Static("loading…", id="batch-title")
        with Horizontal(id="batch-body"):
            with Horizontal(id="columns"):
                for i in range(self.slot_count()):
                    yield SolutionColumn(i)
            yield Static("", id="picks")
        yield KeyBar()

    def on_mount(self) -> None:
        """Load the first draw."""
        self.start()

    def start(self) -> None:
        """Load the pool's first draw with the app's scorer and embedder."""
        app = app_of(self)
        self.settings["scorer"] = app.data.scorer or None if app.data else None
        self.settings["embedder"] = app.data.embedder or None if app.data else None
        if self.draw_ids:
            if not self.push_when_ready:
                set_text(
                    self.query_one("#batch-title", Static),
                    Text.assemble("loading ", safe_text(self.problem_id), "…"),
                )
            self.load(draw_id=self.draw_ids[0], label="stored draw")
        else:
            self.show_window()
            set_text(self.query_one("#picks", Static), "")
            set_text(self.query_one("#batch-title", Static), "no draws pass the filters; press d")

    async def on_resize(self, event: Any) -> None:
        """A wider or narrower terminal gets more or fewer column slots."""
        want = self.slot_count()
        cols = self.query_one("#columns", Horizontal)
        if want != len(self.columns()):
            await cols.remove_children()
            await cols.mount_all([SolutionColumn(i) for i in range(want)])
            self.show_window()

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
        app = app_of(self)
        try:
            with app.db.reading() as cur:
                seed = None
                if fresh is not None:
                    seed = next(_fresh_seed)
                    sample_ids = eb.fresh_sample_ids(
                        cur, self.run_id, self.problem_id, self.temperature, fresh, seed
                    )
                view = eb.batch_view(
                    cur,
                    draw_id=draw_id,
                    sample_ids=sample_ids,
                    scorer=self.settings["scorer"],
                    embedder=self.settings["embedder"],
                    weighted=self.settings["weighted"],
                )
            where = (self.run_id, self.problem_id, self.temperature)
            context = state.batch_context(app.loaded(), view, where, self.filters)
            detail: ShownBatch = {**view, "fresh_seed": seed, "context": context}
            if not get_current_worker().is_cancelled:
                self.post_message(BatchReady(detail, label))
        except ValueError as e:
            self.post_message(WorkFailed(f"batch: {e}"))
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(WorkFailed(f"batch: {type(e).__name__}: {e}"))

    def on_batch_ready(self, msg: BatchReady) -> None:
        """Show the new batch from its first member, in the existing column slots."""
        self.detail = msg.detail
        self.label = msg.label
        members = msg.detail["members"]
        self.sample_ids = [int(m["sample_id"]) for m in members]
        self.draw_id = (msg.detail.get("info") or {}).get("draw_id")
        if self.draw_id is not None:
            self.seed = (msg.detail.get("info") or {}).get("seed")
        elif msg.detail.get("fresh_seed") is not None:
            self.seed = msg.detail["fresh_seed"]
        self.picked = {}
        for p in msg.detail["picks"]:
            if p.get("sample_id") is not None:
                self.picked.setdefault(int(p["sample_id"]), []).append(str(p["aggregator"]))
        self.first, self.focus_pos, self.marked = 0, 0, set()
        with self.app.batch_update():
            self.show_window()
            set_text(
                self.query_one("#picks", Static),
                picks_text(msg.detail["picks"], members, msg.label),
            )
        if self.push_when_ready:
            self.push_when_ready = False
            self.call_after_refresh(self.app.push_screen, self)

    def title_text(self) -> Text:
        """The header: where the batch is from, the gold answer, the batch's metrics with
        their percentiles, the filter terms it meets, and the question (last: it may be cut)."""
        members = self.detail["members"]
        info = self.detail.get("info") or {}
        ctx = self.detail.get("context") or {}
        t = Text()
        t.append_text(safe_text(self.problem_id, style="bold"))
        t.append("  run ")
        t.append_text(safe_text(self.run_id))
        t.append(f"  T={self.temperature:g}  k={len(members)}")
        if info.get("draw_id") is not None and self.draw_ids:
            t.append(f"  rep {info.get('rep')}  draw {self.pos + 1}/{len(self.draw_ids)}")
        t.append("  ")
        t.append_text(safe_text(self.label, style="italic"))
        if members:
            last = min(len(members), self.first + len(self.columns()))
            t.append(f"  #{self.first}–#{last - 1} of {len(members)} ←/→", style="dim")
        t.append("\ngold ", style="bold")
        gold = ctx.get("gold_answer")
        t.append_text(safe_text("∅" if gold is None else gold, style="bold green"))
        for m in ctx.get("metrics", []):
            t.append(f"  {m['metric']} {m['value']:.3g}")
            if m["pct"] == m["pct"]:
                t.append(f" p{m['pct']:.0f}", style="cyan")
        note = (
            f"  (p: percentile among the run's {ctx.get('reference', 0)} draws of k={len(members)})"
        )
        room = self.app.size.width - 2 - len(t.plain.rsplit("\n", 1)[-1])
        if ctx.get("metrics") and len(note) <= room:
            t.append(note, style="dim")
        if ctx.get("terms"):
            t.append("\nfilters ", style="bold")
            t.append_text(safe_text(eb.describe_terms(ctx["terms"])))
        t.append("\nQ: ", style="bold")
        question = ctx.get("question") or info.get("question") or self._question()
        t.append_text(safe_text(question))
        return t

    def show_window(self) -> None:
        """Fill the column slots with members first.. and hide the slots past the last one."""
        members = self.detail["members"]
        for slot, col in enumerate(self.columns()):
            pos = self.first + slot
            if pos < len(members):
                m = members[pos]
                col.display = True
                col.show(pos, m, self.picked.get(int(m["sample_id"]), []), pos in self.marked)
            else:
                col.display = False
            col.set_class(pos == self.focus_pos, "-current")
        if members or self.draw_ids:
            set_text(self.query_one("#batch-title", Static), self.title_text())

    def current_batch(self) -> state.CurrentBatch:
        """The batch on screen, for screens opened from it (pruning, remote reruns)."""
        ids = list(self.sample_ids or [])
        return {
            "run_id": self.run_id,
            "problem_id": self.problem_id,
            "temperature": self.temperature,
            "k": len(ids),
            "draw_id": self.draw_id,
            "seed": self.seed,
            "sample_ids": ids,
            "scorer": self.detail.get("scorer") or None,
            "embedder": self.detail.get("embedder") or None,
        }

    def _question(self) -> str:
        """The problem's question from the app's cached pools."""
        app = app_of(self)
        pools = app.loaded().pools
        for i, pid in enumerate(pools["problem_id"]):
            if pid == self.problem_id:
                return str(pools["question"][i])
        return ""

    def columns(self) -> list[SolutionColumn]:
        """The column slots, left to right (visible or not)."""
        return list(self.query(SolutionColumn))

    def focused_column(self) -> SolutionColumn | None:
        """The slot showing the focused member."""
        cols = self.columns()
        slot = self.focus_pos - self.first
        return cols[slot] if 0 <= slot < len(cols) and cols[slot].display else None

    def on_solution_column_clicked(self, msg: SolutionColumn.Clicked) -> None:
        """A click on a column makes its member the current one."""
        pos = self.first + msg.slot
        if pos < len(self.detail["members"]):
            self.focus_pos = pos
            self.show_window()

    def action_scroll_column(self, how: str) -> None:
        """Scroll the current column's text (up, down, page_up, page_down, home, end), or
        every column on screen when scrolling together."""
        if self.together:
            cols = [c for c in self.columns() if c.display]
        else:
            col = self.focused_column()
            cols = [] if col is None else [col]
        for col in cols:
            scroll = col.query_one(SolutionText)
            getattr(scroll, f"scroll_{how}")(animate=False)

    def action_toggle_together(self) -> None:
        """s: scroll all columns together (or only the current one again)."""
        self.together = not self.together
        if self.together:
            top = [
                c.query_one(SolutionText).scroll_y
                for c in self.columns()
                if c.display and c.pos == self.focus_pos
            ]
            for c in self.columns():
                if c.display and top:
                    c.query_one(SolutionText).scroll_to(y=top[0], animate=False)
        self.notify(
            "scrolling all columns together" if self.together else "scrolling one column",
            markup=False,
        )

    def action_step(self, delta: int) -> None:
        """Show the next or previous draw of this problem."""
        if not self.draw_ids:
            return
        self.pos = (self.pos + delta) % len(self.draw_ids)
        self.load(draw_id=self.draw_ids[self.pos], label="stored draw")

    def action_move(self, delta: int) -> None:
        """Focus the member to the left or right, sliding the window of columns when needed."""
        members = self.detail["members"]
        cols = self.columns()
        if not members or not cols:
            return
        self.focus_pos = max(0, min(len(members) - 1, self.focus_pos + delta))
        self.first = min(max(self.first, self.focus_pos - len(cols) + 1), self.focus_pos)
        with self.app.batch_update():
            self.show_window()

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
        app = app_of(self)
        opts = app.loaded().options

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
        members = self.detail["members"]
        if members:
            m = members[self.focus_pos]
            self.app.push_screen(
                ViewerScreen(self.viewer_head(self.focus_pos, m), safe_text(m.get("text")))
            )

    def viewer_head(self, pos: int, m: dict[str, Any]) -> Text:
        """The full-screen viewer's header: the batch's context, then this sample's figures."""
        t = self.title_text()
        t.append("\n")
        t.append_text(member_title(pos, m))
        t.append(
            f"  reward {fmt_num(m.get('reward'))}  mean log-prob {fmt_num(m.get('mean_logprob'))}"
        )
        t.append(f"  sum log-prob {fmt_num(m.get('sum_logprob'), '.2f')}")
        t.append(f"  tokens {m.get('n_tokens') if m.get('n_tokens') is not None else '-'}")
        if m.get("finish_reason"):
            t.append("  finish ")
            t.append_text(safe_text(m.get("finish_reason")))
        return t

    def action_mark(self) -> None:
        """Mark (or unmark) the focused solution for comparison."""
        if not self.detail["members"]:
            return
        self.marked ^= {self.focus_pos}
        self.show_window()

    def action_compare(self) -> None:
        """Compare the marked solution with the focused one (or the first two marked)."""
        members = self.detail["members"]
        marked = sorted(self.marked)
        pair = marked[:2] if len(marked) >= 2 else [*marked, self.focus_pos] if marked else [0, 1]
        if len(members) < 2 or pair[0] == pair[1]:
            self.notify("mark a solution with m, focus another, then press c", markup=False)
            return
        a, b = pair
        ma, mb = members[a], members[b]
        self.app.push_screen(
            CompareScreen(
                (member_title(a, ma), str(ma.get("text") or "")),
                (member_title(b, mb), str(mb.get("text") or "")),
            )
        )

    def batch_rows(self) -> list[dict[str, Any]]:
        """The batch as rows: one per member, each with the batch's problem, draw (None for a
        fresh batch), run, T, k, gold answer and question, and the aggregators that picked it."""
        picked: dict[int, list[str]] = {}
        for p in self.detail["picks"]:
            if p.get("sample_id") is not None:
                picked.setdefault(int(p["sample_id"]), []).append(str(p["aggregator"]))
        ctx = self.detail.get("context") or {}
        where = {
            "problem_id": self.problem_id,
            "draw_id": self.draw_id,
            "run_id": self.run_id,
            "temperature": self.temperature,
            "k": len(self.detail["members"]),
            "gold_answer": ctx.get("gold_answer"),
            "question": ctx.get("question"),
        }
        rows = []
        for i, m in enumerate(self.detail["members"]):
            row = {**where, "position": i, **{f: m.get(f) for f in eb.MEMBER_FIELDS}}
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
