"""Remote jobs through a real OpenSSH sshd on 127.0.0.1: rerun, dropped link, cancel, refusals."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from divtui.engine.remote import client
from divtui.engine.remote.errors import ConnectionDropped, RemoteError
from divtui.engine.remote.hosts import Target
from divtui.store import insert, open_db, transaction
from divtui.store import jobs as jq
from tests.conftest import run_divtui
from tests.remote.conftest import children

pytestmark = pytest.mark.usefixtures("no_agent")

PROBLEMS = pd.DataFrame(
    {
        "problem_id": ["test/algebra/1.json", "gsm8k-7"],
        "question": ["What is 2+2?", "Tom has 3 apples and buys 4 more. How many?"],
        "gold_answer": ["4", "7"],
        "dataset": ["math", "gsm8k"],
    }
)


def _db(path: Path) -> Path:
    """A real study file holding two problems."""
    con = open_db(path)
    with transaction(con):
        insert(con, "problems", PROBLEMS)
    con.close()
    return path


def _cli(sshd: dict, *args: str):
    """Run the real divtui CLI with the test ssh config and no agent."""
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    return run_divtui(*args, "--ssh-config", sshd["ssh_config"], env=env)


def _user_args(sshd: dict) -> list[str]:
    """Options pointing `remote run` at the non-root login's divtui."""
    return ["--remote-divtui", sshd["user_divtui"]]


