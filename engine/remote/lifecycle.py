"""A remote job's life, written once for the CLI and the UI: the host of a recorded job, the
landing folder, submit, follow (progress, reconnects), fetch, ingest, cancel, status updates.

The two callers differ only in how they reach the database and how they show what happens.
A ``JobStore`` runs ``fn(con)`` for the lifecycle (``FileStore``: the CLI opens the file for
each step; the jobs screen runs each step in a thread worker on the app's connection), and
``on_update`` receives a ``JobUpdate`` whenever something changed (the CLI prints progress
lines, the UI updates its live view). SSH goes through ``engine.remote.client``.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb

from divtui.store import jobs as jq
from divtui.store import open_db
from divtui.store.jobs import database_file
from divtui.store.vocabulary import DONE, FAILED_STATUSES, INGESTED, LOCAL_TERMINAL, RUNNING

from . import client
from .errors import (
    ConnectionDropped,
    JobFailed,
    NoJobFolder,
    RemoteError,
    UnknownJob,
    is_dropped,
    job_failed,
)
from .hosts import DEFAULT_JOBS_DIR, Target

T = TypeVar("T")
POLL_S = 0.5
LOG_KEEP = 4000
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class JobUpdate:
    """What changed about a job; a field left None did not change (an empty note clears it).

    ``progress`` holds the progress lines read since the last update, oldest first, each made
    safe by ``client.safe_progress``; ``log`` is the tail of the job's log on its host.
    """

    job_id: str
    state: str | None = None
    progress: tuple[dict[str, Any], ...] = ()
    log: str | None = None
    note: str | None = None


OnUpdate = Callable[[JobUpdate], None]


def ignore(update: JobUpdate) -> None:
    """An ``on_update`` that shows nothing."""


class JobStore(Protocol):
    """How the lifecycle reaches the database: ``fn(con)`` to read, or to write (``job_id``
    names the job a write that has to wait for the file is about)."""

    async def read(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """``fn(con)`` on a connection that may read."""
        ...

    async def write(
        self, fn: Callable[[duckdb.DuckDBPyConnection], T], job_id: str | None = None
    ) -> T:
        """``fn(con)`` on a connection that may write."""
        ...


@dataclass(frozen=True)
class FileStore:
    """The database file at ``path``, opened for each step and closed after it (the CLI, so
    another program may use the file between steps of a long job)."""

    path: str

    async def read(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """``fn(con)`` on the file, opened for this call."""
        return self._call(fn)

    async def write(
        self, fn: Callable[[duckdb.DuckDBPyConnection], T], job_id: str | None = None
    ) -> T:
        """``fn(con)`` on the file, opened for this call."""
        return self._call(fn)

    def _call(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Open, call, close."""
        con = open_db(self.path)
        try:
            return fn(con)
        finally:
            con.close()


@dataclass(frozen=True)
class Launched:
    """A job started on its host and recorded as running."""

    job_id: str
    host: str
    job_dir: str
    pid: int | None


@dataclass(frozen=True)
class Outcome:
    """Where a lifecycle step left a job: its status as recorded here and the host's word.

    ``remote`` is ``client.job_state``'s answer (None: the host was not asked, the job had
    finished here already); ``added`` the new rows per table of an ingest (None: nothing was
    ingested); ``progress`` the last progress line read (status only).
    """

    job_id: str
    host: str
    status: str
    remote: dict[str, Any] | None = None
    added: dict[str, int] | None = None
    progress: dict[str, Any] | None = None

    @property
    def failed(self) -> bool:
        """Whether the job ended without results (failed, crashed or cancelled)."""
        return self.status in FAILED_STATUSES

    def failure(self) -> JobFailed:
        """The one-line error for a job that ended without results, with its log's end."""
        return job_failed(self.host, self.job_id, self.remote or {"state": self.status})


def landing_folder(db_file: str | None, job_id: str) -> Path:
    """Where a job's result files land: ``<db>.jobs/<job_id>`` beside the database (under the
    temporary folder for an in-memory database)."""
    if db_file is None:
        return Path(tempfile.gettempdir()) / "divtui-jobs" / job_id
    db = Path(db_file)
    return db.with_name(db.name + ".jobs") / job_id


def remote_record(target: Target, job_dir: str) -> dict[str, Any]:
    """What is recorded about where a job runs, so any later command or session finds it."""
    return {
        "host": target.host,
        "job_dir": job_dir,
        "divtui": target.divtui,
        "jobs_dir": target.jobs_dir,
        "ssh_config": target.ssh_config,
    }


