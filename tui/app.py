"""The divtui Textual app: one read-only database hold, cached data, screens and workers."""

from __future__ import annotations

import gc
from typing import Any

from textual import work
from textual.app import App
from textual.screen import Screen

from divtui.settings import config_path
from divtui.store.terminal import one_line

from . import keys, state
from .access import DbAccess
from .commands import DivCommands
from .messages import DataLoaded, Exported, WorkFailed
from .screens import jobs
from .screens.batch import BatchScreen
from .screens.modals import HelpScreen
from .screens.overview import OverviewScreen
from .screens.problems import ProblemsScreen
from .state import CurrentBatch, CurrentPool
from .widgets.problem_table import ProblemTable


class DivApp(App[None]):
    """Browse a divtui database: overview, problems, batch view."""

    CSS_PATH = "app.tcss"
    TITLE = "divtui"
    BINDINGS = keys.bindings("app")
    MODES = {"overview": OverviewScreen, "problems": ProblemsScreen, "jobs": jobs.JobsScreen}
    DEFAULT_MODE = "overview"
    COMMANDS = App.COMMANDS | {DivCommands}

    def __init__(
        self, db: DbAccess | Any, label: str, keymap: dict[str, str] | None = None
    ) -> None:
        """Browse ``db`` (a DbAccess, or an open connection used as it is); ``label`` names
        the file in the header, whose subtitle is the status line."""
        super().__init__()
        self.db = db if isinstance(db, DbAccess) else DbAccess.wrap(db)
        self.label = label
        self.db_note = ""
        self.previous_mode = "overview"
        self.show_status()
        self.keymap = dict(keymap or {})
        self.data: state.BrowseData | None = None
        self.data_listeners: list[Any] = []
        self.job_live: dict[str, dict[str, Any]] = {}

    def on_mount(self) -> None:
        """Apply the remapped keys and start loading the draw frame."""
        self.set_keymap(self.keymap)
        self.load_data()

    def loaded(self) -> state.BrowseData:
        """The browse data loaded by :meth:`load_data`; raises when it is not loaded yet
        (screens read it once told it is ready)."""
        if self.data is None:
            raise RuntimeError("the database is still loading")
        return self.data

    @property
    def con(self) -> Any:
        """The current read connection (one-off reads; workers use ``db.reading()``)."""
        return self.db.con

    def show_status(self, note: str | None = None) -> None:
        """The header's subtitle: how the file is held, the file, and a note (a blocked
        write); the state first, so a long path cut at the edge never hides it."""
        if note is not None:
            self.db_note = note
        parts = [self.db.mode(), self.label]
        if self.db_note:
            parts.append(self.db_note)
        self.sub_title = one_line(" · ".join(parts))

    @work(thread=True, exclusive=True, group="data", exit_on_error=False)
    def load_data(self, scorer: str | None = None, embedder: str | None = None) -> None:
        """Load options, pools and the draw frame (thread)."""
        try:
            with self.db.reading() as cur:
                data = state.load(cur, scorer, embedder)
            self.call_from_thread(setattr, self, "data", data)
            self.post_message(DataLoaded())
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(DataLoaded(error=f"{type(e).__name__}: {e}"))
            return
        try:
            with self.db.reading() as cur:
                state.warm_batch_view(cur, data)
        except Exception:  # noqa: BLE001, S110 - a warm-up only: opening a batch reports errors
            pass

    def notify(self, message: str, *, title: str = "", **kwargs: Any) -> None:
        """Every notification as inert one-line text: no markup, escapes and bidi made visible."""
        kwargs["markup"] = False
        super().notify(one_line(message), title=one_line(title), **kwargs)

    def on_data_loaded(self, msg: DataLoaded) -> None:
        """Tell the screens that wait for data."""
        if msg.error:
            self.notify(f"loading failed: {msg.error}", severity="error", markup=False)
            return
        self.freeze_heap()
        for screen in self.data_listeners:
            if screen.is_mounted:
                screen.data_ready()

    def freeze_heap(self) -> None:
        """Exempt what is alive now (the loaded study, a report) from the cyclic garbage
        collector: it lives as long as the app, and rescanning it in every full collection
        paused interactions by up to 100 ms (bench.tui counted 15 such pauses)."""
        gc.freeze()

    def on_work_failed(self, msg: WorkFailed) -> None:
        """Show a worker's failure as one line."""
        self.notify(msg.text, severity="error", markup=False, timeout=8)

    def on_exported(self, msg: Exported) -> None:
        """Confirm an export."""
        self.notify(f"wrote {msg.rows} rows to {msg.path}", markup=False)

    def action_goto(self, mode: str) -> None:
        """F2/F3/F4: show that screen itself, whatever was opened over it before; the other
        screens keep their state (filters, the batch view's pool)."""
        if self.current_mode != mode:
            self.previous_mode = self.current_mode
            self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_go_back(self) -> None:
        """Esc on a screen at the bottom of its stack: back to the screen shown before it."""
        back = self.previous_mode if self.previous_mode != self.current_mode else "overview"
        self.action_goto(back)

    def action_help(self) -> None:
        """F1: help for the screen on top."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, self.keymap))

    def action_cancel_work(self) -> None:
        """Cancel every running worker (threads stop at their next check)."""
        n = sum(1 for w in self.workers if w.is_running)
        self.workers.cancel_all()
        for screen in self.screen_stack:
            for table in screen.query("DataTable, ProblemTable"):
                table.loading = False
        self.notify(f"cancelled {n} running task(s)", markup=False)

    def current_batch(self, screen: Screen[Any] | None = None) -> CurrentBatch | None:
        """The batch on ``screen`` (default: the one on top), as BatchScreen.current_batch
        gives it; None when it shows no batch (only the batch view does)."""
        screen = self.screen if screen is None else screen
        return screen.current_batch() if isinstance(screen, BatchScreen) else None

    def current_pool(self, screen: Screen[Any] | None = None) -> CurrentPool | None:
        """The pool (run, problem, temperature) of the batch or highlighted problem on ``screen``."""
        screen = self.screen if screen is None else screen
        batch = self.current_batch(screen)
        if batch is not None:
            return {
                "run_id": batch["run_id"],
                "problem_id": batch["problem_id"],
                "temperature": batch["temperature"],
            }
        if not isinstance(screen, ProblemsScreen) or self.data is None:
            return None
        table = screen.query_one("#problems", ProblemTable)
        if not table.row_count:
            return None
        pool = int(table.row_key(table.cursor_row))
        p = self.data.pools
        return {
            "run_id": str(p["run_id"][pool]),
            "problem_id": str(p["problem_id"][pool]),
            "temperature": float(p["temperature"][pool]),
        }

    def action_open_prune(self) -> None:
        """k in the batch view: the pruning screen of the batch shown (stored or fresh)."""
        from .screens.prune import PruneScreen

        batch = self.current_batch()
        if batch is None or not batch.get("sample_ids"):
            self.notify("pruning works on a batch: open one in the batch view", markup=False)
            return
        draw_id = batch.get("draw_id")
        self.push_screen(
            PruneScreen(
                None if draw_id is None else int(draw_id),
                batch["scorer"],
                batch["embedder"],
                batch=batch,
            )
        )

    def action_open_rerun(self) -> None:
        """R on a problem or batch: the remote rerun dialog for its problem."""
        from pathlib import Path

        from .screens.rerun import RemoteRerunScreen, known_hosts, prefill_model

        pool = self.current_pool()
        if pool is None:
            self.notify("select a problem first", markup=False)
            return
        ssh_config = Path.home() / ".ssh" / "config"
        hosts, problem = known_hosts(ssh_config, config_path())
        model, hint = prefill_model(self.run_settings(pool["run_id"]))
        dialog = RemoteRerunScreen(
            [pool["problem_id"]],
            hosts=hosts,
            run_id=pool["run_id"],
            temperature=pool["temperature"],
            model=model,
            model_hint=hint,
            host_problem=problem,
            where=f"{ssh_config} or a [hosts.NAME] table to {config_path()}",
        )

        def done(req: dict[str, Any] | None) -> None:
            if req is not None:
                self.submit_job(req)

        self.push_screen(dialog, done)

    def run_settings(self, run_id: str) -> dict[str, Any]:
        """A run's model and source (to prefill the rerun dialog): one keyed row, read now."""
        from divtui.store import jobs as ujq

        with self.db.reading() as cur:
            return ujq.run_settings(cur, run_id)

    def action_open_compare(self) -> None:
        """c on the overview: pick two runs, then compare their pass@k curves and pools."""
        from .screens.compare import open_compare

        open_compare(self)

    def action_open_jobs(self) -> None:
        """F4: the jobs screen."""
        self.action_goto("jobs")

    @work(exclusive=False, group="jobs", exit_on_error=False)
    async def submit_job(self, req: dict[str, Any]) -> None:
        """Start a remote job (async, in the event loop), then follow it to its ingest."""
        job_id = await jobs.submit(self, req)
        if job_id is not None:
            self.notify(f"job {job_id} started on {req['host']} (F4: jobs)", markup=False)
            await jobs.follow(self, job_id)

    @work(exclusive=False, group="jobs", exit_on_error=False)
    async def follow_job(self, job_id: str) -> None:
        """Follow, fetch and ingest one job (async; reconnects after drops)."""
        await jobs.follow(self, job_id)

    @work(exclusive=False, group="jobs", exit_on_error=False)
    async def cancel_job(self, job_id: str) -> None:
        """Cancel one job on its host."""
        await jobs.cancel(self, job_id)

    def on_job_updated(self, msg: jobs.JobUpdated) -> None:
        """Refresh the jobs screen's row of that job."""
        for screen in self.screen_stack:
            if isinstance(screen, jobs.JobsScreen) and screen.is_mounted:
                screen.job_updated(msg.job_id)

    def on_job_ingested(self, msg: jobs.JobIngested) -> None:
        """Say what came in and reload the browser's data so the new pools show."""
        parts = ", ".join(f"{n} {t}" for t, n in msg.added.items() if n)
        self.notify(f"job {msg.job_id} ingested ({parts or 'nothing new'})", markup=False)
        self.load_data()


def run_app(path: str, db: DbAccess | None = None) -> None:
    """Run the app on ``path`` until the user quits: opened read-only (or the given ``db``)."""
    keymap = keys.load_keymap(config_path())
    own = db is None
    db = db if db is not None else DbAccess(path)
    try:
        DivApp(db, str(path), keymap).run()
    finally:
        if own:
            db.close()