def _pgrp_members(pgid: int) -> list[int]:
    """Pids of live processes in process group ``pgid`` (read from /proc: same machine)."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(p.name))
    return out


def _job_id(stdout: str) -> str:
    """The job id printed by `remote run`."""
    line = next(x for x in stdout.splitlines() if x.startswith("job ") and "started" in x)
    return line.split()[1]


def test_full_rerun_is_ingested_and_refetch_is_idempotent(sshd, tiny_model, tmp_path):
    db = _db(tmp_path / "study.duckdb")
    out = _cli(
        sshd, "remote", "run", "gpubox-root", "--problem", "test/algebra/1.json",
        "--problem", "gsm8k-7", "--temperatures", "0.5,1.0", "--n", "3",
        "--model", tiny_model, "--max-tokens", "12", "--db", str(db),
        "--remote-divtui", sshd["root_divtui"], "--jobs-dir", sshd["root_jobs"],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    job_id = _job_id(out.stdout)
    con = open_db(db, read_only=True)
    rows = con.execute(
        "SELECT problem_id, temperature, count(*), count(correct), min(idx), max(idx) "
        "FROM samples GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    job = jq.get_job(con, job_id)
    (source,) = con.execute("SELECT DISTINCT source FROM runs").fetchall()[0]
    con.close()
    assert rows == [
        ("gsm8k-7", 0.5, 3, 3, 0, 2),
        ("gsm8k-7", 1.0, 3, 3, 0, 2),
        ("test/algebra/1.json", 0.5, 3, 3, 0, 2),
        ("test/algebra/1.json", 1.0, 3, 3, 0, 2),
    ]
    assert source == "transformers"
    assert job["status"] == "ingested" and job["host"] == "gpubox-root"
    assert job["spec"]["spec"]["generate"]["n"] == 3
    again = _cli(sshd, "remote", "fetch", job_id, "--db", str(db))
    assert again.returncode == 0, again.stderr
    con = open_db(db, read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT sample_id) FROM samples").fetchall() == [
        (12, 12)
    ]
    con.close()


def test_dropped_connection_then_fetch_after_reconnect(sshd, tiny_model, tmp_path):
    db = _db(tmp_path / "study.duckdb")
    out = _cli(
        sshd, "remote", "run", "gpubox", "--problem", "gsm8k-7", "--temperatures", "0.7,1.0",
        "--n", "4", "--model", tiny_model, "--max-tokens", "32", "--db", str(db),
        "--detach", *_user_args(sshd),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    job_id = _job_id(out.stdout)
    con = open_db(db, read_only=True)
    job_dir = jq.get_job(con, job_id)["spec"]["remote"]["job_dir"]
    con.close()
    target = Target("gpubox", sshd["ssh_config"], [sshd["user_divtui"]])

    async def follow_until_cut() -> dict:
        conn = await client.connect(target)
        async with conn:
            while (await client.job_state(conn, job_dir))["status"] != "running":
                await asyncio.sleep(0.1)
            state = await client.job_state(conn, job_dir)
            for pid in children(sshd["sshd_pid"]):  # cut every live session, server side
                os.kill(pid, signal.SIGKILL)
            with pytest.raises(ConnectionDropped, match="keeps running"):
                await client.guarded(client.wait_job(conn, job_dir), "gpubox", job_id)
            return state

    state = asyncio.run(follow_until_cut())
    assert state["state"] == "running" and _pgrp_members(state["pgid"])
    back = _cli(sshd, "remote", "fetch", job_id, "--wait", "--db", str(db))
    assert back.returncode == 0, back.stderr
    con = open_db(db, read_only=True)
    assert con.execute("SELECT count(*), count(correct) FROM samples").fetchall() == [(8, 8)]
    assert jq.get_job(con, job_id)["status"] == "ingested"
    con.close()


def test_cancel_stops_the_remote_process_group(sshd, tiny_model, tmp_path):
    db = _db(tmp_path / "study.duckdb")
    out = _cli(
        sshd, "remote", "run", "gpubox", "--problem", "gsm8k-7", "--problem",
        "test/algebra/1.json", "--temperatures", "0.3,0.6,0.9,1.2", "--n", "64",
        "--model", tiny_model, "--max-tokens", "512", "--db", str(db), "--detach",
        *_user_args(sshd),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    job_id = _job_id(out.stdout)
    con = open_db(db, read_only=True)
    job_dir = jq.get_job(con, job_id)["spec"]["remote"]["job_dir"]
    con.close()
    folder = sshd["user_home"] / job_dir
    deadline = time.monotonic() + 30
    while (folder / "status").read_text().strip() != "running" or len(
        (folder / "pid").read_text().split()
    ) < 2:
        assert time.monotonic() < deadline, (folder / "log").read_text()
        time.sleep(0.1)
    pid, pgid = map(int, (folder / "pid").read_text().split())
    members = _pgrp_members(pgid)
    assert pid in members and pgid == pid
    assert all(Path(f"/proc/{m}").stat().st_uid == sshd["user_home"].stat().st_uid for m in members)
    res = _cli(sshd, "remote", "cancel", job_id, "--db", str(db))
    assert res.returncode == 0, res.stderr
    assert "cancelled" in res.stdout
    assert _pgrp_members(pgid) == []
    assert (folder / "status").read_text().strip() == "cancelled"
    assert not (folder / "DONE").exists()
    con = open_db(db, read_only=True)
    assert jq.get_job(con, job_id)["status"] == "cancelled"
    assert con.execute("SELECT count(*) FROM samples").fetchall() == [(0,)]
    con.close()


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("gpubox-newkey", "unknown host key"),
        ("gpubox-changed", "host key has CHANGED"),
        ("gpubox-badauth", "authentication failed"),
        ("no-such-host.invalid", "unknown host"),
    ],
)
def test_connection_refusals_are_one_line(sshd, host, message):
    async def go() -> None:
        await client.connect(Target(host, sshd["ssh_config"]))

    with pytest.raises(RemoteError, match=message) as e:
        asyncio.run(go())
    assert "\n" not in str(e.value) and host in str(e.value)


def test_unknown_host_key_refused_by_cli_and_nothing_sent(sshd, tmp_path):
    db = _db(tmp_path / "study.duckdb")
    jobs = sshd["user_home"] / ".divtui" / "jobs"
    before = set(jobs.iterdir()) if jobs.exists() else set()
    out = _cli(
        sshd, "remote", "run", "gpubox-newkey", "--problem", "gsm8k-7", "--model", "m",
        "--db", str(db), *_user_args(sshd),
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.startswith("error: gpubox-newkey: unknown host key")
    assert len(out.stderr.strip().splitlines()) == 1
    assert (set(jobs.iterdir()) if jobs.exists() else set()) == before


def test_missing_remote_divtui_is_one_line(sshd, tmp_path):
    db = _db(tmp_path / "study.duckdb")
    out = _cli(
        sshd, "remote", "run", "gpubox", "--problem", "gsm8k-7", "--model", "m",
        "--db", str(db), "--remote-divtui", "/nonexistent/bin/divtui",
    )  # fmt: skip
    assert out.returncode == 1
    assert "was not found there" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_hostile_values_never_reach_a_shell(sshd, tmp_path):
    db = _db(tmp_path / "study.duckdb")
    d = sshd["dir"]
    hostile = [
        ("--problem", "gsm8k-7'; touch " + str(d / "PWNED1") + "; '"),
        ("--model", "$(touch " + str(d / "PWNED2") + ")"),
    ]
    for opt, value in hostile:
        args = ["--problem", "gsm8k-7", "--model", "m"]
        args[args.index(opt) + 1] = value
        out = _cli(sshd, "remote", "run", "gpubox-root", *args, "--db", str(db))
        assert out.returncode == 1 and "is not allowed" in out.stderr, out.stderr
    # a jobs folder full of shell syntax is accepted, quoted, and used literally
    jobs = f"{d}/jobs $(touch {d}/PWNED3); `touch {d}/PWNED4` 'q\"x"
    con = open_db(db)
    with transaction(con):
        insert(con, "runs", pd.DataFrame({"run_id": ["r"], "source": ["import:jsonl"]}))
        insert(
            con,
            "samples",
            pd.DataFrame(
                {
                    "sample_id": [1, 2],
                    "run_id": "r",
                    "problem_id": "gsm8k-7",
                    "temperature": 0.7,
                    "idx": [0, 1],
                    "text": ["3 + 4 = 7, so \\boxed{7}", "I think \\boxed{12}; $(reboot)"],
                }
            ),
        )
    con.close()
    out = _cli(
        sshd, "remote", "run", "gpubox-root", "--kind", "grade", "--problem", "gsm8k-7",
        "--db", str(db), "--remote-divtui", sshd["root_divtui"], "--jobs-dir", jobs,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert not any((d / f"PWNED{i}").exists() for i in range(1, 5))
    assert (Path(jobs) / _job_id(out.stdout) / "DONE").exists()
    con = open_db(db, read_only=True)
    assert con.execute("SELECT sample_id, answer, correct FROM samples ORDER BY 1").fetchall() == [
        (1, "7", True),
        (2, "12", False),
    ]
    con.close()