def recorded_target(job: dict[str, Any], ssh_config: str | None = None) -> tuple[Target, str]:
    """The Target and remote job folder recorded with a job (``ssh_config`` overrides the
    recorded ssh config file)."""
    r = job["spec"].get("remote", {})
    target = Target(
        host=r.get("host") or job["host"],
        ssh_config=ssh_config or r.get("ssh_config"),
        divtui=r.get("divtui") or ["divtui"],
        jobs_dir=r.get("jobs_dir") or DEFAULT_JOBS_DIR,
    )
    job_dir = r.get("job_dir")
    if not job_dir:
        raise RemoteError(f"job {job['job_id']}: no remote job folder recorded")
    return target, str(job_dir)


async def _recorded(store: JobStore, job_id: str) -> dict[str, Any]:
    """The job's row, or UnknownJob."""
    job = await store.read(lambda con: jq.get_job(con, job_id))
    if job is None:
        raise UnknownJob(f"no job {job_id!r} in the database (`divtui remote status` lists them)")
    return job


async def submit(
    store: JobStore,
    target: Target,
    spec: dict[str, Any],
    inputs: dict[str, Path] | None = None,
    *,
    on_update: OnUpdate = ignore,
) -> Launched:
    """Check the host's divtui, upload the job and start it there, then record it as running."""
    conn = await client.connect(target)
    async with conn:
        await client.guarded(client.check_divtui(conn, target), target.host)
        started = await client.guarded(client.submit(conn, target, spec, inputs), target.host)
    launched = Launched(spec["job_id"], target.host, started["job_dir"], started["pid"])
    remote = remote_record(target, launched.job_dir)
    await store.write(
        lambda con: jq.record_job(
            con,
            job_id=launched.job_id,
            kind=spec["kind"],
            host=target.host,
            status=RUNNING,
            spec=spec,
            remote=remote,
        )
    )
    on_update(JobUpdate(launched.job_id, state=RUNNING, note=f"started (pid {launched.pid})"))
    return launched


def _retryable(e: Exception, connected: bool) -> bool:
    """A dropped link, or a host gone away after the first connect (the job keeps running
    there): worth connecting again. A missing job folder is not."""
    if isinstance(e, ConnectionDropped) or is_dropped(e):
        return True
    return connected and isinstance(e, RemoteError) and not isinstance(e, NoJobFolder)


async def _reach(
    target: Target,
    job_id: str,
    job_dir: str,
    folder: Path,
    *,
    on_update: OnUpdate,
    wait: bool,
    retries: int,
    poll: float,
) -> tuple[dict[str, Any], bool]:
    """The job's state (followed to its end when ``wait``, else read once) and whether its
    results were fetched into ``folder`` (only a done job's are). A dropped connection is
    retried up to ``retries`` times with backoff, the progress file read on from where it was;
    after that the error is raised (``ConnectionDropped`` for a drop)."""
    offset, tries, connected = 0, 0, False
    lines: list[dict[str, Any]] = []

    def seen(state: dict[str, Any]) -> None:
        """One polling round: pass its state and progress lines on, remember how far the
        progress file was read."""
        nonlocal offset
        offset = state["offset"]
        progress = tuple(lines)
        lines.clear()
        on_update(
            JobUpdate(
                job_id, state=state["state"], progress=progress, log=state["log_tail"], note=""
            )
        )

    while True:
        try:
            conn = await client.connect(target)
            async with conn:
                tries, connected = 0, True
                if wait:
                    state = await client.guarded(
                        client.wait_job(
                            conn,
                            job_dir,
                            on_progress=lines.append,
                            on_state=seen,
                            offset=offset,
                            poll=poll,
                        ),
                        target.host,
                        job_id,
                    )
                else:
                    state = await client.guarded(
                        client.job_state(conn, job_dir), target.host, job_id
                    )
                if state["state"] != DONE:
                    return state, False
                on_update(JobUpdate(job_id, note="fetching results…"))
                await client.guarded(
                    client.fetch_results(conn, job_dir, folder), target.host, job_id
                )
                return state, True
        except Exception as e:
            if tries >= retries or not _retryable(e, connected):
                raise
            tries += 1
            pause = min(BACKOFF_MAX_S, 0.5 * 2**tries)
            on_update(
                JobUpdate(
                    job_id,
                    note=f"connection lost; the job keeps running; reconnecting in {pause:g} s "
                    f"(try {tries}/{retries})",
                )
            )
            await asyncio.sleep(pause)


