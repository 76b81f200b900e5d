"""Remote jobs in the UI: submit, follow (progress, log), reconnect, cancel, fetch and ingest.

The job's life (host, landing folder, SSH, fetch, ingest, status updates) is
``engine.remote.lifecycle``, shared with the CLI; this module gives it the app's way into the
database and shows what it reports. SSH work runs as async workers in the app's event loop;
every read and write of the database runs in a thread worker on the app's own connection, so
the UI's process stays the file's only writer. A dropped connection is retried with backoff:
the job keeps running on the host, and the follower picks up where it was.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Log, ProgressBar, Static
from textual.worker import WorkerFailed

from divtui.engine.remote import jobspec as js
from divtui.engine.remote import lifecycle
from divtui.engine.remote.build import build_job
from divtui.engine.remote.errors import RemoteError, UnknownJob, clean_text
from divtui.engine.remote.hosts import resolve_target
from divtui.settings import config_path
from divtui.store import jobs as jq
from divtui.store.vocabulary import DONE, INGESTED, LOCAL_TERMINAL

from .. import keys
from ..access import WriteBlocked
from ..widgets.key_bar import KeyBar
from ..widgets.safe_text import safe_text

T = TypeVar("T")
RETRIES = 8
WRITE_RETRY_MAX_S = 10.0
COLUMNS = ("job", "kind", "host", "status", "progress", "updated")


@dataclass
class JobUpdated(Message):
    """What the app knows about a job changed (status, progress, log, note)."""

    job_id: str


@dataclass
class JobIngested(Message):
    """A job's results are in the database: new rows per table."""

    job_id: str
    added: dict[str, int]


def live(app: Any, job_id: str) -> dict[str, Any]:
    """The app's live view of one job (created empty on first use)."""
    return app.job_live.setdefault(
        job_id,
        {"state": None, "progress": None, "log": "", "note": "", "following": False},
    )


def set_live(app: Any, job_id: str, **changes: Any) -> None:
    """Change a job's live view and tell the app."""
    live(app, job_id).update(changes)
    app.post_message(JobUpdated(job_id))


async def in_thread(
    app: Any, fn: Callable[..., Any], *args: Any, write: bool = False, **kwargs: Any
) -> Any:
    """Run ``fn(con, *args)`` in a thread worker on a read cursor, or with ``write`` on the
    short-lived write connection (WriteBlocked when another process holds the file)."""

    def body() -> Any:
        """Take the cursor or the write connection, call, release."""
        with app.db.writing() if write else app.db.reading() as con:
            return fn(con, *args, **kwargs)

    worker = app.run_worker(body, thread=True, group="jobs-db", exit_on_error=False)
    try:
        return await worker.wait()
    except WorkerFailed as e:
        raise e.error from None


async def write_db(
    app: Any, fn: Callable[..., Any], *args: Any, note_job: str | None = None, **kwargs: Any
) -> Any:
    """``fn(con, *args)`` on a write connection, retried with backoff while another process
    holds the file; the status line (and the job's note) say who holds it meanwhile."""
    delay = 0.5
    while True:
        try:
            out = await in_thread(app, fn, *args, write=True, **kwargs)
        except WriteBlocked as e:
            app.show_status(f"cannot write: held by {e.holder}; retrying")
            if note_job is not None:
                set_live(
                    app,
                    note_job,
                    note=f"waiting to write into the file: held by {e.holder}; "
                    f"retrying in {delay:g} s (close that program to go on)",
                )
            await asyncio.sleep(delay)
            delay = min(WRITE_RETRY_MAX_S, delay * 2)
            continue
        app.show_status("")
        return out


@dataclass(frozen=True)
class AppStore:
    """The lifecycle's way into the app's file: reads on a cursor in a thread worker, writes
    on the short-lived write connection, retried while another process holds the file."""

    app: Any

    async def read(self, fn: Callable[[Any], T]) -> T:
        """``fn(cursor)`` in a thread worker."""
        result: T = await in_thread(self.app, fn)
        return result

    async def write(self, fn: Callable[[Any], T], job_id: str | None = None) -> T:
        """``fn(con)`` on the write connection; the job's note says when it has to wait."""
        result: T = await write_db(self.app, fn, note_job=job_id)
        return result


def shown(app: Any) -> lifecycle.OnUpdate:
    """An ``on_update`` that puts the lifecycle's news into the app's live view of the job."""

    def on_update(update: lifecycle.JobUpdate) -> None:
        """The changed fields; of the progress lines, the last."""
        changes: dict[str, Any] = {
            name: value
            for name, value in (("state", update.state), ("log", update.log), ("note", update.note))
            if value is not None
        }
        if update.progress:
            changes["progress"] = update.progress[-1]
        set_live(app, update.job_id, **changes)

    return on_update


