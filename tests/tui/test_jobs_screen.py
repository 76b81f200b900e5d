"""The remote rerun from the UI against a real OpenSSH sshd: dialog, jobs screen, new pool."""
# ruff: noqa: F811 - the sshd fixtures are imported from tests/remote/conftest.py

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from textual.widgets import Input, Select

from divtui.store import insert, open_db, transaction
from divtui.tui.screens.jobs import JobsScreen
from divtui.tui.screens.rerun import RemoteRerunScreen, RequestError, validate_request
from tests.remote.conftest import children, no_agent, sshd, tiny_model  # noqa: F401 - fixtures

from .conftest import SIZE, settle

HOST = "gpubox-root"


def write_host_config(sshd: dict) -> None:
    """divtui's config: the test host's ssh config, its divtui and jobs folder."""
    Path(os.environ["DIVTUI_CONFIG"]).write_text(
        f'[hosts.{HOST}]\nssh_config = "{sshd["ssh_config"]}"\n'
        f'divtui = "{sshd["root_divtui"]}"\njobs_dir = "{sshd["root_jobs"]}"\n'
    )


def sql(app, query: str, params: list | None = None) -> list[tuple]:
    """Plain SQL on the app's own connection."""
    cur = app.con.cursor()
    try:
        return cur.execute(query, params or []).fetchall()
    finally:
        cur.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"host": None}, "field host: pick a host"),
        ({"temperatures": "0.5,hot"}, "field temperatures: 'hot' is not a number"),
        ({"temperatures": "9"}, "field temperatures: 9 is outside [0, 5]"),
        ({"temperatures": " , "}, "field temperatures: give at least one"),
        ({"n": "0"}, "field n: 0 is outside [1, 100000]"),
        ({"n": "two"}, "field n: 'two' is not a whole number"),
        ({"max_tokens": "-3"}, "field max tokens: -3 is outside"),
        ({"model": ""}, "field model: give a model id"),
        ({"model": "m; rm -rf ~"}, "field generate.model: 'm; rm -rf ~' is not allowed"),
        ({"backend": "llama.cpp"}, "field backend: must be one of transformers, vllm"),
        ({"kind": "train"}, "field kind: must be one of generate, grade, score"),
        ({"kind": "score"}, "field scorer: '' is not allowed"),
        ({"kind": "score", "scorer": "probe:e"}, "field scorer: 'probe:e' must be orm:MODEL"),
        ({"kind": "score", "scorer": "orm:m;ls"}, "field scorer: 'orm:m;ls' is not allowed"),
        ({"problem_ids": ["p 1"]}, "field problems[0].problem_id: 'p 1' is not allowed"),
    ],
)
def test_request_validation_is_one_line(change: dict, message: str) -> None:
    good = {
        "host": "h", "kind": "generate", "problem_ids": ["p-1"], "run_id": "r",
        "temperatures": "0.7, 0.3,0.7", "n": "4", "max_tokens": "16", "model": "org/m",
        "backend": "vllm",
    }  # fmt: skip
    req = validate_request(good)
    assert req["temperatures"] == [0.3, 0.7] and req["n"] == 4 and req["max_tokens"] == 16
    with pytest.raises(RequestError) as err:
        validate_request({**good, **change})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_score_request_carries_the_checked_scorer() -> None:
    req = validate_request(
        {"host": "h", "kind": "score", "problem_ids": ["p-1"], "scorer": " orm:org/rm "}
    )
    assert req["kind"] == "score" and req["scorer"] == "orm:org/rm"


