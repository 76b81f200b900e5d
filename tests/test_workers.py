"""Worker processes for the per-pool work: the same tables whatever the number of workers, an
interrupted run resumes without duplicates, results come back in order, and bad settings are
one-line errors (CLI, study.toml, remote draw spec)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine import workers as wk
from divtui.engine.draws import run_draws
from divtui.engine.prune import run_prune
from divtui.engine.remote import jobspec as js
from divtui.engine.specs import DrawSpec, PruneSpec
from divtui.engine.study import StudyError, load_study
from divtui.store import open_db
from tests import test_prune
from tests.conftest import run_divtui
from tests.test_draws import make_study, no_duplicates, stored
from tests.workers_task import square_pid


def test_ordered_gives_results_in_submission_order() -> None:
    for workers in (1, 2, 3):
        got = []
        with wk.ordered(square_pid, workers, []) as runner:
            for x in range(9):
                got += runner.submit(x)
                assert len(got) >= x - 2 * workers  # never more than 2 workers + 1 in flight
            got += list(runner.drain())
        assert [r for r, _ in got] == [x * x for x in range(9)]
        pids = {p for _, p in got}
        assert (pids == {os.getpid()}) if workers == 1 else (os.getpid() not in pids)


def test_one_task_stays_in_process_and_errors_stop_the_pool() -> None:
    with wk.ordered(square_pid, 2, []) as runner:
        assert runner.submit(3) == []
        (only,) = list(runner.drain())
    assert only == (9, os.getpid()) and runner.pool is None
    with (
        pytest.raises(ValueError, match="negative task -1"),
        wk.ordered(square_pid, 2, []) as runner,
    ):
        for x in (1, -1, 2, 3, 4):
            runner.submit(x)
        list(runner.drain())
    assert runner.pool is not None and not runner.pool.active
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        wk.resolve_workers(0)
    assert wk.resolve_workers(None) == (os.cpu_count() or 1)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.integers(1, 12_000)), max_size=30),
    st.integers(1, 9),
)
def test_problem_chunks_are_greedy_within_both_limits(
    problems: list[tuple[int, int]], max_pools: int
) -> None:
    keys = [("r", f"p{i:02d}", t, n) for i, (temps, n) in enumerate(problems) for t in range(temps)]
    chunks = wk.problem_chunks(keys, max_pools)
    assert [p for c in chunks for p in c] == [f"p{i:02d}" for i in range(len(problems))]
    pools = {f"p{i:02d}": t for i, (t, _) in enumerate(problems)}
    samples = {f"p{i:02d}": t * n for i, (t, n) in enumerate(problems)}
    for a, chunk in enumerate(chunks):
        size, weight = sum(pools[p] for p in chunk), sum(samples[p] for p in chunk)
        assert len(chunk) == 1 or (size <= max_pools and weight <= wk.BATCH_SAMPLES)
        if a + 1 < len(chunks):
            nxt = chunks[a + 1][0]
            assert size + pools[nxt] > max_pools or weight + samples[nxt] > wk.BATCH_SAMPLES, (
                "a chunk stopped before it was full"
            )


def test_draws_are_the_same_whatever_the_number_of_workers(tmp_path: Path) -> None:
    paths = [tmp_path / f"w{w}.duckdb" for w in (1, 2, 3)]
    make_study(paths[0], problems=7)
    for p in paths[1:]:
        shutil.copy(paths[0], p)
    tables = []
    for workers, path in zip((1, 2, 3), paths, strict=True):
        con = open_db(path)
        stats = run_draws(
            con,
            DrawSpec(sizes=[2, 4, 7], reps=5, seed=3, quality="both", workers=workers),
            batch_pools=2,
            notice=lambda _: None,
        )
        tables.append((stored(con), {k: v for k, v in stats.items() if k != "skipped_small"}))
        con.close()
    assert tables[0][0][0] and tables[1] == tables[0] and tables[2] == tables[0]


def test_interrupted_run_with_workers_resumes_without_duplicates(tmp_path: Path) -> None:
    ref, cut = tmp_path / "ref.duckdb", tmp_path / "cut.duckdb"
    make_study(ref, problems=6)
    shutil.copy(ref, cut)
    args = {"sizes": [2, 4], "reps": 3, "seed": 1}
    opts: dict = {"batch_pools": 2, "notice": lambda _: None}
    con = open_db(ref)
    run_draws(con, DrawSpec(workers=1, **args), **opts)
    want = stored(con)
    con.close()

    def stop(done: int, total: int, label: str) -> None:
        """Ctrl-C after the first committed batch."""
        raise KeyboardInterrupt

    con = open_db(cut)
    with pytest.raises(KeyboardInterrupt):
        run_draws(con, DrawSpec(workers=2, **args), progress=stop, **opts)
    partial = con.execute("SELECT count(*) FROM draws").fetchall()[0][0]
    assert 0 < partial < len(want[0])
    again = run_draws(con, DrawSpec(workers=2, **args), **opts)
    assert again["draws_existing"] == partial
    assert stored(con) == want
    no_duplicates(con)
    con.close()


def test_pruning_is_the_same_whatever_the_number_of_workers(tmp_path: Path) -> None:
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    test_prune.build_study(one, problems=5, orm=True, seed=4)
    shutil.copy(one, two)
    args = {"metrics": ["sbert", "bleu", "orm"], "sizes": [6, 8], "keep": [1, 2, 4]}
    out = []
    for path, workers in ((one, 1), (two, 2)):
        con = open_db(path)
        stats = run_prune(
            con, PruneSpec(workers=workers, **args), batch_pools=2, notice=lambda _: None
        )
        rows = con.execute("SELECT * FROM prune_outcomes ORDER BY ALL").fetchall()
        out.append((rows, stats))
        con.close()
    assert out[0][0] and out[1] == out[0]


def test_interrupted_prune_with_workers_resumes(tmp_path: Path) -> None:
    ref, cut = tmp_path / "ref.duckdb", tmp_path / "cut.duckdb"
    test_prune.build_study(ref, problems=5, seed=2)
    shutil.copy(ref, cut)
    args = {"metrics": ["sbert", "bleu"], "sizes": [6], "keep": [1, 2, 4]}
    con = open_db(ref)
    run_prune(con, PruneSpec(workers=1, **args), batch_pools=2, notice=lambda _: None)
    want = con.execute("SELECT * FROM prune_outcomes ORDER BY ALL").fetchall()
    con.close()

    def stop(done: int, total: int, label: str) -> None:
        raise KeyboardInterrupt

    con = open_db(cut)
    with pytest.raises(KeyboardInterrupt):
        run_prune(
            con, PruneSpec(workers=2, **args), batch_pools=2, progress=stop, notice=lambda _: None
        )
    partial = con.execute("SELECT count(*) FROM prune_outcomes").fetchall()[0][0]
    assert 0 < partial < len(want)
    stats = run_prune(con, PruneSpec(workers=2, **args), batch_pools=2, notice=lambda _: None)
    assert stats["draws_skipped"] > 0
    assert con.execute("SELECT * FROM prune_outcomes ORDER BY ALL").fetchall() == want
    con.close()


def test_workers_option_on_the_cli_study_file_and_remote_spec(
    db_path: Path, tmp_path: Path
) -> None:
    make_study(db_path)
    base = ["--db", str(db_path), "--sizes", "2", "--reps", "2", "--seed", "4"]
    bad = run_divtui("draw", *base, "--workers", "0")
    assert bad.returncode == 2 and "--workers" in bad.stderr and "Traceback" not in bad.stderr
    ok = run_divtui("draw", *base, "--workers", "2")
    assert ok.returncode == 0 and "12 draws written" in ok.stdout
    ok = run_divtui("prune", "--db", str(db_path), "--sizes", "2", "--keep", "1", "--workers", "1")
    assert ok.returncode == 0, ok.stderr
    bad = run_divtui("prune", "--db", str(db_path), "--sizes", "2", "--workers", "x")
    assert bad.returncode == 2 and "--workers" in bad.stderr

    study = tmp_path / "study.toml"
    study.write_text('[study]\ndb = "s.duckdb"\n\n[draw]\nsizes = [2]\nreps = 2\nworkers = 0\n')
    with pytest.raises(StudyError, match=r"study\.toml:7: key draw\.workers: must be a positive"):
        load_study(study)
    study.write_text('[study]\ndb = "s.duckdb"\n\n[draw]\nsizes = [2]\nreps = 2\nworkers = 2\n')
    assert load_study(study).sections["draw"]["workers"] == 2

    problems = [{"problem_id": "p", "question": "q"}]
    spec = js.draw_spec(problems, sizes=[2], reps=1, seed=0, workers=3)
    assert js.validate_spec(spec)["draw"]["workers"] == 3
    assert (
        js.validate_spec(js.draw_spec(problems, sizes=[2], reps=1, seed=0))["draw"]["workers"]
        is None
    )
    with pytest.raises(js.SpecError, match="draw.workers"):
        js.validate_spec({**spec, "draw": {**spec["draw"], "workers": 0}})
