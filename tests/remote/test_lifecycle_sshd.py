"""The job lifecycle through a real OpenSSH sshd: a follower whose connection is cut mid-job
reconnects, reads the progress file on from where it was (every line once, in order) and
ingests the results it fetched into the landing folder."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from divtui.engine.remote import lifecycle
from divtui.engine.remote.client import safe_progress
from divtui.store import jobs as jq
from divtui.store import open_db
from divtui.store.vocabulary import INGESTED, REMOTE_TERMINAL, RUNNING
from tests.remote.conftest import children
from tests.remote.test_remote_sshd import _cli, _db, _job_id, _user_args

pytestmark = pytest.mark.usefixtures("no_agent")


def test_follow_survives_a_cut_without_losing_or_repeating_progress(
    sshd: dict, tiny_model: str, tmp_path: Path
) -> None:
    db = _db(tmp_path / "study.duckdb")
    out = _cli(
        sshd, "remote", "run", "gpubox", "--problem", "gsm8k-7", "--temperatures", "0.7,1.0",
        "--n", "4", "--model", tiny_model, "--max-tokens", "32", "--db", str(db),
        "--detach", *_user_args(sshd),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    job_id = _job_id(out.stdout)
    updates: list[lifecycle.JobUpdate] = []
    cut: list[int] = []

    def on_update(update: lifecycle.JobUpdate) -> None:
        """Keep every update; once the running job has sent progress, cut every live session
        (server side), so the follower has read part of the progress file when it reconnects."""
        updates.append(update)
        if update.state == RUNNING and update.progress and not cut:
            cut.extend(children(sshd["sshd_pid"]))
            for pid in cut:
                os.kill(pid, signal.SIGKILL)

    outcome = asyncio.run(
        lifecycle.follow(
            lifecycle.FileStore(str(db)), job_id, on_update=on_update, retries=4, poll=0.2
        )
    )
    notes = [u.note for u in updates if u.note]
    assert outcome.status == INGESTED, (outcome, notes)
    assert outcome.added is not None and outcome.added["samples"] == 8
    assert cut and any("connection lost" in n for n in notes), notes
    states = [u.state for u in updates if u.state]
    assert states[-1] == INGESTED and states[-2] in REMOTE_TERMINAL
    con = open_db(db, read_only=True)
    job = jq.get_job(con, job_id)
    assert con.execute("SELECT count(*), count(correct) FROM samples").fetchall() == [(8, 8)]
    con.close()
    assert job["status"] == INGESTED
    folder = sshd["user_home"] / job["spec"]["remote"]["job_dir"]
    written = [
        safe_progress(json.loads(line))
        for line in (folder / "progress.jsonl").read_text().splitlines()
        if line.strip()
    ]
    seen = [p for u in updates for p in u.progress]
    assert written and seen == written
    landed = lifecycle.landing_folder(str(db), job_id)
    assert (landed / "samples.parquet").exists()
