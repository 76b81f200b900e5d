"""Issue 13, the browser as a daily tool: each item driven through Pilot, asserting what is shown
against independent answers (plain SQL on the file, scipy, subprocesses holding the file)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import percentileofscore
from textual.widgets import Input, Select

from divtui.store import jobs as jq
from divtui.store import open_db
from divtui.tui.screens import jobs
from divtui.tui.screens.batch import BatchScreen
from divtui.tui.screens.jobs import JobsScreen
from divtui.tui.screens.modals import ViewerScreen
from divtui.tui.screens.overview import OverviewScreen
from divtui.tui.screens.problems import ProblemsScreen
from divtui.tui.screens.rerun import RemoteRerunScreen

from ..conftest import run_divtui
from .conftest import SIZE, screen_text, settle
from .test_pilot import column, rows_of, shown, to_problems, type_filter
from .tui_fixtures import EMBEDDER, SECOND_RUN

pytestmark = pytest.mark.asyncio


def sql(path: Path, query: str, params: list | None = None) -> list[tuple]:
    """Independent answers straight from a database file (read-only, beside the app)."""
    con = open_db(path, read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def ssh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hosts: list[str]) -> Path:
    """A HOME whose ~/.ssh/config names ``hosts`` (none: no config file at all)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    if hosts:
        text = "".join(f"Host {h}\n  HostName 127.0.0.1\n" for h in hosts)
        (home / ".ssh" / "config").write_text("Host *\n  ServerAliveInterval 5\n" + text)
    monkeypatch.setenv("HOME", str(home))
    return home


async def open_rerun(pilot, app) -> RemoteRerunScreen:
    """F3, then R on the first pool."""
    await to_problems(pilot, app)
    await pilot.press("R")
    await settle(pilot, app)
    assert isinstance(app.screen, RemoteRerunScreen)
    return app.screen


# 1 and 12: the rerun dialog with no, one and two hosts; labels, model, errors that stay


async def test_rerun_dialog_without_ssh_config_says_no_hosts(make_app, tmp_path, monkeypatch):
    ssh_home(tmp_path, monkeypatch, [])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_rerun(pilot, app)
        assert dialog.hosts == [] and not dialog.query("#rerun-host")
        line = shown(dialog.query_one("#rerun-no-hosts"))
        assert line.startswith("no hosts: add a Host to") and ".ssh/config" in line
        await pilot.click("#rerun-submit")
        await settle(pilot, app)
        assert app.screen is dialog
        assert "error: field host: no hosts" in shown(dialog.query_one("#rerun-error"))