def build_spec(
    con: Any, req: dict[str, Any], folder: Path
) -> tuple[dict[str, Any], dict[str, Path] | None]:
    """The job spec of a dialog request (problem texts from the file) and its input files."""
    rows = jq.problems_by_id(con, req["problem_ids"])
    missing = sorted(set(req["problem_ids"]) - {r["problem_id"] for r in rows})
    if missing:
        raise RemoteError(f"no problem {missing[0]!r} in the database")
    if req["kind"] == "generate":
        spec = js.generate_spec(
            rows,
            model=req["model"],
            temperatures=req["temperatures"],
            n=req["n"],
            backend=req["backend"],
            max_tokens=req["max_tokens"],
        )
        return spec, None
    settings = {"scorer": req["scorer"]} if req["kind"] == "score" else None
    return build_job(
        con, req["kind"], req["problem_ids"], folder, run_id=req.get("run_id"), settings=settings
    )


async def submit(app: Any, req: dict[str, Any]) -> str | None:
    """Build the spec, start the job on the host, record it; returns the job id (None: failed)."""
    host = req["host"]
    try:
        target = resolve_target(host, config_path())
        with tempfile.TemporaryDirectory() as tmp:
            spec, inputs = await in_thread(app, build_spec, req, Path(tmp))
            app.notify(f"starting {spec['kind']} job on {host}…", markup=False)
            launched = await lifecycle.submit(
                AppStore(app), target, spec, inputs, on_update=shown(app)
            )
    except (RemoteError, js.SpecError, ValueError, OSError) as e:
        app.notify(f"remote rerun: {clean_text(str(e))}", severity="error", markup=False)
        return None
    return launched.job_id


async def follow(app: Any, job_id: str) -> None:
    """Follow a job to its end, reconnecting after drops; fetch and ingest its results."""
    view = live(app, job_id)
    if view["following"]:
        return
    view["following"] = True
    try:
        outcome = await lifecycle.follow(
            AppStore(app), job_id, on_update=shown(app), retries=RETRIES
        )
    except UnknownJob:
        set_live(app, job_id, note="not in the database")
        return
    except Exception as e:
        set_live(app, job_id, note=f"error: {clean_text(str(e))}; press f to retry")
        return
    finally:
        view["following"] = False
    if outcome.added is not None:
        app.post_message(JobIngested(job_id, outcome.added))


async def cancel(app: Any, job_id: str) -> None:
    """Stop the job's process group on its host and record it as cancelled."""
    try:
        await lifecycle.cancel(AppStore(app), job_id, on_update=shown(app))
    except RemoteError as e:
        set_live(app, job_id, note=f"cancel failed: {clean_text(str(e))}")


def progress_text(p: dict[str, Any] | None) -> str:
    """A progress line as ``stage done/total``."""
    if not p:
        return ""
    return f"{p.get('stage', '?')} {p.get('done')}/{p.get('total')}"


