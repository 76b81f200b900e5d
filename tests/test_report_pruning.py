"""The `pruning` and `scorers` report tables against independent computations, the AUC against
scipy, the pruning plot, and `divtui score --scorer probe:E` on a real DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu

from divtui.engine.prune import run_prune
from divtui.engine.report import build_report
from divtui.engine.specs import PruneSpec
from divtui.engine.stats import auc, boot_auc, bootstrap_indices, bootstrap_weights
from divtui.store import open_db
from tests.conftest import run_divtui
from tests.test_prune import EMB, SCORER, build_study


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 60))
def test_auc_equals_scipy_mann_whitney(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # coarse: many ties
    y = rng.random(n) < rng.random()
    got = auc(x, y)
    if y.all() or not y.any():
        assert np.isnan(got)
        return
    u = mannwhitneyu(x[y], x[~y]).statistic
    assert got == pytest.approx(u / (y.sum() * (~y).sum()))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 40), st.integers(1, 6))
def test_boot_auc_equals_scipy_on_the_resampled_rows(seed: int, n: int, n_groups: int) -> None:
    """Each replicate equals Mann-Whitney on the rows of the drawn problems, repeated."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # coarse: many ties
    y = rng.random(n) < rng.random()
    g = rng.integers(0, n_groups, n)
    draws = bootstrap_indices(n_groups, 7, seed)
    got = boot_auc(x, y, g, bootstrap_weights(draws, n_groups))
    for b, drawn in enumerate(draws):
        rows = np.concatenate([np.flatnonzero(g == p) for p in drawn])
        xr, yr = x[rows], y[rows]
        if yr.all() or not yr.any():
            assert np.isnan(got[b])
            continue
        u = mannwhitneyu(xr[yr], xr[~yr]).statistic
        assert got[b] == pytest.approx(u / (yr.sum() * (~yr).sum()), abs=1e-12)
    # all problems once each: the plain AUC
    once = boot_auc(x, y, g, np.ones((1, n_groups)))[0]
    assert once == pytest.approx(auc(x, y), nan_ok=True)


def test_pruning_table_equals_pooled_rows(db_path: Path) -> None:
    build_study(db_path, problems=5, seed=6)
    con = open_db(db_path)
    run_prune(
        con,
        PruneSpec(metrics=["sbert", "bleu"], sizes=[6, 8], keep=[1, 2, 4]),
        notice=lambda s: None,
    )
    rows = build_report(con, tables=["pruning"], n_boot=200)["tables"]["pruning"]
    raw = con.execute(
        """SELECT d.k, p.metric, p.m, p.selector, p.aggregator, d.problem_id, p.correct
           FROM prune_outcomes p JOIN draws d USING (draw_id)"""
    ).df()
    assert len(rows) == 2 * 3 * 3  # k x (2 metrics + random) x m
    for r in rows:
        sub = raw[
            (raw.k == r["k"])
            & (raw.metric == r["metric"])
            & (raw.m == r["m"])
            & (raw.selector == r["selector"])
        ]
        assert r["n_problems"] == sub.problem_id.nunique() == 5
        for agg in ("maj", "wmaj", "bst", "mbr_lex", "mbr_sem", "coverage"):
            vals = sub[sub.aggregator == agg].correct.astype(float)
            assert r[agg] == pytest.approx(vals.mean())
            assert r[f"{agg}_lo"] <= r[agg] + 1e-12 <= r[f"{agg}_hi"] + 2e-12
        assert r["n_draws"] == len(sub) // 6
        assert r["embedder"] == EMB and r["scorer"] == SCORER and r["weighted"] is False
    # coverage of the random subset can only grow with m, on every draw
    cov = raw[(raw.selector == "random") & (raw.aggregator == "coverage")]
    assert cov.groupby("m").correct.mean().is_monotonic_increasing
    # medoids minus random, paired on the same draws, against a pandas merge
    pairs = con.execute(
        """SELECT d.k, p.draw_id, p.metric, p.m, p.selector, p.aggregator, d.problem_id,
                  d.temperature, p.correct::INT AS c
           FROM prune_outcomes p JOIN draws d USING (draw_id)"""
    ).df()
    med = pairs[pairs.selector == "medoids"]
    rnd = pairs[pairs.selector == "random"][["draw_id", "m", "aggregator", "c"]]
    both = med.merge(rnd, on=["draw_id", "m", "aggregator"], suffixes=("", "_r"))
    both["d"] = both.c - both.c_r
    for r in rows:
        if r["selector"] == "random":
            assert not any(k.endswith("_minus_random") for k in r)
            continue
        sub = both[(both.k == r["k"]) & (both.metric == r["metric"]) & (both.m == r["m"])]
        assert r["n_pools"] == sub.groupby(["problem_id", "temperature"]).ngroups
        for agg in ("maj", "bst", "coverage"):
            d = sub[sub.aggregator == agg]
            assert r[f"{agg}_minus_random"] == pytest.approx(d.d.mean(), abs=1e-12)
            per = d.groupby("problem_id").d.agg(["sum", "count"])
            idx = bootstrap_indices(len(per), 200, 0)
            boot = [per["sum"].iloc[i].sum() / per["count"].iloc[i].sum() for i in idx]
            lo, hi = np.percentile(boot, [2.5, 97.5])
            if r[f"{agg}_minus_random_lo"] is not None:
                assert (r[f"{agg}_minus_random_lo"], r[f"{agg}_minus_random_hi"]) == pytest.approx(
                    (lo, hi), abs=1e-12
                )
            else:
                assert f"{agg}_minus_random" in r["ci_note"]


