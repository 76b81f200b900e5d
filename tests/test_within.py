"""Pooled / between / within correlations, fixed-effects slopes and interval rules: against
pandas, statsmodels and plain loops, and on simulated studies whose truth is known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss
import statsmodels.api as sm

from divtui.engine import decompose as dc
from divtui.engine import fixed_effects as fe
from divtui.engine import intervals as iv
from divtui.engine import stats
from divtui.engine.report import build_report
from divtui.engine.specs import DrawSpec
from divtui.store import draw_id, insert, open_db, transaction
from tests.conftest import run_divtui

TEMPS = (0.5, 1.0)


def _append(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    """Bulk-append to a table without a key."""
    con.register("_rows", df)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    finally:
        con.unregister("_rows")


def write_draws(path: Path, draws: pd.DataFrame) -> None:
    """A study file from a frame of draws: problem_id, temperature, k, rep, the metric ``x``,
    ``mean_logprob`` and the 0/1 outcomes ``maj`` and ``coverage`` (and ``n_correct``)."""
    con = open_db(path)
    d = draws.copy()
    d["run_id"] = "r"
    d["seed"] = 0
    d["draw_id"] = [
        draw_id("r", p, t, k, rep, 0)
        for p, t, k, rep in zip(d.problem_id, d.temperature, d.k, d.rep, strict=True)
    ]
    d["sample_ids"] = [[1, 2]] * len(d)
    metrics = []
    for name in ("x", "mean_logprob", "n_correct"):
        if name in d:
            label = "cosine_sim" if name == "x" else name
            emb = "e@8" if name == "x" else ""
            metrics.append(
                pd.DataFrame(
                    {
                        "draw_id": d.draw_id,
                        "metric": label,
                        "embedder": emb,
                        "scorer": "",
                        "value": d[name],
                    }
                )
            )
    outcomes = [
        pd.DataFrame(
            {
                "draw_id": d.draw_id,
                "aggregator": a,
                "embedder": "",
                "scorer": "",
                "sample_id": pd.array([None] * len(d), dtype="Int64"),
                "correct": d[a].astype(bool),
            }
        )
        for a in ("maj", "coverage")
        if a in d
    ]
    with transaction(con):
        insert(con, "runs", pd.DataFrame({"run_id": ["r"], "source": ["demo (simulated)"]}))
        insert(
            con,
            "problems",
            pd.DataFrame({"problem_id": sorted(d.problem_id.unique()), "question": "q"}),
        )
        insert(
            con,
            "draws",
            d[["draw_id", "run_id", "problem_id", "temperature", "k", "rep", "seed", "sample_ids"]],
        )
        _append(con, "draw_metrics", pd.concat(metrics))
        _append(con, "draw_outcomes", pd.concat(outcomes))
    con.close()


def _report(path: Path, **kw: object) -> dict:
    """build_report on a read-only connection."""
    con = open_db(path, read_only=True)
    try:
        return build_report(con, **kw)  # type: ignore[arg-type]
    finally:
        con.close()


def simulate(
    rng: np.random.Generator,
    *,
    n_problems: int = 40,
    reps: int = 30,
    confound: float = 0.0,
    beta: float = 0.0,
    base: tuple[float, float] = (0.2, 0.8),
) -> pd.DataFrame:
    """Draws of k = 8 with a metric x = mu_pool + e (e standard normal) and a 0/1 outcome with
    P(correct) = b_pool + beta * e: ``confound`` ties mu to the pool's base accuracy (a purely
    between-problem link); ``beta`` is the planted within-pool effect per within-pool SD."""
    rows = []
    for p in range(n_problems):
        skill = rng.uniform(*base)
        for t in TEMPS:
            b = float(np.clip(skill - 0.1 * t, 0.05, 0.95))
            mu = confound * b + rng.normal(scale=0.05)
            e = rng.normal(size=reps)
            prob = np.clip(b + beta * e, 0.0, 1.0)
            y = (rng.random(reps) < prob).astype(float)
            lp = rng.normal(-0.5, 0.1, reps)
            for r in range(reps):
                rows.append(
                    {
                        "problem_id": f"p{p:03d}",
                        "temperature": t,
                        "k": 8,
                        "rep": r,
                        "x": mu + e[r],
                        "mean_logprob": lp[r],
                        "maj": y[r],
                        "coverage": float(y[r] or rng.random() < 0.5),
                    }
                )
    return pd.DataFrame(rows)


def _row(rows: list[dict], **keys: object) -> dict:
    """The one row matching every key."""
    found = [r for r in rows if all(r[k] == v for k, v in keys.items())]
    assert len(found) == 1, (keys, len(found))
    return found[0]


# ------------------------------------------------------------------ against pandas / loops


def _pandas_decomposition(df: pd.DataFrame, x: str, y: str) -> tuple[float, float, float]:
    """pooled, between (pool means) and within (groupby demeaning) Pearson r, by hand."""
    pool = ["problem_id", "temperature"]
    pooled = df[x].corr(df[y])
    means = df.groupby(pool)[[x, y]].mean()
    between = means[x].corr(means[y])
    dx = df[x] - df.groupby(pool)[x].transform("mean")
    dy = df[y] - df.groupby(pool)[y].transform("mean")
    within = (dx * dy).sum() / math.sqrt((dx**2).sum() * (dy**2).sum())
    return pooled, between, within


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decomposition_equals_a_pandas_groupby_demeaning(seed: int) -> None:
    rng = np.random.default_rng(seed)
    df = simulate(rng, n_problems=12, reps=int(rng.integers(3, 9)), confound=2.0, beta=0.1)
    df = df.sample(frac=0.8, random_state=seed)  # unequal pools
    pools = df.problem_id + "|" + df.temperature.astype(str)
    res = dc.decompose(df.x, df.maj, pools, df.problem_id, n_boot=0)
    want = _pandas_decomposition(df, "x", "maj")
    assert (res["pooled_r"], res["between_r"], res["within_r"]) == pytest.approx(want, abs=1e-12)
    grp = df.groupby(["problem_id", "temperature"])
    assert res["n_pools"] == grp.ngroups and res["n_draws"] == len(df)
    assert res["n_events"] == int(df.maj.sum())
    assert res["n_informative_pools"] == int((grp.maj.nunique() > 1).sum())


def _loop_resamples(df: pd.DataFrame, idx: np.ndarray, stat) -> np.ndarray:
    """The statistic on every resample, rebuilt as a frame: drawn problems become distinct
    clusters (copy c of problem p is problem 'p#c'), so a problem drawn twice has two pools."""
    problems = sorted(df.problem_id.unique())
    parts = {p: g for p, g in df.groupby("problem_id")}
    out = []
    for row in idx:
        frame = pd.concat(
            [parts[problems[j]].assign(problem_id=f"{problems[j]}#{c}") for c, j in enumerate(row)]
        )
        try:
            out.append(stat(frame))
        except (ValueError, ZeroDivisionError, FloatingPointError):
            out.append(math.nan)
    return np.array(out, dtype=float)


def test_decomposition_intervals_equal_a_plain_loop_over_resamples() -> None:
    rng = np.random.default_rng(4)
    df = simulate(rng, n_problems=10, reps=6, confound=2.0, beta=0.15)
    pools = df.problem_id + "|" + df.temperature.astype(str)
    res = dc.decompose(df.x, df.maj, pools, df.problem_id, n_boot=60, seed=9)
    idx = stats.bootstrap_indices(10, 60, 9)
    for k, name in enumerate(("pooled_r", "between_r", "within_r")):

        def stat(frame: pd.DataFrame, k: int = k) -> float:
            with np.errstate(all="raise"):
                return _pandas_decomposition(frame, "x", "maj")[k]

        loop = _loop_resamples(df, idx, stat)
        got = res[f"{name}_ci"]
        assert got.n_valid == int(np.isfinite(loop).sum())
        assert got.bounds == pytest.approx(iv.percentile(loop), abs=1e-10), name


def test_boot_within_equals_plain_loop_on_random_inputs() -> None:
    rng = np.random.default_rng(11)
    for _ in range(5):
        df = simulate(rng, n_problems=int(rng.integers(3, 9)), reps=4, beta=0.2)
        pools = pd.factorize(df.problem_id + "|" + df.temperature.astype(str))[0]
        probs, prob = np.unique(df.problem_id, return_inverse=True)
        prob_of_pool = np.zeros(pools.max() + 1, dtype=np.int64)
        prob_of_pool[pools] = prob
        sxx, syy, sxy, _, _ = dc.within_sums(
            df.x.to_numpy(), df.maj.to_numpy(), pools, prob_of_pool, len(probs)
        )
        idx = stats.bootstrap_indices(len(probs), 30, 1)
        got = dc.boot_within(sxx, syy, sxy, stats.bootstrap_weights(idx, len(probs)))

        def stat(frame: pd.DataFrame) -> float:
            with np.errstate(invalid="ignore", divide="ignore"):
                r = _pandas_decomposition(frame, "x", "maj")[2]
            if not math.isfinite(r):
                raise ValueError
            return r

        want = _loop_resamples(df, idx, stat)
        assert np.allclose(got, want, atol=1e-10, equal_nan=True)


# ------------------------------------------------------------------ fixed effects


def test_fixed_effects_slope_equals_statsmodels_with_pool_dummies(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    df = simulate(rng, n_problems=15, reps=8, confound=1.5, beta=0.12)
    path = tmp_path / "fe.duckdb"
    write_draws(path, df)
    rows = _report(path, tables=["fixed_effects"], n_boot=0)["tables"]["fixed_effects"]
    for control in (True, False):
        rep = _report(
            path, tables=["fixed_effects"], n_boot=0, control="mean_logprob" if control else "none"
        )
        row = _row(rep["tables"]["fixed_effects"], metric="cosine_sim", aggregator="maj")
        pool = df.problem_id + "|" + df.temperature.astype(str)
        dx = df.x - df.groupby(pool).x.transform("mean")
        sd = math.sqrt((dx**2).sum() / (len(df) - pool.nunique()))
        dummies = pd.get_dummies(pool, dtype=float).to_numpy()
        cols = [df.x.to_numpy() / sd] + ([df.mean_logprob.to_numpy()] if control else [])
        design = np.column_stack([*cols, dummies])
        fit = sm.OLS(df.maj.to_numpy(), design).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(df.problem_id)[0]}, use_t=True
        )
        assert row["slope"] == pytest.approx(fit.params[0], abs=1e-10)
        assert row["sd_within"] == pytest.approx(sd, rel=1e-12)
        # the pool dummies are nested in the problem clusters: not counted in N - K
        n, k_full, k_fe = len(df), design.shape[1], 1 + control
        se = (row["slope_hi"] - row["slope_lo"]) / 2 / ss.t.ppf(0.975, df.problem_id.nunique() - 1)
        assert se == pytest.approx(fit.bse[0] * math.sqrt((n - k_full) / (n - k_fe)), rel=1e-9)
        assert row["n_pools"] == pool.nunique() and row["n_draws"] == len(df)
        assert row["control"] == ("mean_logprob" if control else None)
    # q-values: Benjamini-Hochberg over the whole table, as statsmodels computes it
    from statsmodels.stats.multitest import multipletests

    p = [r["p_value"] for r in rows]
    assert [r["q_value"] for r in rows] == pytest.approx(list(multipletests(p, method="fdr_bh")[1]))


def test_quartile_effect_equals_a_loop_over_pools() -> None:
    rng = np.random.default_rng(8)
    df = simulate(rng, n_problems=9, reps=11, beta=0.15)
    df.loc[df.index[:11], "x"] = 1.0  # one pool with a constant metric does not count
    pool = (df.problem_id + "|" + df.temperature.astype(str)).to_numpy()
    point, interval, used = fe.quartile_effect(df.maj, df.x, pool, df.problem_id, n_boot=40, seed=2)

    def loop(frame: pd.DataFrame) -> float:
        diffs = []
        for _, g in frame.groupby(["problem_id", "temperature"]):
            q25, q75 = np.quantile(g.x, [0.25, 0.75])
            if q75 > q25:
                diffs.append(g.maj[g.x >= q75].mean() - g.maj[g.x <= q25].mean())
        if not diffs:
            raise ValueError
        return float(np.mean(diffs))

    assert point == pytest.approx(loop(df), abs=1e-12)
    assert used == 2 * 9 - 1
    want = _loop_resamples(df, stats.bootstrap_indices(9, 40, 2), loop)
    assert interval.bounds == pytest.approx(iv.percentile(want), abs=1e-12)


# ------------------------------------------------------------------ simulated truths


def test_between_problem_confound_with_no_within_effect(tmp_path: Path) -> None:
    """(a) the metric tracks the pool's accuracy but says nothing inside a pool: pooled_r is
    clearly positive, within_r's interval holds 0, and so does the fixed-effects slope's."""
    df = simulate(np.random.default_rng(1), n_problems=40, reps=30, confound=3.0, beta=0.0)
    path = tmp_path / "a.duckdb"
    write_draws(path, df)
    rep = _report(path, tables=["within_correlations", "fixed_effects"], n_boot=300)
    row = _row(rep["tables"]["within_correlations"], metric="cosine_sim", outcome="maj")
    assert row["pooled_r"] > 0.15 and row["pooled_r_lo"] > 0.05
    assert row["between_r"] > 0.5 and row["between_r_lo"] > 0
    assert row["within_r_lo"] < 0 < row["within_r_hi"] and abs(row["within_r"]) < 0.05
    assert row["n_boot_valid"] == 300 and row["ci_note"] is None
    fx = _row(rep["tables"]["fixed_effects"], metric="cosine_sim", aggregator="maj")
    assert fx["slope_lo"] < 0 < fx["slope_hi"]
    assert fx["top_minus_bottom_lo"] < 0 < fx["top_minus_bottom_hi"]


def test_planted_within_pool_effect_is_recovered_in_sign_and_size(tmp_path: Path) -> None:
    """(b) P(correct) = b_pool + 0.1 e with e the metric's within-pool deviation in SD units:
    the slope per within-pool SD recovers 0.1 and within_r its value
    0.1 / sqrt(mean b (1 - b)), whatever the between-problem confound."""
    beta = 0.1
    df = simulate(
        np.random.default_rng(2), n_problems=60, reps=40, confound=-2.0, beta=beta, base=(0.3, 0.7)
    )
    path = tmp_path / "b.duckdb"
    write_draws(path, df)
    rep = _report(path, tables=["within_correlations", "fixed_effects"], n_boot=300, control="none")
    fx = _row(rep["tables"]["fixed_effects"], metric="cosine_sim", aggregator="maj")
    assert fx["slope_lo"] < beta < fx["slope_hi"] and fx["slope_lo"] > 0
    assert fx["slope"] == pytest.approx(beta, abs=0.025) and fx["p_value"] < 1e-6
    row = _row(rep["tables"]["within_correlations"], metric="cosine_sim", outcome="maj")
    pool_acc = df.groupby(["problem_id", "temperature"]).maj.mean()
    truth = beta / math.sqrt(float((pool_acc * (1 - pool_acc)).mean()))
    assert row["within_r_lo"] > 0 and row["within_r"] == pytest.approx(truth, abs=0.04)
    assert row["pooled_r"] < row["within_r"]  # the confound pulls the pooled r the other way
    assert fx["top_minus_bottom"] > 0 and fx["top_minus_bottom_lo"] > 0


def test_rare_events_give_no_collapsed_or_point_excluding_interval(tmp_path: Path) -> None:
    """(d) a handful of correct picks among 1,200 draws: every interval of every table either
    holds its estimate with room on both sides of a point, or is withheld with a note."""
    rng = np.random.default_rng(3)
    df = simulate(rng, n_problems=20, reps=30, beta=0.0, base=(0.0, 0.0))
    df["maj"] = 0.0
    df.loc[df.sample(4, random_state=1).index, "maj"] = 1.0
    df["coverage"] = 1.0  # always covered: the percentile interval would be [1, 1]
    df.loc[df.index[0], "coverage"] = 0.0
    path = tmp_path / "d.duckdb"
    write_draws(path, df)
    rep = _report(path, n_boot=200)
    checked = withheld = 0
    for name, rows in rep["tables"].items():
        for row in rows:
            for key, value in row.items():
                if not key.endswith("_lo") or f"{key[:-3]}_hi" not in row:
                    continue
                stat, lo, hi = row.get(key[:-3]), value, row[f"{key[:-3]}_hi"]
                if stat is None:
                    continue
                if lo is None:
                    withheld += 1
                    assert row["ci_note"] and key[:-3] in row["ci_note"], (name, key, row)
                    continue
                checked += 1
                assert lo < hi, (name, key, row)
                assert lo <= stat <= hi, (name, key, row)
    assert checked > 20 and withheld > 0
    acc = rep["tables"]["accuracy_by_k"][0]
    assert acc["coverage_lo"] < acc["coverage"] < acc["coverage_hi"] <= 1.0
    assert "Wilson" in acc["ci_note"]
    # every draw at T = 1 is covered: the percentile interval would be [1, 1]
    hot = _row(rep["tables"]["accuracy_by_temperature"], temperature=1.0)
    assert hot["coverage"] == 1.0 and hot["coverage_hi"] == 1.0 and hot["coverage_lo"] < 0.95
    w = _row(rep["tables"]["within_correlations"], metric="cosine_sim", outcome="maj")
    assert w["n_events"] == 4 and w["n_informative_pools"] == 4


def test_k_equal_n_pools_give_one_draw_each_and_report_counts(tmp_path: Path) -> None:
    """(c) through the real draw stage: pools of 6 drawn at k = 6 with 20 reps hold one draw
    each, k = 4 (C(6, 4) = 15 <= 20) every subset once, and the tables count pools."""
    from divtui.engine.draws import run_draws
    from tests.test_draws import make_study

    path = tmp_path / "c.duckdb"
    make_study(path, problems=4, n=6)  # pools of 6 (even problems) and 7 (odd)
    con = open_db(path)
    run_draws(con, DrawSpec(sizes=[4, 6], reps=20, seed=0), notice=lambda _: None)
    sets = con.execute(
        "SELECT k, pool_size, n_subsets, n_draws, exhaustive FROM draw_sets ORDER BY ALL"
    ).fetchall()
    counts = con.execute(
        "SELECT k, problem_id, temperature, count(*), count(DISTINCT list_sort(sample_ids)) "
        "FROM draws GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    con.close()
    assert sets == sorted(
        [(4, 6, 15, 15, True)] * 4
        + [(4, 7, 35, 20, False)] * 4
        + [(6, 6, 1, 1, True)] * 4
        + [(6, 7, 7, 7, True)] * 4
    )
    want = {(4, 6): 15, (4, 7): 20, (6, 6): 1, (6, 7): 7}
    for k, p, _, n, distinct in counts:
        assert n == distinct == want[(k, 6 + int(p[1:]) % 2)]
    rep = _report(path, tables=["accuracy_by_k", "within_correlations"], n_boot=0)
    by_k = {r["k"]: r for r in rep["tables"]["accuracy_by_k"]}
    assert by_k[6]["n_draws"] == 4 * 1 + 4 * 7 and by_k[6]["n_pools"] == 8
    assert by_k[4]["n_draws"] == 4 * 15 + 4 * 20 and by_k[4]["n_problems"] == 4


# ------------------------------------------------------------------ interval rules


def test_interval_rules() -> None:
    reps = np.r_[np.linspace(0.1, 0.3, 90), [np.nan] * 10]
    out = iv.boot_interval(0.2, reps, why="no events")
    assert (
        out.bounds is None
        and out.n_valid == 90
        and "10 of 100" in out.note
        and "no events" in out.note
    )
    ok = iv.boot_interval(0.2, np.r_[np.linspace(0.1, 0.3, 96), [np.nan] * 4])
    assert ok.bounds == pytest.approx(iv.percentile(np.linspace(0.1, 0.3, 96))) and ok.n_valid == 96
    assert iv.boot_interval(0.5, np.full(50, 0.5)).bounds is None  # collapsed
    assert iv.boot_interval(0.9, np.linspace(0.1, 0.3, 50)).bounds is None  # excludes the point
    from statsmodels.stats.proportion import proportion_confint

    for p, n_draws in ((1.0, 400), (0.0, 400), (0.99, 400)):
        boot = np.clip(np.random.default_rng(0).normal(p, 0.005, 200), 0, 1)
        got = iv.proportion_interval(p, boot, n_problems=40, n_draws=n_draws)
        n_eff = iv.effective_n(p, boot, 40, n_draws)
        assert got.method.startswith("wilson") and got.lo < got.hi
        assert got.lo <= p <= got.hi
        want = proportion_confint(p * n_eff, n_eff, method="wilson")
        assert got.bounds == pytest.approx((max(0, min(want[0], p)), min(1, max(want[1], p))))
    assert iv.effective_n(1.0, np.ones(10), 40, 400) == 40
    mid = np.random.default_rng(1).normal(0.5, 0.02, 500)
    assert iv.proportion_interval(0.5, mid, n_problems=40, n_draws=400).method == "percentile"


def test_cli_json_within_and_fixed_effects_tables(tmp_path: Path) -> None:
    df = simulate(np.random.default_rng(6), n_problems=12, reps=10, confound=1.0, beta=0.1)
    path = tmp_path / "cli.duckdb"
    write_draws(path, df)
    fields = {
        "within_correlations": [
            "pooled_r",
            "pooled_r_lo",
            "pooled_r_hi",
            "between_r",
            "between_r_lo",
            "between_r_hi",
            "within_r",
            "within_r_lo",
            "within_r_hi",
            "n_pools",
            "n_draws",
            "n_events",
            "n_informative_pools",
            "n_problems",
            "n_boot_valid",
            "ci_note",
        ],
        "fixed_effects": [
            "slope",
            "slope_lo",
            "slope_hi",
            "p_value",
            "q_value",
            "n_pools",
            "n_draws",
            "top_minus_bottom",
            "top_minus_bottom_lo",
            "top_minus_bottom_hi",
            "control",
        ],
    }
    for table, want in fields.items():
        res = run_divtui(
            "report", "--db", str(path), "--format", "json", "--table", table, "--boot", "50"
        )
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)
        assert list(doc["tables"]) == [table]
        rows = doc["tables"][table]
        # metrics cosine_sim and mean_logprob (the control: not a regressor) x maj, coverage
        assert len(rows) == (4 if table == "within_correlations" else 2)
        assert all(set(want) <= set(r) for r in rows), set(want) - set(rows[0])
        assert doc["tables"] == _report(path, tables=[table], n_boot=50)["tables"]
    res = run_divtui("report", "--db", str(path), "--table", "within_correlations", "--boot", "50")
    assert res.returncode == 0 and "within r" in res.stdout and "point-biserial" in res.stdout
    bad = run_divtui("report", "--db", str(path), "--control", "reward:nope")
    assert bad.returncode == 1 and bad.stderr.startswith("error: unknown scorer 'nope'")
