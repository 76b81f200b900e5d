"""The job lifecycle without a host: statuses by role, the recorded host and folder, the landing
folder, status rules and the steps that must not reach a host, on a real DuckDB file."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from divtui.engine.remote import lifecycle
from divtui.engine.remote.errors import RemoteError, UnknownJob
from divtui.engine.remote.hosts import DEFAULT_JOBS_DIR, Target
from divtui.store import jobs as jq
from divtui.store import open_db
from divtui.store import vocabulary as st
from divtui.store.jobs import open_jobs
from divtui.store.vocabulary import JOB_STATUSES
from tests.conftest import run_divtui

UNREACHABLE = "host.invalid"
"""A host no step may contact: any attempt fails (the tests below expect none)."""


def test_status_names_are_the_vocabulary_words() -> None:
    named = (st.QUEUED, st.RUNNING, st.DONE, st.FAILED, st.CANCELLED, st.CRASHED, st.INGESTED)
    assert named == ("queued", "running", "done", "failed", "cancelled", "crashed", "ingested")
    assert set(named) == set(JOB_STATUSES)
    roles = (
        st.REMOTE_STATUSES,
        st.LIVE_STATUSES,
        st.REMOTE_TERMINAL,
        st.FAILED_STATUSES,
        st.LOCAL_TERMINAL,
    )
    assert all(set(r) <= set(JOB_STATUSES) for r in roles)
    # a live job is never finished, on its host or here; ingested is the local word only
    assert not set(st.LIVE_STATUSES) & (set(st.REMOTE_TERMINAL) | set(st.LOCAL_TERMINAL))
    assert st.INGESTED not in st.REMOTE_STATUSES and st.CRASHED not in st.REMOTE_STATUSES
    assert set(st.LOCAL_TERMINAL) == {st.INGESTED} | set(st.FAILED_STATUSES)
    assert set(st.REMOTE_TERMINAL) == {st.DONE} | set(st.FAILED_STATUSES)


def _record(con, job_id: str, status: str, host: str = UNREACHABLE, **remote: object) -> None:
    """A job row as `remote run` records it."""
    jq.record_job(
        con,
        job_id=job_id,
        kind="grade",
        host=host,
        status=status,
        spec={"job_id": job_id, "kind": "grade", "problems": []},
        remote={"host": host, "job_dir": f".divtui/jobs/{job_id}", **remote},
    )


def test_open_jobs_are_those_not_finished_here(tmp_path: Path) -> None:
    rng = random.Random(17)
    con = open_db(tmp_path / "study.duckdb")
    for trial in range(5):
        con.execute("DELETE FROM jobs")
        statuses = {f"j-{trial}-{i}": rng.choice(JOB_STATUSES) for i in range(rng.randint(0, 30))}
        for job_id, status in statuses.items():
            _record(con, job_id, status)
        want = {
            j
            for j, s in statuses.items()
            if s not in ("ingested", "failed", "crashed", "cancelled")
        }
        assert set(open_jobs(con)) == want
    con.close()


def test_landing_folder_is_beside_the_database(tmp_path: Path) -> None:
    db = tmp_path / "a b" / "study.duckdb"
    assert (
        lifecycle.landing_folder(str(db), "j-1") == tmp_path / "a b" / "study.duckdb.jobs" / "j-1"
    )
    tmp = lifecycle.landing_folder(None, "j-1")
    assert tmp.name == "j-1" and tmp.parent.name == "divtui-jobs"
    con = open_db(db)
    from divtui.store.jobs import database_file

    assert Path(database_file(con)) == db  # what follow() uses
    con.close()


def test_recorded_target_reads_what_was_recorded(tmp_path: Path) -> None:
    con = open_db(tmp_path / "study.duckdb")
    _record(con, "j-1", "running", host="box", divtui=["env", "X=1", "/opt/divtui"],
            jobs_dir="/scratch/jobs", ssh_config="/etc/cfg")  # fmt: skip
    _record(con, "j-2", "running", host="box")
    job1, job2 = jq.get_job(con, "j-1"), jq.get_job(con, "j-2")
    con.execute("UPDATE jobs SET spec = '{}' WHERE job_id = 'j-2'")
    bare = jq.get_job(con, "j-2")
    con.close()
    assert lifecycle.recorded_target(job1) == (
        Target("box", "/etc/cfg", ["env", "X=1", "/opt/divtui"], "/scratch/jobs"),
        ".divtui/jobs/j-1",
    )
    assert lifecycle.recorded_target(job1, "/mine")[0].ssh_config == "/mine"
    target, folder = lifecycle.recorded_target(job2)
    assert (target.divtui, target.jobs_dir, target.ssh_config) == (
        ["divtui"],
        DEFAULT_JOBS_DIR,
        None,
    )
    with pytest.raises(RemoteError, match="j-2: no remote job folder recorded"):
        lifecycle.recorded_target(bare)


def test_unknown_job_is_one_line_in_every_step(tmp_path: Path) -> None:
    store = lifecycle.FileStore(str(tmp_path / "study.duckdb"))
    open_db(store.path).close()
    for step in (lifecycle.follow, lifecycle.ask, lifecycle.cancel):
        with pytest.raises(UnknownJob) as e:
            asyncio.run(step(store, "nope"))
        assert str(e.value) == "no job 'nope' in the database (`divtui remote status` lists them)"
    out = run_divtui("remote", "fetch", "nope", "--db", store.path)
    assert out.returncode == 1
    assert (
        out.stderr == "error: no job 'nope' in the database (`divtui remote status` lists them)\n"
    )


@pytest.mark.parametrize("status", ["ingested", "failed", "crashed", "cancelled"])
def test_a_job_finished_here_is_not_followed_or_cancelled_again(
    tmp_path: Path, status: str
) -> None:
    store = lifecycle.FileStore(str(tmp_path / "study.duckdb"))
    con = open_db(store.path)
    _record(con, "j-1", status)
    jq.set_job_status(con, "j-1", status, "the log")
    con.close()
    updates: list[lifecycle.JobUpdate] = []
    got = asyncio.run(lifecycle.follow(store, "j-1", on_update=updates.append))
    assert (got.status, got.remote, got.added) == (status, None, None)
    assert updates == [lifecycle.JobUpdate("j-1", state=status, log="the log")]
    stopped = asyncio.run(lifecycle.cancel(store, "j-1", on_update=updates.append))
    assert (stopped.status, stopped.remote, len(updates)) == (status, None, 1)
    assert got.failed == (status != "ingested")
    out = run_divtui("remote", "cancel", "j-1", "--db", store.path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"job j-1 on {UNREACHABLE}: {status}\n"
    con = open_db(store.path, read_only=True)
    assert jq.get_job(con, "j-1")["status"] == status
    con.close()
    # recheck asks the host again: here that means trying to connect, which fails in one line
    with pytest.raises(RemoteError) as e:
        asyncio.run(lifecycle.follow(store, "j-1", recheck=True))
    assert UNREACHABLE in str(e.value) and "\n" not in str(e.value)


def test_recorded_state_never_undoes_an_ingest(tmp_path: Path) -> None:
    rng = random.Random(3)
    con = open_db(tmp_path / "study.duckdb")
    _record(con, "j-1", "running")
    status = "running"
    for _ in range(60):
        state = {"state": rng.choice(st.REMOTE_STATUSES + (st.CRASHED,)), "log_tail": "x" * 5000}
        if rng.random() < 0.1:
            jq.set_job_status(con, "j-1", "ingested")
            status = "ingested"
        got = lifecycle._record_state(con, "j-1", state)
        status = status if status == "ingested" else state["state"]
        job = jq.get_job(con, "j-1")
        assert got == job["status"] == status and len(job["log"]) == lifecycle.LOG_KEEP
    con.close()


def test_outcome_failure_names_the_job_and_its_log() -> None:
    crashed = lifecycle.Outcome("j-1", "box", "crashed", {"state": "crashed", "log_tail": "a\nb\n"})
    assert crashed.failed and str(crashed.failure()).startswith(
        "box: job j-1 crashed: the worker died"
    )
    assert str(crashed.failure()).endswith("log ends: a | b")
    cancelled = lifecycle.Outcome("j-2", "box", "cancelled")
    assert str(cancelled.failure()) == "box: job j-2 was cancelled"
    assert not lifecycle.Outcome("j-3", "box", "ingested", added={}).failed
