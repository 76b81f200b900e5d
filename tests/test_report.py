"""build_report and `divtui report` on real DuckDB files, against pandas, scipy and enumeration."""

from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss
from hypothesis import given, settings
from hypothesis import strategies as st_

from divtui.engine.passk import pass_at_k
from divtui.engine.report import TABLES, build_report
from divtui.engine.specs import DrawSpec
from divtui.store import draw_id, insert, open_db, sample_id, transaction

METRICS_PLAIN = ("distinct_n", "mean_logprob")
METRICS_EMB = ("cosine_sim", "dpp")
AGGS_PLAIN = ("maj", "mbr_lex", "coverage")


def _append(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    """Bulk-append to a table without a key (store.insert's INSERT OR IGNORE needs one)."""
    con.register("_rows", df)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    finally:
        con.unregister("_rows")


def make_study(
    path: Path,
    *,
    seed: int = 0,
    n_problems: int = 12,
    temperatures: tuple[float, ...] = (0.5, 1.0),
    sizes: tuple[int, ...] = (2, 4),
    reps: int = 5,
    pool: int = 8,
    scorers: tuple[str, ...] = ("orm:a",),
    embedders: tuple[str, ...] = ("sbert@256",),
    runs: tuple[str, ...] = ("r1",),
) -> pd.DataFrame:
    """Write runs, problems, graded samples, draws, metrics and outcomes; return the draws.

    Metrics are drawn at random but tied to the draw's number of correct members, so
    correlations are non-trivial; aggregator picks are random members of the draw.
    """
    rng = np.random.default_rng(seed)
    con = open_db(path)
    problems = [f"p{i:03d}" for i in range(n_problems)]
    samples, draws, metrics, outcomes = [], [], [], []
    for run in runs:
        for p in problems:
            skill = rng.random()
            for t in temperatures:
                ids = [sample_id(run, p, t, i) for i in range(pool)]
                correct = rng.random(pool) < skill
                lp = rng.normal(-0.5, 0.2, pool)
                samples += [
                    {
                        "sample_id": s,
                        "run_id": run,
                        "problem_id": p,
                        "temperature": t,
                        "idx": i,
                        "text": f"solution {i}",
                        "mean_logprob": float(lp[i]),
                        "correct": bool(correct[i]),
                    }
                    for i, s in enumerate(ids)
                ]
                for k in sizes:
                    for rep in range(reps):
                        pick = rng.choice(pool, size=k, replace=False)
                        did = draw_id(run, p, t, k, rep, seed)
                        draws.append(
                            {
                                "draw_id": did,
                                "run_id": run,
                                "problem_id": p,
                                "temperature": t,
                                "k": k,
                                "rep": rep,
                                "seed": seed,
                                "sample_ids": [ids[j] for j in pick],
                            }
                        )
                        nc = int(correct[pick].sum())
                        vals = {
                            ("distinct_n", "", ""): rng.random() + 0.1 * nc + t,
                            ("mean_logprob", "", ""): float(lp[pick].mean()),
                            ("n_correct", "", ""): float(nc),
                        }
                        for e in embedders:
                            vals[("cosine_sim", e, "")] = rng.normal() - 0.2 * nc
                            vals[("dpp", e, "")] = rng.normal() * 3 + nc
                        metrics += [
                            {"draw_id": did, "metric": m, "embedder": e, "scorer": s, "value": v}
                            for (m, e, s), v in vals.items()
                        ]
                        aggs = [(a, "", "") for a in ("maj", "mbr_lex")]
                        aggs += [("bst", "", s) for s in scorers]
                        aggs += [("mbr_sem", e, "") for e in embedders]
                        for a, e, s in aggs:
                            j = pick[rng.integers(k)]
                            outcomes.append(
                                {
                                    "draw_id": did,
                                    "aggregator": a,
                                    "embedder": e,
                                    "scorer": s,
                                    "sample_id": ids[j],
                                    "correct": bool(correct[j]),
                                }
                            )
                        outcomes.append(
                            {
                                "draw_id": did,
                                "aggregator": "coverage",
                                "embedder": "",
                                "scorer": "",
                                "sample_id": None,
                                "correct": nc > 0,
                            }
                        )
    with transaction(con):
        insert(con, "runs", pd.DataFrame({"run_id": list(runs), "source": "demo (simulated)"}))
        insert(con, "problems", pd.DataFrame({"problem_id": problems, "question": "q"}))
        insert(con, "samples", pd.DataFrame(samples))
        insert(con, "draws", pd.DataFrame(draws))
        _append(con, "draw_metrics", pd.DataFrame(metrics))
        out = pd.DataFrame(outcomes)
        out["sample_id"] = out["sample_id"].astype("Int64")
        _append(con, "draw_outcomes", out)
    con.close()
    return pd.DataFrame(draws)


# ---------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random study with two scorers and one embedder."""
    path = tmp_path_factory.mktemp("report") / "study.duckdb"
    make_study(path, seed=3, scorers=("orm:a", "orm:b"))
    return path


def _raw(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored outcome and metric rows joined with their draws, read back with plain SQL."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = con.execute(
            "SELECT d.*, o.aggregator, o.embedder, o.scorer, o.correct::DOUBLE AS correct "
            "FROM draws d JOIN draw_outcomes o USING (draw_id)"
        ).df()
        met = con.execute(
            "SELECT d.draw_id, m.metric, m.embedder, m.scorer, m.value "
            "FROM draws d JOIN draw_metrics m USING (draw_id)"
        ).df()
    finally:
        con.close()
    return out, met


def _report(path: Path, **kw: object) -> dict:
    """build_report on a read-only connection."""
    con = open_db(path, read_only=True)
    try:
        return build_report(con, **kw)  # type: ignore[arg-type]
    finally:
        con.close()


def _wide(path: Path) -> pd.DataFrame:
    """Per draw: keys, each metric, each aggregator's correctness, pivoted with pandas."""
    out, met = _raw(path)
    out["label"] = out["aggregator"] + np.where(
        out["aggregator"] == "bst", "[" + out["scorer"] + "]", ""
    )
    o = out.pivot_table(index="draw_id", columns="label", values="correct")
    m = met.pivot_table(index="draw_id", columns="metric", values="value")
    keys = out.drop_duplicates("draw_id").set_index("draw_id")[
        ["run_id", "problem_id", "temperature", "k"]
    ]
    return keys.join(o).join(m).reset_index()


def test_accuracy_tables_match_pandas_groupby(study: Path) -> None:
    out, _ = _raw(study)
    out["label"] = out["aggregator"] + np.where(
        out["aggregator"] == "bst", "[" + out["scorer"] + "]", ""
    )
    rep = _report(study, n_boot=200, seed=1)
    for name, by in (
        ("accuracy_by_k", ["k"]),
        ("accuracy_by_temperature", ["temperature"]),
        ("accuracy_by_k_temperature", ["k", "temperature"]),
    ):
        want = out.groupby(["run_id", *by, "label"])["correct"].mean()
        rows = rep["tables"][name]
        assert len(rows) == out.groupby(["run_id", *by]).ngroups
        for row in rows:
            key = tuple(row[c] for c in ["run_id", *by])
            sub = out.set_index(["run_id", *by]).loc[key]
            assert row["n_draws"] == sub["draw_id"].nunique()
            assert row["n_problems"] == sub["problem_id"].nunique()
            for label in ("maj", "bst[orm:a]", "bst[orm:b]", "mbr_sem", "coverage"):
                assert row[label] == pytest.approx(want.loc[(*key, label)])
                assert row[f"{label}_lo"] <= row[label] <= row[f"{label}_hi"]


def test_scorer_choice_gives_plain_labels_and_that_scorers_values(study: Path) -> None:
    out, _ = _raw(study)
    rep = _report(study, tables=["accuracy_by_k"], scorer="orm:b", n_boot=0)
    bst = out[(out.aggregator == "bst") & (out.scorer == "orm:b")].groupby("k")["correct"].mean()
    for row in rep["tables"]["accuracy_by_k"]:
        assert "bst[orm:a]" not in row and "bst[orm:b]" not in row
        assert row["bst"] == pytest.approx(bst.loc[row["k"]])
    assert rep["meta"]["columns"]["bst"]["scorer"] == "orm:b"


def test_correlation_tables_match_scipy_and_the_textbook_partial(study: Path) -> None:
    wide = _wide(study)
    rep = _report(study, n_boot=100)
    t = rep["tables"]
    assert len(t["metric_correlations"]) == 2 * 4 * 5  # k x metrics x aggregators
    for row in t["metric_correlations"]:
        sub = wide[wide.k == row["k"]]
        x, y = sub[row["metric"]], sub[row["aggregator"]]
        assert row["n"] == len(sub)
        assert row["pearson"] == pytest.approx(ss.pearsonr(x, y)[0], abs=1e-9)
        assert row["spearman"] == pytest.approx(ss.spearmanr(x, y)[0], abs=1e-9)
        assert row["pearson_lo"] <= row["pearson_hi"]
    # partial correlations are per temperature by default (the fit on the control never mixes
    # temperatures), pooled over them only when asked
    pooled = _report(study, tables=["partial_correlations"], partial_pooled=True, n_boot=0)
    assert len(t["partial_correlations"]) == 2 * 2 * 3 * 5  # T x k x metrics x aggregators
    for rows, per_t in (
        (t["partial_correlations"], True),
        (pooled["tables"]["partial_correlations"], False),
    ):
        for row in rows:
            sub = wide[wide.k == row["k"]]
            if per_t:
                sub = sub[sub.temperature == row["temperature"]]
            assert row["pooled_temperatures"] is not per_t and row["control"] == "mean_logprob"
            assert (row["temperature"] is None) is not per_t and row["n"] == len(sub)
            r = np.corrcoef([sub[row["metric"]], sub[row["aggregator"]], sub["mean_logprob"]])
            want = (r[0, 1] - r[0, 2] * r[1, 2]) / np.sqrt((1 - r[0, 2] ** 2) * (1 - r[1, 2] ** 2))
            assert row["partial"] == pytest.approx(want, abs=1e-9)
        assert {r["metric"] for r in rows} == {"cosine_sim", "distinct_n", "dpp"}
    for row in t["coverage_correlations"]:
        sub = wide[wide.k == row["k"]]
        assert row["spearman"] == pytest.approx(
            ss.spearmanr(sub[row["metric"]], sub["coverage"])[0], abs=1e-9
        )
    assert len(t["count_correlations"]) == 2 * 2 * 4  # temperatures x k x metrics
    for row in t["count_correlations"]:
        sub = wide[(wide.k == row["k"]) & (wide.temperature == row["temperature"])]
        assert row["n"] == len(sub)
        assert row["pearson"] == pytest.approx(
            ss.pearsonr(sub[row["metric"]], sub["n_correct"])[0], abs=1e-9
        )


def test_buckets_match_a_loop_over_numpy_histogram_bins(study: Path) -> None:
    wide = _wide(study)
    rep = _report(study, tables=["buckets"], n_buckets=4, metrics=["dpp", "distinct_n"])
    rows = rep["tables"]["buckets"]
    assert {r["metric"] for r in rows} == {"dpp", "distinct_n"}
    for (k, metric), rs in pd.DataFrame(rows).groupby(["k", "metric"]):
        sub = wide[wide.k == k]
        x = sub[metric].to_numpy()
        counts, edges = np.histogram(x, bins=4)
        assert list(rs["count"]) == list(counts)
        assert np.allclose(rs["lo"], edges[:-1]) and np.allclose(rs["hi"], edges[1:])
        for b, row in enumerate(rs.to_dict("records")):
            inside = [i for i, v in enumerate(x) if edges[b] <= v and (v < edges[b + 1] or b == 3)]
            assert row["count"] == len(inside)
            if inside:
                assert row["min"] == pytest.approx(x[inside].min())
                assert row["mean"] == pytest.approx(x[inside].mean())
                assert row["maj"] == pytest.approx(sub["maj"].to_numpy()[inside].mean())


def test_pass_at_k_equals_enumeration_of_all_subsets(tmp_path: Path) -> None:
    path = tmp_path / "p.duckdb"
    make_study(path, seed=9, n_problems=6, temperatures=(0.7,), sizes=(3,), reps=1, pool=7)
    con = duckdb.connect(str(path), read_only=True)
    pools = con.execute(
        "SELECT problem_id, list(correct ORDER BY idx) FROM samples GROUP BY 1"
    ).fetchall()
    con.close()
    rep = _report(path, tables=["pass_at_k"], n_boot=100)
    rows = {r["k"]: r for r in rep["tables"]["pass_at_k"]}
    assert sorted(rows) == [1, 3]
    for k, row in rows.items():
        per_problem = [
            np.mean([any(c) for c in itertools.combinations(correct, k)]) for _, correct in pools
        ]
        assert row["pass_at_k"] == pytest.approx(np.mean(per_problem))
        assert row["n_problems"] == len(pools)
    assert rows[1]["pass_at_k"] == pytest.approx(np.mean([np.mean(c) for _, c in pools]))


@settings(max_examples=60, deadline=None)
@given(st_.integers(1, 9), st_.data())
def test_pass_at_k_estimator_equals_subset_mean(n: int, data: st_.DataObject) -> None:
    c = data.draw(st_.integers(0, n))
    k = data.draw(st_.integers(1, n))
    pool = [True] * c + [False] * (n - c)
    want = np.mean([any(s) for s in itertools.combinations(pool, k)])
    assert pass_at_k(n, c, k) == pytest.approx(want)


def test_several_embedders_label_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "e.duckdb"
    make_study(path, seed=2, n_problems=5, sizes=(2,), embedders=("e1@256", "e2@128"))
    rep = _report(path, tables=["metric_correlations"], n_boot=0)
    rows = rep["tables"]["metric_correlations"]
    assert {"cosine_sim[e1@256]", "dpp[e2@128]", "distinct_n"} <= {r["metric"] for r in rows}
    assert {"mbr_sem[e1@256]", "mbr_sem[e2@128]", "bst"} <= {r["aggregator"] for r in rows}
    one = _report(path, tables=["metric_correlations"], embedder="e2@128", n_boot=0)
    assert {r["metric"] for r in one["tables"]["metric_correlations"]} >= {"cosine_sim", "dpp"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    """Run the real divtui console script."""
    from tests.conftest import run_divtui

    return run_divtui(*args)


def test_cli_json_is_the_report_object(study: Path) -> None:
    res = _cli("report", "--db", str(study), "--format", "json", "--boot", "50")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc) == {"tables", "meta"}
    assert list(doc["tables"]) == list(TABLES)
    want = _report(study, n_boot=50)
    assert doc["tables"]["accuracy_by_k"] == want["tables"]["accuracy_by_k"]
    assert doc["tables"]["pass_at_k"] == want["tables"]["pass_at_k"]
    assert doc["meta"]["n_boot"] == 50


def test_cli_csv_single_and_several_tables(study: Path) -> None:
    res = _cli("report", "--db", str(study), "--format", "csv", "--table", "accuracy_by_k")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    want = _report(study, tables=["accuracy_by_k"])["tables"]["accuracy_by_k"]
    assert len(rows) == len(want) == 2
    for got, row in zip(rows, want, strict=True):
        assert int(got["k"]) == row["k"]
        assert float(got["maj"]) == pytest.approx(row["maj"])
        assert float(got["maj_hi"]) == pytest.approx(row["maj_hi"])
    res = _cli(
        "report",
        "--db",
        str(study),
        "--format",
        "csv",
        "--boot",
        "20",
        "--table",
        "pass_at_k",
        "--table",
        "count_correlations",
    )
    blocks = res.stdout.split("# table ")[1:]
    assert [b.splitlines()[0] for b in blocks] == ["pass_at_k", "count_correlations"]
    counts = list(csv.DictReader(io.StringIO(blocks[1].split("\n", 1)[1])))
    assert len(counts) == 16 and {r["target"] for r in counts} == {"n_correct"}


def test_cli_markdown_tables_and_plots(study: Path, tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    res = _cli("report", "--db", str(study), "--boot", "50", "--plots", str(plots))
    assert res.returncode == 0, res.stderr
    md = res.stdout
    want = _report(study, n_boot=50)
    sections = md.split("\n## ")[1:]
    assert len(sections) == len(TABLES)
    acc = sections[0]
    lines = [ln for ln in acc.splitlines() if ln.startswith("| ")]
    assert len(lines) == 2 + len(want["tables"]["accuracy_by_k"])
    r = want["tables"]["accuracy_by_k"][0]
    cell = f"{r['maj']:.3f} [{r['maj_lo']:.2f}, {r['maj_hi']:.2f}]"
    assert lines[2].split(" | ")[1] == cell
    assert lines[0].split(" | ")[1] == "maj"
    buckets = next(s for s in sections if s.startswith("Accuracy in equal-width"))
    assert buckets.count("| bin | range | count | min | max | mean |") == 2 * 4
    pngs = sorted(p.name for p in plots.iterdir())
    assert pngs == [
        "accuracy_vs_k.png",
        "metric_cosine_sim.png",
        "metric_distinct_n.png",
        "metric_dpp.png",
        "metric_mean_logprob.png",
    ]
    for p in plots.iterdir():
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_errors_are_one_line(study: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    open_db(empty).close()
    cases = [
        (["--db", str(study), "--table", "nope"], "unknown table 'nope'"),
        (["--db", str(study), "--run", "r9"], "unknown run 'r9'"),
        (["--db", str(study), "--scorer", "orm:zzz"], "unknown scorer 'orm:zzz'"),
        (["--db", str(study), "--k", "99"], "no draws match k=99"),
        (["--db", str(empty)], "no draws yet"),
        (["--db", str(tmp_path / "missing.duckdb")], "no such database file"),
    ]
    for args, text in cases:
        res = _cli("report", *args)
        assert res.returncode != 0
        assert res.stderr.startswith("error: ") and text in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_reward_control_and_a_missing_log_prob_control(tmp_path: Path) -> None:
    """--control reward:S partials on the draw's mean reward (sigmoid of logits), computed here
    from the members' scores; without log-probs the report says so and offers the reward."""
    from divtui.engine.draws import run_draws
    from tests.test_draws import make_study as make_drawn

    path = tmp_path / "rw.duckdb"
    make_drawn(path, problems=6)
    con = open_db(path)
    run_draws(con, DrawSpec(sizes=[3], reps=6, seed=2), notice=lambda _: None)
    members = con.execute(
        "SELECT d.draw_id, d.temperature, unnest(d.sample_ids) AS sample_id FROM draws d"
    ).df()
    scores = con.execute("SELECT sample_id, value FROM scores WHERE scorer = 'orm:a'").df()
    con.close()
    m = members.merge(scores, on="sample_id")
    m["p"] = 1 / (1 + np.exp(-m.value))
    reward = m.groupby("draw_id").p.mean()
    rep = _report(path, tables=["partial_correlations"], control="reward:orm:a", n_boot=0)
    rows = rep["tables"]["partial_correlations"]
    assert rows and {r["control"] for r in rows} == {"reward:orm:a"}
    con = duckdb.connect(str(path), read_only=True)
    frame = con.execute(
        "SELECT d.draw_id, d.temperature, m.value AS x, o.correct::DOUBLE AS y FROM draws d "
        "JOIN draw_metrics m USING (draw_id) JOIN draw_outcomes o USING (draw_id) "
        "WHERE m.metric = 'distinct_n' AND o.aggregator = 'maj'"
    ).df()
    con.close()
    frame["z"] = frame.draw_id.map(reward)
    for t, sub in frame.groupby("temperature"):
        row = next(
            r
            for r in rows
            if r["temperature"] == t and r["metric"] == "distinct_n" and r["aggregator"] == "maj"
        )
        r = np.corrcoef([sub.x, sub.y, sub.z])
        want = (r[0, 1] - r[0, 2] * r[1, 2]) / np.sqrt((1 - r[0, 2] ** 2) * (1 - r[1, 2] ** 2))
        assert row["partial"] == pytest.approx(want, abs=1e-9)
    # no log-probs: one note, offering the reward; no partial rows
    bare = tmp_path / "bare.duckdb"
    make_drawn(bare, problems=4, logprobs=False)
    con = open_db(bare)
    run_draws(con, DrawSpec(sizes=[3], reps=3, seed=0), notice=lambda _: None)
    con.close()
    rep = _report(bare, tables=["partial_correlations", "fixed_effects"], n_boot=0)
    assert rep["tables"]["partial_correlations"] == [] and rep["meta"]["control"] is None
    (note,) = rep["meta"]["notes"]
    assert "mean_logprob is missing" in note and "--control reward:orm:a" in note
    assert all(r["control"] is None for r in rep["tables"]["fixed_effects"])
    res = _cli("report", "--db", str(bare), "--table", "partial_correlations", "--boot", "0")
    assert res.returncode == 0 and res.stderr.count("note: mean_logprob is missing") == 1


def test_quantile_buckets_by_temperature_with_per_bin_intervals(study: Path) -> None:
    wide = _wide(study)
    rep = _report(
        study,
        tables=["buckets"],
        n_buckets=3,
        bucket_scheme="quantile",
        by_temperature=True,
        metrics=["dpp"],
        n_boot=100,
        seed=4,
    )
    rows = rep["tables"]["buckets"]
    assert {r["scheme"] for r in rows} == {"quantile"} and rep["meta"][
        "bucket_scheme"
    ] == "quantile"
    for (k, t), rs in pd.DataFrame(rows).groupby(["k", "temperature"]):
        sub = wide[(wide.k == k) & (wide.temperature == t)]
        x = sub["dpp"].to_numpy()
        edges = np.unique(np.quantile(x, np.linspace(0, 1, 4)))
        assert np.allclose(rs["lo"], edges[:-1]) and np.allclose(rs["hi"], edges[1:])
        problems = sorted(sub.problem_id.unique())
        from divtui.engine.stats import bootstrap_indices

        boot = bootstrap_indices(len(problems), 100, 4)
        own = [r for r in rows if r["k"] == k and r["temperature"] == t]
        for b, row in enumerate(own):
            last = b == len(edges) - 2
            inside = (x >= edges[b]) & ((x <= edges[b + 1]) if last else (x < edges[b + 1]))
            assert row["count"] == row["n_draws"] == int(inside.sum())
            cell = sub[inside]
            assert row["n_maj"] == len(cell)
            assert row["n_pools"] == cell.groupby(["problem_id", "temperature"]).ngroups
            assert row["maj"] == pytest.approx(cell["maj"].mean())
            per = cell.groupby("problem_id")["maj"].agg(["sum", "count"]).reindex(problems)
            per = per.fillna(0)
            reps = [per["sum"].iloc[i].sum() / per["count"].iloc[i].sum() for i in boot]
            if row["ci_note"] is None or "maj:" not in row["ci_note"]:
                lo, hi = np.nanpercentile(reps, [2.5, 97.5])
                assert (row["maj_lo"], row["maj_hi"]) == pytest.approx((lo, hi), abs=1e-12)
            else:
                assert row["maj_lo"] is None or "Wilson" in row["ci_note"]


def test_no_resampling_means_no_interval_anywhere(study: Path) -> None:
    rep = _report(study, n_boot=0)
    for name, rows in rep["tables"].items():
        for row in rows:
            assert row.get("n_boot_valid") is None, name
            for key, value in row.items():
                if key.endswith(("_lo", "_hi")) and key != "slope_lo" and key != "slope_hi":
                    assert value is None, (name, key)


def test_coverage_spearman_shared_with_metric_correlations_is_the_same(study: Path) -> None:
    """metric_correlations computes the coverage pairs' Spearman for coverage_correlations
    (one rank pass per metric); the rows equal those of the table computed alone."""
    both = _report(study, tables=["metric_correlations", "coverage_correlations"], n_boot=80)
    alone = _report(study, tables=["coverage_correlations"], n_boot=80)
    assert both["tables"]["coverage_correlations"] == alone["tables"]["coverage_correlations"]
