"""Comparing two runs: pick two (run, temperature) pool sets, see both pass@k curves with their
intervals and the crossing, the problems only one run solves at pass@K, and for any of them the
two pools' answer classes and a batch of each side by side.

Everything is computed by ``engine.run_compare`` in thread workers; the screens only show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Header, Label, Select, Static

from divtui.engine import run_compare as rc

from .. import keys
from ..app_of import app_of
from ..widgets.key_bar import KeyBar
from ..widgets.passk_plot import PassKPlot, curves_from_rows
from ..widgets.safe_text import one_line, plain_cell, safe_text

if TYPE_CHECKING:
    from ..app import DivApp

N_BOOT = 1000


def label(value: Any, width: int = 28) -> str:
    """Database text for a plot label or table cell: one line, every unsafe character (controls,
    bidi and zero-width) written out as an escape, cut to ``width``."""
    return plain_cell(value, width)


def mark(correct: Any) -> tuple[str, str]:
    """The correct mark and its style."""
    return {True: ("✓", "bold green"), False: ("✗", "bold red")}.get(correct, ("?", ""))


def pool_temperature(side: rc.Side) -> float:
    """The temperature of a side picked here (the picker only offers one-temperature sides)."""
    if side.temperature is None:
        raise ValueError(f"side {side.run_id!r} has no temperature: pick one pool set")
    return side.temperature


def side_text(run_id: str, temperature: float) -> Text:
    """``run (T=0.7)`` as safe Text."""
    t = safe_text(label(run_id, 40), style="bold")
    t.append(f" (T={temperature:g})")
    return t


class RunPairScreen(ModalScreen["tuple[rc.Side, rc.Side] | None"]):
    """Choose side A and side B among the file's (run, temperature) pool sets."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, options: list[dict[str, Any]]) -> None:
        """Offer every (run_id, temperature, pools, smallest) of ``options``."""
        super().__init__()
        self.options = options

    def compose(self) -> ComposeResult:
        """Two selects and a button."""
        choices = [
            (
                f"{label(o['run_id'], 40)} @ T={float(o['temperature']):g}  "
                f"({o['pools']} pools, ≥{o['smallest']} graded)",
                i,
            )
            for i, o in enumerate(self.options)
        ]
        with Vertical(classes="dialog", id="pair-dialog"):
            yield Label("Compare two runs on the problems they share")
            yield Select(choices, value=0, allow_blank=False, id="pair-a", prompt="run A")
            yield Select(choices, value=min(1, len(choices) - 1), allow_blank=False, id="pair-b")
            yield Static("", id="pair-error")
            yield Button("Compare", id="pair-go", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Return the two sides (they must differ)."""
        a, b = (self.query_one(f"#pair-{s}", Select).value for s in "ab")
        if not isinstance(a, int) or not isinstance(b, int):
            return  # no blank choice (allow_blank=False): never taken
        if a == b:
            self.query_one("#pair-error", Static).update(Text("pick two different pool sets"))
            return
        oa, ob = self.options[a], self.options[b]
        self.dismiss(
            (
                rc.Side(str(oa["run_id"]), float(oa["temperature"])),
                rc.Side(str(ob["run_id"]), float(ob["temperature"])),
            )
        )

    def action_cancel(self) -> None:
        """Return None."""
        self.dismiss(None)


@dataclass
class ComparisonReady(Message):
    """run_comparison rows and run_problems rows at ``k`` of one pair of pools (or an error)."""

    rows: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    k: int
    error: str | None = None


def comparison_text(rows: list[dict[str, Any]]) -> Text:
    """The k table beside the plot: pass@k of A and B and B - A with its paired interval."""
    t = Text()
    if not rows:
        return t
    g = rows[0]
    cross = g["crossing_k"]
    t.append(f"{'k':>4} {'A':>6} {'B':>6} {'B − A':>7}  paired 95% CI\n", style="bold")
    for r in rows:
        line = Text(
            f"{r['k']:>4} {r['pass_at_k_a']:6.3f} {r['pass_at_k_b']:6.3f} {r['diff']:+7.3f}"
        )
        if r["diff_lo"] is not None:
            line.append(f"  [{r['diff_lo']:+.2f}, {r['diff_hi']:+.2f}]")
        if r["k"] == cross:
            line.append(" ← crossing", style="bold red")
            line.stylize("reverse", 0, 4)
        t.append_text(line)
        t.append("\n")
    t.append(f"\nanswer classes per pool: A {g['classes_a']:.2f}  B {g['classes_b']:.2f}\n")
    t.append(f"largest class share:     A {g['top_share_a']:.2f}  B {g['top_share_b']:.2f}\n")
    if g.get("crossing_share") is not None:
        t.append(f"resamples with a crossing: {g['crossing_share']:.0%}\n", style="dim")
    return t


class RunCompareScreen(Screen[None]):
    """Side A against side B: both pass@k curves, the k table and the one-side-only problems."""

    BINDINGS = keys.bindings("compare")
    AUTO_FOCUS = "#rc-problems"
    HELP = (
        "Two runs (each at one temperature) on the problems both have. Plot: each run's mean "
        "pass@k over those problems against k (unbiased estimator per pool), the 95% bootstrap "
        "interval over problems dotted, and a red line at the first k where B − A changes sign "
        "(the crossing). Right: the k table, B − A with its paired interval (one resample of "
        "problems for both runs), the mean number of answer classes per pool and the share of "
        "the largest class. Below: the problems one run solves at pass@K and the other does "
        "not (solved: pass@K >= 0.5), with each pool's correct count and answers; + and - "
        "change K, Enter (or o) opens the two pools side by side."
    )

    def __init__(self, a: rc.Side, b: rc.Side) -> None:
        """Compare side ``a`` (temperature set) with side ``b``."""
        super().__init__()
        self.a, self.b = a, b
        self.rows: list[dict[str, Any]] = []
        self.problems: list[dict[str, Any]] = []
        self.k: int | None = None

    def compose(self) -> ComposeResult:
        """Title, plot and k table, problem list, footer."""
        yield Header()
        yield Static("comparing…", id="rc-title")
        with Horizontal(id="rc-top"):
            yield PassKPlot(id="rc-plot")
            yield Static("", id="rc-table")
        yield Static("", id="rc-problems-title")
        yield DataTable(id="rc-problems", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        """Start the comparison."""
        self.load(None)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self, k: int | None) -> None:
        """Compare the two sides and list the problems at pass@k (thread)."""
        app = app_of(self)
        with app.db.reading() as cur:
            try:
                paired = rc.pair_pools(
                    cur,
                    self.a.run_id,
                    pool_temperature(self.a),
                    self.b.run_id,
                    pool_temperature(self.b),
                )
                rows = self.rows or rc.compare_pair(cur, paired, n_boot=N_BOOT)
                big_k = paired.k_max if k is None else k
                self.post_message(ComparisonReady(rows, rc.problem_rows(cur, paired, big_k), big_k))
            except rc.CompareError as e:
                self.post_message(ComparisonReady([], [], 0, error=str(e)))
            except Exception as e:  # noqa: BLE001 - shown to the user as one line
                self.post_message(ComparisonReady([], [], 0, error=f"{type(e).__name__}: {e}"))

    def on_comparison_ready(self, msg: ComparisonReady) -> None:
        """Show the curves, the k table and the problems."""
        title = self.query_one("#rc-title", Static)
        if msg.error:
            title.update(safe_text(f"error: {msg.error}"))
            return
        self.rows, self.problems, self.k = msg.rows, msg.problems, msg.k
        g = msg.rows[0]
        t = Text("A ")
        t.append_text(side_text(self.a.run_id, float(g["temperature_a"])))
        t.append("  vs  B ")
        t.append_text(side_text(self.b.run_id, float(g["temperature_b"])))
        t.append(
            f"   {g['n_problems']} shared problems (only A {g['only_a']}, only B {g['only_b']})"
        )
        cross = g["crossing_k"]
        t.append(
            "   no crossing" if cross is None else f"   crossing at k = {cross}",
            style="bold red" if cross is not None else "",
        )
        title.update(t)
        labels = {
            "a": f"A {label(self.a.run_id, 24)}",
            "b": f"B {label(self.b.run_id, 24)}",
        }
        self.query_one(PassKPlot).show(curves_from_rows(msg.rows, labels))
        self.query_one("#rc-table", Static).update(comparison_text(msg.rows))
        self.show_problems()

    def show_problems(self) -> None:
        """Fill the problem list of run_problems at the current K."""
        na = sum(r["solved_by"] == "a" for r in self.problems)
        head = Text(
            f"solved at pass@{self.k} by one run only: {na} by A, {len(self.problems) - na} by B"
            "   (+/- change K, Enter opens both pools)",
            style="bold",
        )
        self.query_one("#rc-problems-title", Static).update(head)
        table = self.query_one("#rc-problems", DataTable)
        table.clear(columns=True)
        table.add_columns(
            "problem", "by", f"pass@{self.k} A", f"pass@{self.k} B", "A c/n", "B c/n",
            "answers A", "answers B",
        )  # fmt: skip
        for i, r in enumerate(self.problems):
            table.add_row(
                safe_text(label(r["problem_id"], 24)),
                r["solved_by"].upper(),
                f"{r['pass_at_k_a']:.3f}",
                f"{r['pass_at_k_b']:.3f}",
                f"{r['c_a']}/{r['n_a']}",
                f"{r['c_b']}/{r['n_b']}",
                safe_text(label(r["answers_a"], 34)),
                safe_text(label(r["answers_b"], 34)),
                key=str(i),
            )

    def ks(self) -> list[int]:
        """The k values of the table (K steps through them)."""
        return [int(r["k"]) for r in self.rows]

    def action_change_k(self, step: int) -> None:
        """K to the next or previous k of the table."""
        ks = self.ks()
        if not ks or self.k is None:
            return
        k = self.k
        at = min(range(len(ks)), key=lambda i: abs(ks[i] - k))
        new = ks[max(0, min(len(ks) - 1, at + step))]
        if new != self.k:
            self.load(new)

    def action_open_problem(self) -> None:
        """The highlighted problem's two pools side by side."""
        table = self.query_one("#rc-problems", DataTable)
        if not self.problems or not table.row_count:
            return
        r = self.problems[table.cursor_row]
        self.app.push_screen(
            PoolsScreen(
                rc.Side(r["run_a"], float(r["temperature_a"])),
                rc.Side(r["run_b"], float(r["temperature_b"])),
                str(r["problem_id"]),
                int(r["k"]),
            )
        )

    @on(DataTable.RowSelected, "#rc-problems")
    def _selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a problem opens it."""
        self.action_open_problem()

    def action_back(self) -> None:
        """Back to where the comparison was opened."""
        self.app.pop_screen()


@dataclass
class PoolsReady(Message):
    """Both pools of one problem with a batch of each (or an error)."""

    problem: dict[str, Any]
    sides: list[dict[str, Any]]
    batches: list[dict[str, Any]]
    error: str | None = None


def classes_block(detail: dict[str, Any]) -> Text:
    """A pool's header and answer classes: count, share bar, correct mark, answer."""
    t = side_text(detail["run_id"], float(detail["temperature"]))
    pk = detail["pass_at_k"]
    t.append(f"\n{detail['c']}/{detail['n']} correct")
    t.append(f", pass@{detail['k']} {pk:.3f}\n" if pk is not None else "\n")
    n = sum(1 for cl in detail["classes"] if cl["answer"] is not None)
    t.append(f"{n} answer class{'' if n == 1 else 'es'}", style="bold")
    t.append(" (and samples with no answer)\n" if n < len(detail["classes"]) else "\n")
    for cl in detail["classes"]:
        t.append(f"{cl['count']:>4} ")
        t.append(*mark(cl["correct"]))
        t.append(" ")
        answer = "(no answer)" if cl["answer"] is None else cl["answer"]
        t.append_text(safe_text(label(answer, 30)))
        t.append("\n")
    return t


def batch_block(batch: dict[str, Any]) -> Text:
    """A batch's label and members: idx, correct mark, answer, then the start of the text."""
    t = safe_text(batch["label"], style="italic")
    t.append("\n")
    for m in batch["members"]:
        t.append(f"\nidx {m['idx']} ", style="bold")
        t.append(*mark(m["correct"]))
        t.append(" ")
        t.append_text(safe_text(label(m["answer"] if m["answer"] is not None else "∅", 24)))
        t.append("\n")
        t.append_text(safe_text(m["text"]))
        t.append("\n")
    return t


class PoolsScreen(Screen[None]):
    """One problem's two pools side by side: answer classes with counts and correct marks, and a
    batch of each (a stored draw of size K, else a fresh random one); n shows the next batches."""

    BINDINGS = keys.bindings("pools")
    HELP = (
        "The problem's pool in run A (left) and run B (right): correct count and pass@K, every "
        "answer class of the pool (graded samples that math-verify judges equal) with its "
        "member count and correct mark, largest first, then one batch of K members: a stored "
        "draw of size K when `divtui draw` made one (n steps through them), else a fresh random "
        "subset of the pool. Model text is shown literally."
    )

    def __init__(self, a: rc.Side, b: rc.Side, problem_id: str, k: int) -> None:
        """Show ``problem_id``'s pools of sides ``a`` and ``b`` with batches of size ``k``."""
        super().__init__()
        self.a, self.b, self.problem_id, self.k = a, b, problem_id, k
        self.index = 0
        self.sides: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        """Title, then two panes of classes above a batch."""
        yield Header()
        yield Static("loading…", id="pp-title")
        with Horizontal(id="pp-body"):
            for s in "ab":
                with Vertical(classes="pp-pane"):
                    yield Static("", id=f"pp-classes-{s}", classes="pp-classes")
                    with VerticalScroll(classes="pp-scroll"):
                        yield Static("", id=f"pp-batch-{s}")
        yield KeyBar()

    def on_mount(self) -> None:
        """Load both pools."""
        self.load(0)

    @work(thread=True, exclusive=True, group="pools", exit_on_error=False)
    def load(self, index: int) -> None:
        """Both pools' classes and their ``index``-th batches (thread)."""
        app = app_of(self)
        with app.db.reading() as cur:
            try:
                sides = self.sides or [
                    rc.pool_detail(cur, s.run_id, pool_temperature(s), self.problem_id, self.k)
                    for s in (self.a, self.b)
                ]
                batches = [rc.pool_batch(cur, d, index) for d in sides]
                info = rc.problem_info(cur, self.problem_id)
                self.post_message(PoolsReady(info, sides, batches))
            except Exception as e:  # noqa: BLE001 - shown to the user as one line
                self.post_message(PoolsReady({}, [], [], error=f"{type(e).__name__}: {e}"))

    def on_pools_ready(self, msg: PoolsReady) -> None:
        """Show the classes and batches."""
        title = self.query_one("#pp-title", Static)
        if msg.error:
            title.update(safe_text(f"error: {msg.error}"))
            return
        self.sides = msg.sides
        t = safe_text(label(self.problem_id, 40), style="bold")
        t.append("  gold ")
        t.append_text(safe_text(label(msg.problem.get("gold_answer"), 24), style="bold green"))
        t.append("\n")
        t.append_text(one_line(msg.problem.get("question"), 160))
        title.update(t)
        for s, detail, batch in zip("ab", msg.sides, msg.batches, strict=True):
            self.query_one(f"#pp-classes-{s}", Static).update(classes_block(detail))
            self.query_one(f"#pp-batch-{s}", Static).update(batch_block(batch))

    def action_next_batch(self) -> None:
        """The next stored draw (or another fresh batch) of both pools."""
        self.index += 1
        self.load(self.index)

    def action_back(self) -> None:
        """Back to the comparison."""
        self.app.pop_screen()


def open_compare(app: DivApp) -> None:
    """Ask for two pool sets, then push the comparison screen (the app's action calls this)."""
    with app.db.reading() as cur:
        options = rc.sides_available(cur)
    if len(options) < 2:
        app.notify("comparing needs two graded runs (or one run at two temperatures)", markup=False)
        return

    def done(pair: tuple[rc.Side, rc.Side] | None) -> None:
        if pair is not None:
            app.push_screen(RunCompareScreen(*pair))

    app.push_screen(RunPairScreen(options), done)
