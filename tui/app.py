"""The divtui Textual app: one database connection, cached data, screens and workers."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import App

from divtui.settings import config_path

from . import keys, state
from .commands import DivCommands
from .messages import DataLoaded, Exported, WorkFailed
from .screens.modals import HelpScreen
from .screens.overview import OverviewScreen
from .screens.problems import ProblemsScreen


class DivApp(App[None]):
    """Browse a divtui database: overview, problems, batch view."""

    CSS_PATH = "app.tcss"
    TITLE = "divtui"
    BINDINGS = keys.bindings("app")
    MODES = {"overview": OverviewScreen, "problems": ProblemsScreen}
    DEFAULT_MODE = "overview"
    COMMANDS = App.COMMANDS | {DivCommands}

    def __init__(self, con: Any, label: str, keymap: dict[str, str] | None = None) -> None:
        """Browse the open connection ``con``; ``label`` names the file in the header."""
        super().__init__()
        self.con = con
        self.sub_title = label
        self.keymap = dict(keymap or {})
        self.data: state.BrowseData | None = None
        self.data_listeners: list[Any] = []

    def on_mount(self) -> None:
        """Apply the remapped keys and start loading the draw frame."""
        self.set_keymap(self.keymap)
        self.load_data()

    @work(thread=True, exclusive=True, group="data", exit_on_error=False)
    def load_data(self, scorer: str | None = None, embedder: str | None = None) -> None:
        """Load options, pools and the draw frame (thread)."""
        cur = self.con.cursor()
        try:
            self.call_from_thread(setattr, self, "data", state.load(cur, scorer, embedder))
            self.post_message(DataLoaded())
        except Exception as e:  # noqa: BLE001 - shown to the user as one line
            self.post_message(DataLoaded(error=f"{type(e).__name__}: {e}"))
        finally:
            cur.close()

    def on_data_loaded(self, msg: DataLoaded) -> None:
        """Tell the screens that wait for data."""
        if msg.error:
            self.notify(f"loading failed: {msg.error}", severity="error", markup=False)
            return
        for screen in self.data_listeners:
            if screen.is_mounted:
                screen.data_ready()

    def on_work_failed(self, msg: WorkFailed) -> None:
        """Show a worker's failure as one line."""
        self.notify(msg.text, severity="error", markup=False, timeout=8)

    def on_exported(self, msg: Exported) -> None:
        """Confirm an export."""
        self.notify(f"wrote {msg.rows} rows to {msg.path}", markup=False)

    def action_goto(self, mode: str) -> None:
        """Switch to the overview or problems screen."""
        self.switch_mode(mode)

    def action_help(self) -> None:
        """F1: help for the screen on top."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, self.keymap))

    def action_cancel_work(self) -> None:
        """Cancel every running worker (threads stop at their next check)."""
        n = sum(1 for w in self.workers if w.is_running)
        self.workers.cancel_all()
        for screen in self.screen_stack:
            for table in screen.query("DataTable"):
                table.loading = False
        self.notify(f"cancelled {n} running task(s)", markup=False)


def run_app(path: str, con: Any | None = None) -> None:
    """Open ``path`` (or use the already open ``con``) and run the app until the user quits."""
    from divtui.store import open_db

    keymap = keys.load_keymap(config_path())
    own = con is None
    con = con if con is not None else open_db(path, create=False)
    try:
        DivApp(con, str(path), keymap).run()
    finally:
        if own:
            con.close()
