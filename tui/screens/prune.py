"""The pruning screen: a draw cut to m medoids in a metric space, against m random members.

Keys change m, the space and the weighting; every change reruns ``engine.prune.prune_draw`` in a
thread worker (exclusive, so a newer request supersedes an older one) and the screen never waits
on it. Beside the members and picks, the accuracy-vs-m curve of this problem: the stored
``prune_outcomes`` rows of the pool's draws of this size when ``divtui prune`` has run, else
computed for this one draw across every m (the screen says which).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from divtui.engine import batch_detail as ei
from divtui.engine import prune as ep
from divtui.store import pruning as upq
from divtui.store.vocabulary import COVERAGE, MAJ, OUTCOMES

from .. import keys
from ..app_of import app_of
from ..state import CurrentBatch
from ..widgets.key_bar import KeyBar
from ..widgets.safe_text import one_line, safe_text

STORED = "stored"
COMPUTED = "computed"
COMPUTED_NO_WEIGHTED = "computed: stored rows lack this weighting"


@dataclass
class MembersReady(Message):
    """The draw's members, its pool key and the spaces available for it (or an error)."""

    detail: dict[str, Any] | None
    metrics: list[str]
    unavailable: dict[str, str]
    error: str | None = None


@dataclass
class PruneReady(Message):
    """One pruning result of ``engine.prune.prune_draw`` (or the one-line reason it failed)."""

    request: tuple[str, int, bool]
    result: dict[str, Any] | None
    error: str | None = None


@dataclass
class CurveReady(Message):
    """Accuracy-vs-m rows (selector, m, aggregator, accuracy, n_draws) and where they came from."""

    key: tuple[str, bool]
    rows: list[dict[str, Any]]
    source: str
    draws: int


def mark(correct: Any) -> tuple[str, str]:
    """The correct mark and its style."""
    return {True: ("✓", "bold green"), False: ("✗", "bold red")}.get(correct, ("?", ""))


def clusters_text(members: list[dict[str, Any]], result: dict[str, Any], width: int = 80) -> Text:
    """Members grouped by cluster: each medoid highlighted, then the members it represents.

    Every line: batch position, idx, correct mark, answer, [r] when the random subset keeps it,
    the aggregators whose pruned pick it is, and the start of its text, cut to fill ``width``
    cells.
    """
    random = set(result["random"])
    picked: dict[int, list[str]] = {}
    for agg, p in result["picks"]["medoids"].items():
        if p["position"] >= 0 and agg != COVERAGE:
            picked.setdefault(p["position"], []).append(agg)
    t = Text()
    for med, size in zip(result["medoids"], result["sizes"], strict=True):
        t.append(f"cluster of #{med}  ({size} member{'s' if size != 1 else ''})\n", style="bold")
        rest = [i for i, lab in enumerate(result["labels"]) if lab == med and i != med]
        for i in [med, *rest]:
            m = members[i]
            head = Text("★ " if i == med else "  ", style="bold yellow" if i == med else "")
            head.append(f"#{i:<2} idx {m.get('idx')} ")
            head.append(*mark(m.get("correct")))
            head.append(" ")
            head.append_text(safe_text(m.get("answer") if m.get("answer") is not None else "∅"))
            head.append(" [r]" if i in random else "    ", style="magenta")
            if i in picked:
                head.append(" ← " + " ".join(picked[i]), style="cyan")
            head.append("  ")
            room = width - head.cell_len
            if room >= 8:
                head.append_text(one_line(m.get("text"), room))
            head.truncate(width, overflow="ellipsis")
            if i == med:
                head.stylize("reverse")
            t.append_text(head)
            t.append("\n")
    return t