@pytest.mark.asyncio
async def test_rerun_from_ui_streams_survives_a_drop_and_new_pool_appears(
    sshd,
    tiny_model,
    make_app,
    no_agent,
) -> None:
    write_host_config(sshd)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f3")
        await settle(pilot, app)
        rows_before = app.screen.query_one("#problems").row_count
        await pilot.press("R")
        await settle(pilot, app)
        dialog = app.screen
        assert isinstance(dialog, RemoteRerunScreen)
        assert dialog.problem_ids == ["p-alpha"]
        assert dialog.query_one("#rerun-temps", Input).value == "0.5"
        assert dialog.query_one("#rerun-model", Input).value == ""  # run source "test"
        assert "'m' (test)" in str(dialog.query_one("#rerun-model-hint").render())
        assert HOST in dialog.hosts
        dialog.query_one("#rerun-host", Select).value = HOST
        dialog.query_one("#rerun-model", Input).value = tiny_model
        dialog.query_one("#rerun-n", Input).value = "many"
        await pilot.click("#rerun-submit")
        await settle(pilot, app)
        assert app.screen is dialog
        assert "field n: 'many' is not a whole number" in str(
            dialog.query_one("#rerun-error").render()
        )
        dialog.query_one("#rerun-temps", Input).value = "0.9"
        dialog.query_one("#rerun-n", Input).value = "12"
        dialog.query_one("#rerun-max-tokens", Input).value = "48"
        dialog.query_one("#rerun-model", Input).value = tiny_model
        await pilot.click("#rerun-submit")
        await pilot.pause()
        assert not isinstance(app.screen, RemoteRerunScreen)
        await pilot.press("f4")
        await pilot.pause()
        jobs = app.screen
        assert isinstance(jobs, JobsScreen)
        notes: list[str] = []
        cut = False
        for _ in range(1200):
            await pilot.pause(0.1)
            views = list(app.job_live.values())
            if not views:
                continue
            v = views[0]
            notes.append(v["note"])
            if v["state"] == "running" and not cut and "started" not in v["note"]:
                for pid in children(sshd["sshd_pid"]):  # cut every live session, server side
                    os.kill(pid, signal.SIGKILL)
                cut = True
            if v["state"] == "ingested" or v["note"].startswith("error"):
                break
        assert v["state"] == "ingested", (v, notes[-5:])
        assert cut and any("connection lost" in n for n in notes)
        await settle(pilot, app)
        (job_id,) = app.job_live
        row = [str(c) for c in jobs.query_one("#jobs-table").get_row(job_id)]
        assert row[:4] == [job_id, "generate", HOST, "ingested"]
        assert "generate" in str(jobs.query_one("#job-log").lines)
        assert sql(app, "SELECT status FROM jobs") == [("ingested",)]
        new = sql(
            app,
            "SELECT run_id, count(*), count(correct) FROM samples WHERE temperature = 0.9 "
            "GROUP BY ALL",
        )
        assert len(new) == 1 and new[0][1:] == (12, 12)
        await pilot.press("escape")
        await settle(pilot, app)
        pools = app.data.pools
        got = [
            (str(pools["problem_id"][i]), float(pools["temperature"][i]), int(pools["n"][i]))
            for i in range(len(pools["n"]))
            if pools["run_id"][i] == new[0][0]
        ]
        assert got == [("p-alpha", 0.9, 12)]
        assert app.screen.query_one("#problems").row_count == rows_before + 1


def add_finished_job(path: Path) -> None:
    """One ingested job with fixed times, a spec and a log holding an escape sequence."""
    spec = {
        "spec": {
            "job_id": "generate-20250101-000000-abcd1234",
            "kind": "generate",
            "problems": [{"problem_id": "p-alpha", "question": "q"}],
            "generate": {"model": "org/tiny", "backend": "transformers", "temperatures": [0.7],
                         "n": 4},
        },
        "remote": {"host": "gpubox", "job_dir": ".divtui/jobs/generate-20250101-000000-abcd1234"},
    }  # fmt: skip
    when = pd.Timestamp("2025-01-01 12:00:00")
    row = {
        "job_id": [spec["spec"]["job_id"]], "kind": ["generate"], "host": ["gpubox"],
        "status": ["ingested"], "spec": [json.dumps(spec)], "created_at": [when],
        "updated_at": [when], "log": ["[12:00:01] loading model\n\x1b[31m[12:00:02] generated 4\n"],
    }  # fmt: skip
    con = open_db(path)
    with transaction(con):
        insert(con, "jobs", pd.DataFrame(row))
    con.close()


async def _jobs(pilot) -> None:
    """F4 with one finished job."""
    await settle(pilot, pilot.app)
    await pilot.press("f4")
    await settle(pilot, pilot.app)


def test_snapshot_jobs(snap_compare, study, make_app) -> None:
    add_finished_job(study)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_jobs)


def test_score_request_builds_a_score_spec_with_the_unscored_samples(
    study: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    from divtui.store import open_db
    from divtui.tui.screens.jobs import build_spec

    con = open_db(study)
    pid, n = con.execute(
        "SELECT problem_id, count(*) FROM samples GROUP BY 1 ORDER BY 1 LIMIT 1"
    ).fetchall()[0]
    req = validate_request(
        {"host": "h", "kind": "score", "problem_ids": [pid], "scorer": "orm:o/rm"}
    )
    spec, inputs = build_spec(con, req, tmp_path)
    assert spec["kind"] == "score" and spec["score"]["scorer"] == "orm:o/rm"
    assert [p["problem_id"] for p in spec["problems"]] == [pid]
    shipped = pq.read_table(inputs["samples"])
    assert shipped.num_rows == n and set(shipped.column("problem_id").to_pylist()) == {pid}