def test_scorers_table_auc_and_bst(db_path: Path) -> None:
    build_study(db_path, problems=4, seed=1)
    con = open_db(db_path)
    (row,) = build_report(con, tables=["scorers"], n_boot=100)["tables"]["scorers"]
    s = con.execute(
        "SELECT c.value, s.correct FROM samples s JOIN scores c USING (sample_id)"
    ).fetchall()
    x = np.array([v for v, _ in s])
    y = np.array([c for _, c in s])
    u = mannwhitneyu(x[y], x[~y]).statistic
    assert row["scorer"] == SCORER and row["n_samples"] == len(s)
    assert row["n_correct"] == int(y.sum())
    assert row["auc"] == pytest.approx(u / (y.sum() * (~y).sum()))
    assert 0 <= row["auc_lo"] < row["auc"] < row["auc_hi"] <= 1
    # within pools: the mean of each pool's own Mann-Whitney AUC over pools with both classes
    pools = con.execute(
        "SELECT s.problem_id, s.temperature, c.value, s.correct FROM samples s "
        "JOIN scores c USING (sample_id)"
    ).df()
    per_pool = []
    for _, g in pools.groupby(["problem_id", "temperature"]):
        yy = g.correct.to_numpy(bool)
        if 0 < yy.sum() < len(yy):
            xx = g.value.to_numpy()
            per_pool.append(mannwhitneyu(xx[yy], xx[~yy]).statistic / (yy.sum() * (~yy).sum()))
    assert row["within_auc"] == pytest.approx(np.mean(per_pool))
    assert row["n_informative_pools"] == len(per_pool)
    assert row["n_pools"] == pools.groupby(["problem_id", "temperature"]).ngroups
    for k in (6, 8):
        acc = con.execute(
            """SELECT avg(o.correct::INT) FROM draw_outcomes o JOIN draws d USING (draw_id)
               WHERE o.aggregator = 'bst' AND d.k = ?""",
            [k],
        ).fetchall()[0][0]
        assert row[f"bst_k{k}"] == pytest.approx(acc)


def test_probe_cli_then_scorers_report_and_plot(db_path: Path, tmp_path: Path) -> None:
    build_study(db_path, problems=8, seed=2)
    res = run_divtui("score", "--db", str(db_path), "--scorer", f"probe:{EMB}", "--folds", "4")
    assert res.returncode == 0, res.stderr
    assert f"probe:{EMB}: 160 samples scored" in res.stdout
    con = open_db(db_path, read_only=True)
    vals = con.execute(
        "SELECT min(value), max(value), count(*) FROM scores WHERE scorer = ?", [f"probe:{EMB}"]
    ).fetchall()[0]
    con.close()
    assert 0 <= vals[0] <= vals[1] <= 1 and vals[2] == 160
    # rerun replaces, adds nothing
    assert run_divtui("score", "--db", str(db_path), "--scorer", f"probe:{EMB}").returncode == 0
    res = run_divtui("score", "--db", str(db_path), "--scorer", "probe:nope")
    assert res.returncode == 1 and "embedder 'nope' is not in the database" in res.stderr
    assert "Traceback" not in res.stderr
    res = run_divtui(
        "report", "--db", str(db_path), "--table", "scorers", "--format", "json", "--boot", "50"
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["tables"]["scorers"]
    assert {r["scorer"] for r in rows} == {SCORER, f"probe:{EMB}"}
    probe = next(r for r in rows if r["scorer"] == f"probe:{EMB}")
    # the correct samples' vectors are shifted: an honest out-of-fold probe ranks them well
    assert probe["auc"] > 0.75 and probe["n_samples"] == 160
    res = run_divtui(
        "prune",
        "--db",
        str(db_path),
        "--sizes",
        "6",
        "--keep",
        "1,3",
        "--metric",
        "bleu",
        "--weighted",
    )
    assert res.returncode == 0, res.stderr
    plots = tmp_path / "plots"
    res = run_divtui(
        "report", "--db", str(db_path), "--table", "pruning", "--boot", "50", "--plots", str(plots)
    )
    assert res.returncode == 0, res.stderr
    assert "bleu | medoids (weighted) | 3 |" in res.stdout
    assert (plots / "pruning_r_N6.png").stat().st_size > 5000