def picks_table(result: dict[str, Any]) -> Text:
    """Each aggregator's pick on the medoids and on the random subset of the same size."""
    m = result["m"]
    t = Text()
    t.append(f"{'':<9}{'medoids':<16}random\n", style="bold")
    med, rnd = result["picks"]["medoids"], result["picks"]["random"]
    for agg in [a for a in OUTCOMES if a in med or a in rnd]:
        t.append(f"{agg:<9}", style="bold")
        for side in (med, rnd):
            p = side.get(agg)
            cell = Text()
            if p is None:
                cell.append("-")
            else:
                cell.append(*mark(p["correct"]))
                if agg != COVERAGE and p["position"] >= 0:
                    cell.append(f" #{p['position']} ")
                    cell.append_text(one_line(p["answer"] if p["answer"] is not None else "∅", 8))
            cell.truncate(15, pad=True)
            t.append_text(cell)
            t.append(" ")
        t.append("\n")
    t.append(f"\nmedoids: {' '.join(f'#{i}' for i in result['medoids'])}\n")
    t.append(f"random ({m}): {' '.join(f'#{i}' for i in result['random'])}\n", style="magenta")
    return t


def curve_from_draw(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Curve rows from one draw's prune_draw results across m: each pick's 0/1 correctness."""
    rows = []
    for r in results:
        for selector in ("medoids", "random"):
            for agg, p in r["picks"][selector].items():
                rows.append(
                    {
                        "selector": selector,
                        "m": r["m"],
                        "aggregator": agg,
                        "accuracy": float(bool(p["correct"])),
                        "n_draws": 1,
                    }
                )
    return rows


class CurvePlot(PlotextPlot):
    """Accuracy of one aggregator against m, medoids (o) and random (x); the legend is the line
    under the plot, so it never covers the curve (m moves redraw nothing here)."""

    def __init__(self, **kwargs: Any) -> None:
        """Empty until rows arrive."""
        super().__init__(**kwargs)
        self.rows: list[dict[str, Any]] = []
        self.aggregator = MAJ
        self.label = ""

    def on_mount(self) -> None:
        """Fixed theme so snapshots do not depend on the terminal."""
        self.plt.theme("clear")

    def show(self, rows: list[dict[str, Any]], aggregator: str, label: str) -> None:
        """Plot ``aggregator``'s rows and redraw."""
        self.rows, self.aggregator, self.label = rows, aggregator, label
        self.refresh()

    def series(self) -> dict[str, tuple[list[int], list[float]]]:
        """(m values, accuracies) per selector for the plotted aggregator."""
        out: dict[str, tuple[list[int], list[float]]] = {}
        for r in sorted(self.rows, key=lambda r: (r["selector"], r["m"])):
            if r["aggregator"] == self.aggregator:
                xs, ys = out.setdefault(str(r["selector"]), ([], []))
                xs.append(int(r["m"]))
                ys.append(float(r["accuracy"]))
        return out

    def render(self) -> Any:
        """Declare the plot (plotext redraws it at the widget's size)."""
        plt = self.plt
        plt.clear_data()
        plt.title(f"{self.aggregator} accuracy vs m ({self.label})")
        plt.xlabel("m")
        plt.ylim(-0.05, 1.05)
        series = self.series()
        for (_name, (xs, ys)), marker in zip(sorted(series.items()), "ox", strict=False):
            plt.plot(xs, ys, marker=marker)
        ms: list[float] = sorted({x for xs, _ in series.values() for x in xs})
        if ms:
            plt.xticks(ms, [str(x) for x in ms])
        return super().render()


class PruneScreen(Screen[None]):
    """One stored draw pruned live: medoids and clusters, picks on pruned vs random, the curve."""

    BINDINGS = keys.bindings("prune")
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    HELP = (
        "The draw of size N cut to m medoids (PAM on the draw's distance matrix) in a metric "
        "space: sbert = 1 - cosine of the SBERT embeddings, bleu = 1 - symmetric sentence-BLEU, "
        "orm = 1 - cosine of the reward model's hidden states. Left: the clusters, each headed by "
        "its medoid (★, highlighted), every member under its nearest medoid; [r] marks the random "
        "subset of the same size; ← names the aggregators whose pick (on the medoids) it is. "
        "Right: each aggregator's pick on the medoids and on the random subset (✓/✗, batch "
        "position #, answer), and this problem's accuracy-vs-m curve for one aggregator (a "
        "cycles it): from the stored `divtui prune` rows of this pool's draws of size N when "
        "there are any, else computed for this one draw (0/1 per m). With weighted on, each "
        "medoid counts for its cluster's size. Every update runs in a worker."
    )

    def __init__(
        self,
        draw_id: int | None,
        scorer: str | None = None,
        embedder: str | None = None,
        batch: CurrentBatch | None = None,
    ):
        """Prune stored draw ``draw_id``, or (``draw_id`` None) the fresh ``batch`` of the batch
        view (sample_ids, run_id, problem_id, temperature, seed), with the app's scorer and
        (non-ORM) embedder."""
        super().__init__()
        self.draw_id = None if draw_id is None else int(draw_id)
        self.fresh_batch = batch
        self.scorer = scorer or None
        self.embedder = embedder if embedder and not embedder.startswith(ep.ORM_PREFIX) else None
        self.members: list[dict[str, Any]] = []
        self.draw: dict[str, Any] = {}
        self.metrics: list[str] = []
        self.unavailable: dict[str, str] = {}
        self.metric = ""
        self.m = 0
        self.weighted = False
        self.aggregator = MAJ
        self.result: dict[str, Any] | None = None
        self.curves: dict[tuple[str, bool], tuple[list[dict[str, Any]], str, int]] = {}
        self.plotted: tuple[str, bool] | None = None

    def compose(self) -> ComposeResult:
        """Title, clusters on the left, picks and curve on the right."""
        yield Header()
        yield Static("loading…", id="prune-title")
        with Horizontal(id="prune-body"):
            with VerticalScroll(id="prune-clusters"):
                yield Static("", id="prune-members")
            with Vertical(id="prune-side"):
                yield Static("", id="prune-picks")
                yield CurvePlot(id="prune-curve")
                yield Static("", id="prune-curve-source")
        yield KeyBar()

    def on_mount(self) -> None:
        """Load the members and the available spaces."""
        self.load_members()

    def draw_row(self) -> dict[str, Any]:
        """The batch as engine.prune.prune_members takes it (a fresh batch: rep 0 of its seed)."""
        b: dict[str, Any] = dict(self.fresh_batch or {})
        return {
            "draw_id": None,
            "sample_ids": list(b.get("sample_ids") or []),
            "run_id": b.get("run_id"),
            "problem_id": b.get("problem_id"),
            "temperature": float(b.get("temperature") or 0.0),
            "k": len(b.get("sample_ids") or []),
            "seed": int(b.get("seed") or 0),
            "rep": 0,
        }

    def prune(self, cur: Any, metric: str, m: int, weighted: bool) -> dict[str, Any]:
        """engine.prune on the stored draw or on the fresh batch."""
        sc, emb = self.scorer, self.embedder
        if self.draw_id is None:
            row = self.draw_row()
            return ep.prune_members(
                cur, row, metric=metric, m=m, weighted=weighted, scorer=sc, embedder=emb
            )
        return ep.prune_draw(
            cur, self.draw_id, metric=metric, m=m, weighted=weighted, scorer=sc, embedder=emb
        )

    @work(thread=True, exclusive=True, group="prune-members", exit_on_error=False)
    def load_members(self) -> None:
        """The draw's members and which spaces its file holds (thread)."""
        app = app_of(self)
        try:
            with app.db.reading() as cur:
                if self.draw_id is not None:
                    detail = ei.draw_detail(
                        cur, self.draw_id, scorer=self.scorer, embedder=self.embedder
                    )
                else:
                    row = self.draw_row()
                    detail = ei.samples_detail(
                        cur, row["sample_ids"], scorer=self.scorer, embedder=self.embedder
                    )
                    detail["draw"] = row
                spaces = ep.resolve_spaces(
                    cur, list(ep.SPACES), scorer=self.scorer, embedder=self.embedder
                )
            self.post_message(MembersReady(detail, spaces.metrics, spaces.unavailable))
        except (ValueError, ep.PruneError) as e:
            self.post_message(MembersReady(None, [], {}, error=str(e)))
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(MembersReady(None, [], {}, error=f"{type(e).__name__}: {e}"))

    def on_members_ready(self, msg: MembersReady) -> None:
        """Pick the first available space and m = N/2, then prune."""
        if msg.error or msg.detail is None:
            self.show_title(f"error: {msg.error}")
            return
        self.members = msg.detail["members"]
        self.draw = msg.detail["draw"]
        self.metrics, self.unavailable = msg.metrics, msg.unavailable
        if not self.metrics:
            self.show_title("no metric space is available for this draw")
            return
        self.metric = self.metrics[0]
        self.m = max(1, len(self.members) // 2)
        self.request()

    def show_title(self, note: str = "") -> None:
        """The title line: problem, pool, N, space, m, weighting, and a status note."""
        d = self.draw
        t = Text()
        t.append_text(safe_text(d.get("problem_id", ""), style="bold"))
        if d:
            t.append(f"  T={float(d['temperature']):g}  N={len(self.members)}")
            t.append(f"  rep {d.get('rep')}" if self.draw_id is not None else "  fresh draw")
        if self.metric:
            t.append(f"  metric {self.metric}", style="bold cyan")
            t.append(f"  m={self.m}", style="bold cyan")
            t.append(f"  weighted {'on' if self.weighted else 'off'}")
        if self.unavailable:
            t.append(f"  (unavailable: {', '.join(sorted(self.unavailable))})", style="dim")
        if note:
            t.append("  ")
            t.append_text(safe_text(note, style="italic"))
        self.query_one("#prune-title", Static).update(t)

    def request(self) -> None:
        """Ask the workers for the current settings' pruning and curve."""
        self.show_title("computing…")
        self.compute(self.metric, self.m, self.weighted)
        key = (self.metric, self.weighted)
        if key == self.plotted:
            return
        if key in self.curves:
            self.draw_curve()
        else:
            self.compute_curve(self.metric, self.weighted)

    @work(thread=True, exclusive=True, group="prune", exit_on_error=False)
    def compute(self, metric: str, m: int, weighted: bool) -> None:
        """Prune the draw (thread); a result superseded by a newer request is dropped."""
        app = app_of(self)
        req = (metric, m, weighted)
        try:
            with app.db.reading() as cur:
                res = self.prune(cur, metric, m, weighted)
            if not get_current_worker().is_cancelled:
                self.post_message(PruneReady(req, res))
        except ep.PruneError as e:
            self.post_message(PruneReady(req, None, str(e)))
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(PruneReady(req, None, f"{type(e).__name__}: {e}"))

    def on_prune_ready(self, msg: PruneReady) -> None:
        """Show the clusters and picks of the latest request."""
        if msg.request != (self.metric, self.m, self.weighted):
            return
        if msg.error or msg.result is None:
            self.show_title(f"error: {msg.error}")
            return
        self.result = msg.result
        self.show_members()
        self.query_one("#prune-picks", Static).update(picks_table(msg.result))
        self.show_title()

    def show_members(self) -> None:
        """The clusters, previews cut to the pane's width."""
        if self.result is not None:
            width = self.query_one("#prune-clusters").content_size.width
            self.query_one("#prune-members", Static).update(
                clusters_text(self.members, self.result, width or 80)
            )

    def on_resize(self) -> None:
        """A wider or narrower terminal: previews use the new width."""
        self.call_after_refresh(self.show_members)

    @work(thread=True, exclusive=True, group="prune-curve", exit_on_error=False)
    def compute_curve(self, metric: str, weighted: bool) -> None:
        """The curve from stored rows (when they hold medoid rows of this space and weighting),
        else computed for this batch across m (thread)."""
        app = app_of(self)
        worker = get_current_worker()
        d = self.draw
        try:
            with app.db.reading() as cur:
                spaces = ep.resolve_spaces(
                    cur, [metric], scorer=self.scorer, embedder=self.embedder
                )
                rows = upq.problem_prune_curve(
                    cur,
                    run_id=d["run_id"],
                    problem_id=d["problem_id"],
                    temperature=float(d["temperature"]),
                    k=len(self.members),
                    metric=metric,
                    weighted=weighted,
                    embedder=spaces.embedder or "",
                    scorer=spaces.scorer or "",
                )
                if any(r["selector"] == "medoids" for r in rows):
                    draws = max(int(r["n_draws"]) for r in rows)
                    self.post_message(CurveReady((metric, weighted), rows, STORED, draws))
                    return
                results = []
                for m in range(1, len(self.members) + 1):
                    if worker.is_cancelled:
                        return
                    results.append(self.prune(cur, metric, m, weighted))
            source = COMPUTED_NO_WEIGHTED if rows else COMPUTED
            self.post_message(CurveReady((metric, weighted), curve_from_draw(results), source, 1))
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(CurveReady((metric, weighted), [], f"error: {e}", 0))

    def on_curve_ready(self, msg: CurveReady) -> None:
        """Keep the curve and draw it when it belongs to the current settings."""
        self.curves[msg.key] = (msg.rows, msg.source, msg.draws)
        self.draw_curve()

    def draw_curve(self) -> None:
        """Plot the current settings' curve and say where it came from."""
        got = self.curves.get((self.metric, self.weighted))
        plot = self.query_one(CurvePlot)
        src = self.query_one("#prune-curve-source", Static)
        if got is None:
            src.update(Text("curve: computing…", style="italic"))
            self.plotted = None
            return
        rows, source, draws = got
        n = len(self.members)
        weighting = "weighted" if self.weighted else "unweighted"
        if source == STORED:
            label = f"stored, {weighting}"
            note = (
                f"curve: stored `divtui prune` rows ({self.metric}, {weighting}), {draws} "
                f"draws of size {n} of this pool"
            )
        elif source in (COMPUTED, COMPUTED_NO_WEIGHTED):
            label = "this draw"
            flag = " --weighted" if self.weighted else ""
            why = (
                f"the stored rows have no {weighting} {self.metric} medoids"
                if source == COMPUTED_NO_WEIGHTED
                else "no stored rows"
            )
            note = (
                f"curve: computed for this draw across m ({why}; run `divtui prune "
                f"--sizes {n} --metric {self.metric}{flag}` to store them)"
            )
        else:
            label, note = "error", f"curve: {source}"
        plot.show(rows, self.aggregator, label)
        legend = Text("o medoids  x random  ", style="bold")
        legend.append_text(safe_text(note, style="dim"))
        src.update(legend)
        self.plotted = (self.metric, self.weighted)

    def action_change_m(self, delta: int) -> None:
        """m up or down within 1..N."""
        if not self.members:
            return
        m = max(1, min(len(self.members), self.m + delta))
        if m != self.m:
            self.m = m
            self.request()

    def action_next_metric(self) -> None:
        """The next available metric space."""
        if len(self.metrics) > 1:
            self.metric = self.metrics[(self.metrics.index(self.metric) + 1) % len(self.metrics)]
            self.request()
        elif self.unavailable:
            why = "; ".join(f"{k}: {v}" for k, v in sorted(self.unavailable.items()))
            self.notify(f"no other space: {why}", markup=False)

    def action_toggle_weighted(self) -> None:
        """Weight each medoid by its cluster size, or not."""
        if self.metric:
            self.weighted = not self.weighted
            self.request()

    def action_next_aggregator(self) -> None:
        """Plot the next aggregator's curve."""
        self.aggregator = OUTCOMES[(OUTCOMES.index(self.aggregator) + 1) % len(OUTCOMES)]
        self.draw_curve()

    def action_back(self) -> None:
        """Back to the batch view."""
        self.app.pop_screen()