async def test_rerun_dialog_with_two_hosts_offers_a_picker(make_app, tmp_path, monkeypatch):
    ssh_home(tmp_path, monkeypatch, ["gpu-a", "gpu-b"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_rerun(pilot, app)
        host = dialog.query_one("#rerun-host", Select)
        assert dialog.hosts == ["gpu-a", "gpu-b"] and host.value is Select.NULL
        assert [str(o[0]) for o in host._options[1:]] == ["gpu-a", "gpu-b"]
        await pilot.click("#rerun-submit")
        await settle(pilot, app)
        error = dialog.query_one("#rerun-error")
        assert "field host: pick a host" in shown(error) and host.has_class("-invalid")
        dialog.query_one("#rerun-n", Input).value = "9"
        await pilot.pause()
        assert "field host" in shown(error), "an error stays while other fields change"
        host.value = "gpu-b"
        await pilot.pause()
        assert shown(error) == "" and not host.has_class("-invalid")
        assert dialog.values()["host"] == "gpu-b"


async def test_rerun_dialog_with_one_host_preselects_it(make_app, tmp_path, monkeypatch):
    ssh_home(tmp_path, monkeypatch, ["only-box"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_rerun(pilot, app)
        assert dialog.query_one("#rerun-host", Select).value == "only-box"


async def test_rerun_dialog_labels_model_and_errors_until_changed(
    make_app, study: Path, tmp_path, monkeypatch
):
    ssh_home(tmp_path, monkeypatch, ["box"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_rerun(pilot, app)
        labels = [shown(lab) for lab in dialog.query(".rerun-label")]
        assert labels == [
            "host", "kind", "temperatures", "n per T", "max tokens", "model", "scorer", "backend"
        ]  # fmt: skip
        model = dialog.query_one("#rerun-model", Input)
        assert model.value == "" and model.placeholder == ""
        assert "'m' (test) is not one to sample with" in shown(
            dialog.query_one("#rerun-model-hint")
        )
        model.value = "org/m"
        dialog.query_one("#rerun-n", Input).value = "many"
        await pilot.click("#rerun-submit")
        await settle(pilot, app)
        error = dialog.query_one("#rerun-error")
        assert "field n: 'many' is not a whole number" in shown(error)
        assert dialog.query_one("#rerun-n").has_class("-invalid")
        dialog.query_one("#rerun-temps", Input).value = "0.9"
        await pilot.pause()
        assert "field n" in shown(error)
        dialog.query_one("#rerun-n", Input).value = "12"
        await pilot.pause()
        assert shown(error) == "" and not dialog.query_one("#rerun-n").has_class("-invalid")
        model.value = ""
        await pilot.click("#rerun-submit")
        await settle(pilot, app)
        assert "field model: give a model id" in shown(error)
        assert model.has_class("-invalid")
    app.db.close()
    con = open_db(study)
    con.execute("UPDATE runs SET source = 'vllm', model = 'Qwen/Qwen2.5-Math-1.5B'")
    con.close()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_rerun(pilot, app)
        assert dialog.query_one("#rerun-model", Input).value == "Qwen/Qwen2.5-Math-1.5B"


# 2 and 7: filters AND together, repeats refused, plain-text and regex search


async def test_two_aggregator_terms_both_apply(make_app, study_template: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, "maj=wrong bst=correct")
        state = shown(app.screen.query_one("#filter-state"))
        assert "filters: maj=wrong bst=correct" in state
        want = sql(
            study_template,
            """SELECT d.problem_id, d.temperature, count(*) FROM draws d
               JOIN draw_outcomes m ON m.draw_id = d.draw_id AND m.aggregator = 'maj'
               JOIN draw_outcomes b ON b.draw_id = d.draw_id AND b.aggregator = 'bst'
               WHERE NOT m.correct AND b.correct GROUP BY ALL ORDER BY 1, 2""",
        )
        got = [(p, float(t), int(n)) for p, t, n in rows_of(app, "problem", "T", "draws")]
        assert got == [(p, t, n) for p, t, n in want] and got
        assert f"{len(want)} pools" in state
        only_maj = sql(
            study_template,
            """SELECT count(*) FROM draw_outcomes WHERE aggregator = 'maj' AND NOT correct""",
        )[0][0]
        assert sum(n for *_, n in got) < only_maj


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("k=2 k=4", "field k: given twice (k=2 and k=4)"),
        ("maj=wrong maj=correct", "field maj: given twice"),
        ("T=0.5 temp=1", "field T: given twice"),
    ],
)
async def test_a_repeated_filter_is_refused(make_app, text: str, needle: str) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        before = rows_of(app, "problem", "T")
        await type_filter(pilot, app, text)
        state = shown(app.screen.query_one("#filter-state"))
        assert state.startswith("error: ") and needle in state
        assert rows_of(app, "problem", "T") == before


async def test_plain_text_search_takes_latex_as_typed(make_app, two_runs: Path) -> None:
    app = make_app(path=two_runs)
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, r"\frac{1}")
        want = sql(
            two_runs,
            r"""SELECT DISTINCT s.problem_id, s.temperature FROM samples s JOIN problems p
                USING (problem_id)
                WHERE contains(lower(s.text), '\frac{1}') OR contains(lower(p.question), '\frac{1}')
                ORDER BY 1, 2""",
        )
        got = sorted((p, float(t)) for p, t in rows_of(app, "problem", "T"))
        assert got == sorted(want) and {"gsm8k:10", "p-alpha"} <= {p for p, _ in got}
        assert r"filters: \frac{1}" in shown(app.screen.query_one("#filter-state"))
        await type_filter(pilot, app, r"\FRAC{1} run=run-b")
        assert rows_of(app, "problem", "T") == [("gsm8k:10", "0.7")]
        await type_filter(pilot, app, '"What is 14"')
        assert rows_of(app, "problem", "T") == [("gsm8k:2", "0.7")]


async def test_invalid_patterns_give_a_message(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        n = len(column(app, "problem"))
        await type_filter(pilot, app, "/([/")
        state = shown(app.screen.query_one("#filter-state"))
        assert state.startswith("error: field regex")
        app.screen.query_one("#problems").focus()
        await type_filter(pilot, app, "/(?=x)/")  # Python accepts it, DuckDB's RE2 does not
        state = shown(app.screen.query_one("#filter-state"))
        assert state.startswith("error: field regex: '(?=x)' is not a valid pattern")
        assert len(column(app, "problem")) == n


# 3: the overview plot never pools runs


async def test_overview_plot_has_one_line_per_run_or_aggregator(make_app, two_runs: Path) -> None:
    app = make_app(path=two_runs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        plot = app.screen.query_one("#ov-plot")
        want = {
            (r, a, k): v
            for r, a, k, v in sql(
                two_runs,
                """SELECT d.run_id, o.aggregator, d.k, avg(o.correct::INT) FROM draw_outcomes o
                   JOIN draws d USING (draw_id) GROUP BY ALL""",
            )
        }
        pooled = dict(
            sql(
                two_runs,
                """SELECT d.k, avg(o.correct::INT) FROM draw_outcomes o JOIN draws d
                   USING (draw_id) WHERE o.aggregator = 'maj' GROUP BY 1""",
            )
        )
        for run in ("run-a", SECOND_RUN):
            assert plot.view == ("run", run) and plot.title() == f"run {run}: accuracy vs k"
            for agg, (ks, ys) in plot._series.items():
                assert ys == pytest.approx([want[(run, agg, k)] for k in ks])
            legend = shown(app.screen.query_one("#ov-legend"))
            assert all(f"{m} {a}" in legend for m, a in zip("ox+*#@", plot._series, strict=False))
            assert "point: mean over size-k draws, all problems & T" in legend
            await pilot.press("u")
            await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert plot.view == ("aggregator", "maj") and set(plot._series) == {"run-a", SECOND_RUN}
        for run, (ks, ys) in plot._series.items():
            assert ys == pytest.approx([want[(run, "maj", k)] for k in ks])
            assert ys != pytest.approx([pooled[k] for k in ks])
        assert "o run run-a" in shown(app.screen.query_one("#ov-legend"))


# 4: read-only, other processes read meanwhile, a blocked write waits and says who holds the file


async def test_report_runs_on_the_file_while_the_browser_is_open(make_app, study: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        assert app.sub_title == "read-only · study.duckdb"
        out = await asyncio.to_thread(
            run_divtui, "report", "--db", str(study), "--format", "json", "--table", "pass_at_k"
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["tables"]["pass_at_k"]
        await type_filter(pilot, app, "T=1")
        assert len(column(app, "problem")) == 3


async def test_a_write_waits_while_another_process_holds_the_file(make_app, study: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('ok', flush=True); sys.stdin.readline()",
            str(study),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            spec = {"job_id": "j-1", "kind": "grade", "problems": []}
            write = asyncio.ensure_future(
                jobs.write_db(
                    app, jq.record_job, job_id="j-1", kind="grade", host="h",
                    status="running", spec=spec, remote={"host": "h"},
                )
            )  # fmt: skip
            for _ in range(100):
                await pilot.pause(0.05)
                if "cannot write" in app.sub_title:
                    break
            assert f"cannot write: held by process {holder.pid}" in app.sub_title
            assert not write.done()
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=10)
            await asyncio.wait_for(write, timeout=20)
            assert app.sub_title == "read-only · study.duckdb"
            assert app.con.execute("SELECT job_id, status FROM jobs").fetchall() == [
                ("j-1", "running")
            ]
    finally:
        holder.kill()
        holder.wait()
    assert sql(study, "SELECT count(*) FROM jobs")[0][0] == 1


# 5: the batch header, the viewer and the export carry the context


async def test_batch_header_shows_gold_metrics_with_percentiles_and_terms(
    make_app, study_template: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, "T=0.5 k=4 maj=correct")
        await pilot.press("enter")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, BatchScreen)
        title = shown(screen.query_one("#batch-title"))
        info = screen.detail["info"]
        assert title.startswith(f"{info['problem_id']}  run run-a  T=0.5  k=4  rep {info['rep']}")
        assert "\ngold 7  " in title
        assert "filters T=0.5 ✓  k=4 ✓  maj=correct ✓" in title
        assert f"\nQ: {info['question']}" in title
        for metric in ("cosine_sim", "distinct_n", "dpp", "qual_dpp", "mean_logprob"):
            (value,) = sql(
                study_template,
                "SELECT value FROM draw_metrics WHERE draw_id = ? AND metric = ?",
                [info["draw_id"], metric],
            )[0]
            ref = [
                v
                for (v,) in sql(
                    study_template,
                    """SELECT m.value FROM draw_metrics m JOIN draws d USING (draw_id)
                       WHERE d.run_id = 'run-a' AND d.k = 4 AND m.metric = ?
                         AND m.embedder IN ('', ?)""",
                    [metric, EMBEDDER],
                )
            ]
            pct = percentileofscore(ref, value, kind="mean")
            assert f"{metric} {value:.3g} p{pct:.0f}" in title, (metric, title)
        assert "percentile among the run's 18 draws of k=4" in title
        await pilot.press("f")
        await settle(pilot, app)
        assert isinstance(app.screen, ViewerScreen)
        head = shown(app.screen.query_one("#viewer-head"))
        first = screen.detail["members"][0]
        reward, mlp, slp, ntok = sql(
            study_template,
            """SELECT c.value, s.mean_logprob, s.sum_logprob, s.n_tokens FROM samples s
               JOIN scores c USING (sample_id) WHERE sample_id = ?""",
            [first["sample_id"]],
        )[0]
        assert "gold 7" in head and f"Q: {info['question']}" in head
        assert f"reward {reward:.3f}  mean log-prob {mlp:.3f}  sum log-prob {slp:.2f}" in head
        assert f"tokens {ntok}" in head
        await pilot.press("escape", "e")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = "b.jsonl"
        await pilot.press("enter")
        await settle(pilot, app)
        rows = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
        assert len(rows) == 4
        for r in rows:
            assert (r["problem_id"], r["draw_id"], r["run_id"]) == (
                info["problem_id"], info["draw_id"], "run-a"
            )  # fmt: skip
            assert (r["temperature"], r["k"], r["gold_answer"]) == (0.5, 4, "7")
            assert r["question"] == info["question"]


async def test_a_fresh_batch_shows_which_terms_it_meets(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, "k=4 maj=wrong")
        await pilot.press("enter")
        await settle(pilot, app)
        screen = app.screen
        for _ in range(6):
            await pilot.press("d")
            await pilot.pause()
            app.screen.query_one("#prompt-input").value = "3"
            await pilot.press("enter")
            await settle(pilot, app)
            maj = next(p for p in screen.detail["picks"] if p["aggregator"] == "maj")
            title = shown(screen.query_one("#batch-title"))
            assert f"filters k=4 ✗  maj=wrong {'✗' if maj['correct'] else '✓'}" in title
            assert "k=3" in title and "gold 7" in title


# 6: the problems table


async def test_problems_table_rows_are_pools_with_metrics_at_one_k(
    make_app, study_template: Path
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        state = shown(app.screen.query_one("#filter-state"))
        assert "6 pools" in state and "pass@k, metrics at k=4" in state
        labels = app.screen.query_one("#problems").labels()
        assert "dpp@4" in labels and "pass@4" in labels
        want = {
            (p, t): v
            for p, t, v in sql(
                study_template,
                """SELECT d.problem_id, d.temperature, avg(m.value) FROM draws d
                   JOIN draw_metrics m USING (draw_id) WHERE m.metric = 'dpp' AND d.k = 4
                   GROUP BY ALL""",
            )
        }
        for p, t, v in rows_of(app, "problem", "T", "dpp"):
            assert float(v) == pytest.approx(want[(p, float(t))], abs=5e-4)
        await type_filter(pilot, app, "k=2")
        assert "dpp@2" in app.screen.query_one("#problems").labels()
        questions = dict(sql(study_template, "SELECT problem_id, question FROM problems"))
        for p, q in rows_of(app, "problem", "question"):
            assert questions[p].startswith(q.rstrip("…"))


async def test_run_filter_natural_order_keyboard_sort_and_frozen_columns(
    make_app, two_runs: Path
) -> None:
    app = make_app(path=two_runs)
    async with app.run_test(size=(100, 20)) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, f"run={SECOND_RUN}")
        assert column(app, "problem") == ["gsm8k:1", "gsm8k:2", "gsm8k:10"]
        assert set(column(app, "run")) == {SECOND_RUN}
        await type_filter(pilot, app, "run=nope")
        assert "field run: no run 'nope' (runs: run-a, run-b)" in shown(
            app.screen.query_one("#filter-state")
        )
        app.screen.query_one("#problems").focus()
        await type_filter(pilot, app, f"run={SECOND_RUN}")
        table = app.screen.query_one("#problems")
        table.focus()
        await pilot.press("s")
        await settle(pilot, app)
        assert column(app, "problem") == ["gsm8k:1", "gsm8k:2", "gsm8k:10"]
        assert "problem ▲" in table.labels()
        await pilot.press("s")
        await settle(pilot, app)
        assert column(app, "problem") == ["gsm8k:10", "gsm8k:2", "gsm8k:1"]
        c_at = table.keys_shown().index("c")
        for _ in range(c_at):
            await pilot.press("right")
        await pilot.press("s")
        await settle(pilot, app)
        assert table.current_column() == "c"
        cs = [int(x) for x in column(app, "c")]
        assert cs == sorted(cs) and "c ▲" in table.labels()
        for _ in range(len(table.columns)):
            await pilot.press("right")
        await pilot.pause()
        assert table.scroll_x > 0 and table.current_column() == table.keys_shown()[-1]
        lines = [table.render_line(y).text for y in range(1 + table.row_count)]
        assert lines[0].split()[:2] == ["problem", "T"]
        assert lines[0].split()[-1] == table.labels()[-1]
        for line, (p, t) in zip(lines[1:], rows_of(app, "problem", "T"), strict=True):
            assert line.split()[:2] == [p, t]


async def test_unfiltered_problems_sort_naturally_within_each_run(make_app, two_runs: Path):
    app = make_app(path=two_runs)
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        got = rows_of(app, "run", "problem")
        assert [p for r, p in got if r == SECOND_RUN] == ["gsm8k:1", "gsm8k:2", "gsm8k:10"]
        assert [r for r, _ in got] == sorted(r for r, _ in got)


# 8: navigation and small terminals


async def test_f_keys_switch_screens_instead_of_stacking(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for key, screen in (
            ("f2", OverviewScreen), ("f4", JobsScreen), ("f3", ProblemsScreen),
            ("f2", OverviewScreen), ("f4", JobsScreen), ("f2", OverviewScreen),
        ):  # fmt: skip
            await pilot.press(key)
            await settle(pilot, app)
            assert isinstance(app.screen, screen), key
        await pilot.press("f3", "enter")
        await settle(pilot, app)
        assert isinstance(app.screen, BatchScreen)
        await pilot.press("f4")
        await settle(pilot, app)
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, ProblemsScreen), "Esc on jobs goes back where F4 came from"
        await pilot.press("enter")
        await settle(pilot, app)
        await pilot.press("f2", "f3")
        await settle(pilot, app)
        assert isinstance(app.screen, ProblemsScreen), "F3 shows the problems, not the batch"
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, OverviewScreen)


async def test_80x24_keeps_back_help_legend_and_question_on_screen(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        text = screen_text(app)
        legend = app.screen.query_one("#ov-legend")
        plot = app.screen.query_one("#ov-plot")
        assert not plot.region.overlaps(legend.region)
        for agg in ("maj", "wmaj", "bst", "mbr_lex", "mbr_sem", "coverage"):
            assert agg in shown(legend)
        assert "point: mean over size-k draws" in text
        await pilot.press("f3")
        await settle(pilot, app)
        text = screen_text(app)
        assert "esc  Back" in text and "f1  Help" in text and "Open batch" in text
        await pilot.press("enter")
        await settle(pilot, app)
        text = screen_text(app)
        assert "esc  Back" in text and "f1  Help" in text and "Pruning" in text
        assert "gold 7" in text and "Q: What is $3 + 4$?" in text
        await pilot.press("R")
        await settle(pilot, app)
        text = screen_text(app)
        assert "Run on host" in text and "backend" in text


# 11: long solutions


async def test_column_headers_stay_while_text_scrolls_and_columns_scroll_together(
    make_app, study: Path
) -> None:
    long = "\n".join(f"line {i}: step" for i in range(120)) + "\n\\boxed{7}"
    con = open_db(study)
    con.execute(
        "UPDATE samples SET text = ? WHERE problem_id = 'p-gamma' AND temperature = 0.5", [long]
    )
    con.close()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_problems(pilot, app)
        await type_filter(pilot, app, "/line 119/ k=4")
        await pilot.press("enter")
        await settle(pilot, app)
        screen = app.screen
        cols = [c for c in screen.columns() if c.display]
        assert len(cols) == 2
        await pilot.press("pagedown", "pagedown")
        await settle(pilot, app)
        first, second = (c.query_one(".sol-scroll") for c in cols)
        assert first.scroll_y > 0 and second.scroll_y == 0
        text = screen_text(app)
        assert "#0 idx" in text and "#1 idx" in text and text.count("line 0: step") == 1
        heads = [c.query_one(".sol-head") for c in cols]
        assert heads[0].region.y == heads[1].region.y and heads[0].region.height == 4
        assert heads[0].region.bottom <= first.region.y
        await pilot.press("s", "pagedown")
        await settle(pilot, app)
        assert screen.together and first.scroll_y == second.scroll_y > 0
        assert "line 0: step" not in screen_text(app) and "#1 idx" in screen_text(app)
        await pilot.press("end")
        await settle(pilot, app)
        assert first.scroll_y == first.max_scroll_y and second.scroll_y == second.max_scroll_y
        assert "\\boxed{7}" in screen_text(app) and "#0 idx" in screen_text(app)
        assert np.isclose(first.scroll_y, second.scroll_y)


# 10 is tested in tests/test_import_default_db.py (the CLI), 9 in test_prune_screen.py.