def _finish(
    con: duckdb.DuckDBPyConnection, job_id: str, state: dict[str, Any], folder: Path | None
) -> dict[str, int]:
    """Record the host's final word; ingest the fetched results (one transaction) when done."""
    log = state["log_tail"][-LOG_KEEP:]
    if folder is None:
        jq.set_job_status(con, job_id, state["state"], log)
        return {}
    jq.set_job_status(con, job_id, DONE, log)
    return jq.ingest_job_results(con, folder, job_id)


async def follow(
    store: JobStore,
    job_id: str,
    *,
    on_update: OnUpdate = ignore,
    wait: bool = True,
    recheck: bool = False,
    retries: int = 0,
    poll: float = POLL_S,
    ssh_config: str | None = None,
) -> Outcome:
    """Follow a recorded job (to its end when ``wait``), fetch a done job's results into its
    landing folder and ingest them; record what the host says otherwise.

    A job finished here (ingested, failed, crashed, cancelled) is left alone unless
    ``recheck``: then the host is asked again and a done job fetched and ingested again,
    which adds nothing twice.
    """
    job = await _recorded(store, job_id)
    if job["status"] in LOCAL_TERMINAL and not recheck:
        on_update(JobUpdate(job_id, state=job["status"], log=job["log"] or ""))
        return Outcome(job_id, job["host"], job["status"])
    target, job_dir = recorded_target(job, ssh_config)
    folder = landing_folder(await store.read(database_file), job_id)
    state, fetched = await _reach(
        target,
        job_id,
        job_dir,
        folder,
        on_update=on_update,
        wait=wait,
        retries=retries,
        poll=poll,
    )
    landed = folder if fetched else None
    on_update(JobUpdate(job_id, note="ingesting…" if landed else ""))
    added = await store.write(lambda con: _finish(con, job_id, state, landed), job_id)
    status = INGESTED if landed else state["state"]
    on_update(JobUpdate(job_id, state=status, note=""))
    return Outcome(job_id, target.host, status, state, added if landed else None)


def _record_state(con: duckdb.DuckDBPyConnection, job_id: str, state: dict[str, Any]) -> str:
    """Record the host's state of a job, except that an ingested job stays ingested; returns
    the status recorded."""
    current = jq.get_job(con, job_id)
    status = INGESTED if current and current["status"] == INGESTED else state["state"]
    jq.set_job_status(con, job_id, status, state["log_tail"][-LOG_KEEP:])
    return status


async def ask(store: JobStore, job_id: str, *, ssh_config: str | None = None) -> Outcome:
    """Ask the host how a recorded job is doing (state, error, log, last progress line) and
    record its status."""
    job = await _recorded(store, job_id)
    target, job_dir = recorded_target(job, ssh_config)
    conn = await client.connect(target)
    async with conn:
        state = await client.guarded(client.job_state(conn, job_dir), target.host, job_id)
        lines, _ = await client.guarded(client.read_progress(conn, job_dir), target.host, job_id)
    status = await store.write(lambda con: _record_state(con, job_id, state), job_id)
    return Outcome(job_id, target.host, status, state, progress=lines[-1] if lines else None)


async def cancel(
    store: JobStore,
    job_id: str,
    *,
    grace: float = 5.0,
    ssh_config: str | None = None,
    on_update: OnUpdate = ignore,
) -> Outcome:
    """Stop a recorded job's process group on its host (TERM, then KILL after ``grace`` s)
    and record what the host says; a job finished here is left as it is."""
    job = await _recorded(store, job_id)
    if job["status"] in LOCAL_TERMINAL:
        return Outcome(job_id, job["host"], job["status"])
    target, job_dir = recorded_target(job, ssh_config)
    on_update(JobUpdate(job_id, note="cancelling…"))
    conn = await client.connect(target)
    async with conn:
        state = await client.guarded(
            client.cancel_job(conn, job_dir, grace=grace), target.host, job_id
        )
    log = state["log_tail"]
    await store.write(
        lambda con: jq.set_job_status(con, job_id, state["state"], log[-LOG_KEEP:]), job_id
    )
    on_update(JobUpdate(job_id, state=state["state"], log=log, note=""))
    return Outcome(job_id, target.host, state["state"], state)