class JobsScreen(Screen[None]):
    """Remote jobs: status and progress of each, the selected one's log; cancel, reconnect."""

    BINDINGS = keys.bindings("jobs")
    AUTO_FOCUS = "#jobs-table"
    HELP = (
        "Remote jobs recorded in this file, newest first: kind, host, status (running, done, "
        "ingested, failed, crashed, cancelled), the last progress line. The right pane streams "
        "the selected job's log from its host. Jobs still open are followed as soon as this "
        "screen opens; a dropped connection is retried (the job keeps running on the host) and "
        "f reconnects by hand. When a job is done its Parquet results are fetched and ingested "
        "into this file; the problems screen then shows the new pools. c cancels the job."
    )

    def compose(self) -> ComposeResult:
        """The jobs table, the selected job's state, progress and log."""
        yield Header()
        with Horizontal(id="jobs-body"):
            yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="job-pane"):
                yield Static("no job selected", id="job-state")
                yield ProgressBar(id="job-progress", show_eta=False)
                yield Log(id="job-log", highlight=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """List the jobs and follow those still open."""
        self.jobs: list[dict[str, Any]] = []
        self.selected: str | None = None
        self.shown_log = ""
        table = self.query_one(DataTable)
        for c in COLUMNS:
            table.add_column(c, key=c)
        self.refresh_jobs(resume=True)

    def on_screen_resume(self) -> None:
        """Coming back to the jobs screen (F4): reread the table."""
        if getattr(self, "jobs", None) is not None:
            self.refresh_jobs()

    @work(thread=True, exclusive=True, group="jobs-list", exit_on_error=False)
    def refresh_jobs(self, resume: bool = False) -> None:
        """Read the jobs table (thread); optionally resume following the open ones."""
        app: Any = self.app
        with app.db.reading() as cur:
            jobs = jq.list_jobs(cur)
        app.call_from_thread(self.show_jobs, jobs, resume)

    def show_jobs(self, jobs: list[dict[str, Any]], resume: bool) -> None:
        """Fill the table; start followers of open jobs."""
        app: Any = self.app
        self.jobs = jobs
        table = self.query_one(DataTable)
        table.clear()
        for j in jobs:
            table.add_row(*self.cells(j), key=j["job_id"])
        if jobs and self.selected is None:
            self.selected = jobs[0]["job_id"]
        if self.selected:
            ids = [j["job_id"] for j in jobs]
            if self.selected in ids:
                table.move_cursor(row=ids.index(self.selected))
        self.show_selected()
        if resume:
            for j in jobs:
                if j["status"] not in LOCAL_TERMINAL and not live(app, j["job_id"])["following"]:
                    app.follow_job(j["job_id"])

    def cells(self, job: dict[str, Any]) -> list[Text]:
        """One row: the stored job merged with what the app saw since."""
        v = live(self.app, job["job_id"])
        status = v["state"] or job["status"]
        updated = job["updated_at"].strftime("%m-%d %H:%M") if job["updated_at"] else ""
        return [
            safe_text(job["job_id"]),
            safe_text(job["kind"]),
            safe_text(job["host"]),
            safe_text(status),
            safe_text(progress_text(v["progress"])),
            Text(updated),
        ]

    def job_updated(self, job_id: str) -> None:
        """Refresh one row and, when it is selected, the state, progress and log."""
        table = self.query_one(DataTable)
        job = next((j for j in self.jobs if j["job_id"] == job_id), None)
        if job is None:
            self.refresh_jobs()
            return
        for c, cell in zip(COLUMNS, self.cells(job), strict=True):
            table.update_cell(job_id, c, cell)
        if job_id == self.selected:
            self.show_selected()

    def show_selected(self) -> None:
        """The selected job's state line, progress bar and log."""
        job = next((j for j in self.jobs if j["job_id"] == self.selected), None)
        state = self.query_one("#job-state", Static)
        if job is None:
            state.update("no job selected" if self.jobs else "no jobs yet: press R on a problem")
            return
        v = live(self.app, job["job_id"])
        t = Text()
        t.append_text(safe_text(job["job_id"], style="bold"))
        t.append(f"  on {job['host']}  ")
        t.append(str(v["state"] or job["status"]), style="bold cyan")
        spec = job["spec"].get("spec", {})
        gen = spec.get("generate")
        probs = ", ".join(p["problem_id"] for p in spec.get("problems", []))
        t.append("\nproblems: ")
        t.append_text(safe_text(probs))
        if gen:
            temps = ",".join(f"{x:g}" for x in gen["temperatures"])
            t.append(f"\nT={temps} n={gen['n']} {gen['backend']} model ")
            t.append_text(safe_text(gen["model"]))
        if v["progress"]:
            t.append(f"\nprogress: {progress_text(v['progress'])} ")
            t.append_text(safe_text(v["progress"].get("label", "")))
        if v["note"]:
            t.append("\n")
            t.append_text(safe_text(v["note"], style="italic"))
        state.update(t)
        bar = self.query_one(ProgressBar)
        p = v["progress"]
        status = v["state"] or job["status"]
        if p and isinstance(p.get("total"), int) and p["total"] > 0:
            bar.update(total=p["total"], progress=p.get("done") or 0)
        elif status in (*LOCAL_TERMINAL, DONE):
            bar.update(total=1, progress=1 if status in (DONE, INGESTED) else 0)
        log = clean_text(v["log"] or job.get("log") or "")
        if log != self.shown_log:
            widget = self.query_one(Log)
            widget.clear()
            widget.write(log)
            self.shown_log = log

    @on(DataTable.RowHighlighted, "#jobs-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the highlighted job."""
        self.selected = str(event.row_key.value)
        self.show_selected()

    def action_cancel_job(self) -> None:
        """Cancel the selected job on its host."""
        if self.selected:
            self.app.cancel_job(self.selected)  # type: ignore[attr-defined]

    def action_fetch_job(self) -> None:
        """Reconnect to the selected job: follow it, fetch and ingest when done."""
        if self.selected:
            self.app.follow_job(self.selected)  # type: ignore[attr-defined]

    def action_refresh(self) -> None:
        """Reread the jobs table."""
        self.refresh_jobs()

    def action_back(self) -> None:
        """Back to the screen shown before F4."""
        self.app.action_go_back()  # type: ignore[attr-defined]
