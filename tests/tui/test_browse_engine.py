"""The problems table's computation against independent pandas/brute-force computations."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import percentileofscore

from divtui.engine import browse as eb
from divtui.store import open_db
from divtui.store import pool_columns as bq

from .tui_fixtures import EMBEDDER, SCORER

AGGS = ("maj", "wmaj", "bst", "mbr_lex", "mbr_sem", "coverage")


def random_frame(seed: int, n_pools: int = 7, n_draws: int = 300) -> tuple[dict, dict]:
    """A random draw frame and pool table (with missing outcomes and NaN metrics)."""
    rng = np.random.default_rng(seed)
    temps = rng.choice([0.3, 0.7, 1.0], size=n_pools)
    pool = rng.integers(0, n_pools, size=n_draws)
    frame = {
        "draw_id": np.arange(n_draws, dtype=np.int64),
        "pool": pool,
        "k": rng.choice([2, 4, 8], size=n_draws),
        "rep": np.arange(n_draws),
        "temperature": temps[pool],
    }
    for a in AGGS:
        frame[a] = rng.choice([-1, 0, 1, 1], size=n_draws).astype(np.int8)
    for m in ("dpp", "cosine_sim"):
        v = rng.normal(size=n_draws)
        v[rng.random(n_draws) < 0.1] = np.nan
        frame[f"metric:{m}"] = v
    n = rng.integers(8, 20, size=n_pools)
    pools = {
        "run_id": np.array([["r", "s"][i % 2] for i in range(n_pools)], dtype=object),
        "problem_id": np.array([f"p{i}" for i in range(n_pools)], dtype=object),
        "temperature": temps,
        "n": n,
        "c": np.array([rng.integers(0, x + 1) for x in n]),
        "question": np.array([f"q{i}" for i in range(n_pools)], dtype=object),
    }
    return frame, pools


def brute_table(frame: dict, pools: dict, f: eb.Filters, regex_pools=None) -> pd.DataFrame:
    """The same table with pandas, row by row filters and the textbook bucket rule; metric
    means over the passing draws of the one size K (the filter's k, else the largest)."""
    df = pd.DataFrame({k: v for k, v in frame.items()})
    keep = pd.Series(True, index=df.index)
    if f.temperature is not None:
        keep &= np.isclose(df.temperature, f.temperature)
    if f.k is not None:
        keep &= df.k == f.k
    if f.run is not None:
        keep &= df.pool.map(lambda p: pools["run_id"][p] == f.run)
    for agg, ok in f.outcomes:
        keep &= df[agg] == int(ok)
    if f.coverage is not None:
        keep &= df.coverage == int(f.coverage)
    if f.bucket is not None:
        col = f"metric:{f.metric}"
        bucket = pd.Series(-1, index=df.index)
        for _, g in df[df[col].notna()].groupby("k"):
            lo, hi = g[col].min(), g[col].max()
            width = (hi - lo) / f.n_buckets if hi > lo else None
            for i, v in g[col].items():
                if width is None:
                    b = 0 if f.n_buckets == 1 else int(f.n_buckets // 2)
                else:
                    b = min(int((v - lo) // width), f.n_buckets - 1)
                    # a value sitting on an inner edge belongs to the upper bin
                    if b + 1 < f.n_buckets and v >= lo + (b + 1) * width:
                        b += 1
                bucket[i] = b
        keep &= bucket == f.bucket
    if regex_pools is not None:
        keep &= df.pool.isin(regex_pools)
    sel = df[keep]
    big_k = f.k if f.k is not None else (int(df.k.max()) if len(df) else 1)
    rows = []
    for p in range(len(pools["n"])):
        g = sel[sel.pool == p]
        if f.temperature is not None and not np.isclose(pools["temperature"][p], f.temperature):
            continue
        if f.run is not None and pools["run_id"][p] != f.run:
            continue
        if regex_pools is not None and p not in set(regex_pools):
            continue
        if f.draw_level() and len(g) == 0:
            continue
        row = {"pool": p, "draws": len(g)}
        for a in AGGS:
            v = g[a][g[a] >= 0]
            row[a] = v.mean() if len(v) else np.nan
        for m in ("dpp", "cosine_sim"):
            row[m] = g[g.k == big_k][f"metric:{m}"].mean()
        rows.append(row)
    return pd.DataFrame(rows, columns=["pool", "draws", *AGGS, "dpp", "cosine_sim"])


outcomes_st = st.lists(
    st.tuples(st.sampled_from(["maj", "wmaj", "bst", "mbr_sem"]), st.booleans()),
    max_size=3,
    unique_by=lambda t: t[0],
).map(tuple)

filters_st = st.builds(
    eb.Filters,
    temperature=st.sampled_from([None, 0.3, 0.7, 1.0]),
    k=st.sampled_from([None, 2, 4, 8]),
    outcomes=outcomes_st,
    run=st.sampled_from([None, "r", "s"]),
    coverage=st.sampled_from([None, True, False]),
    metric=st.just("dpp"),
    n_buckets=st.integers(1, 6),
    bucket=st.one_of(st.none(), st.integers(0, 5)),
)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), f=filters_st, use_regex=st.booleans())
def test_problem_table_matches_pandas(seed: int, f: eb.Filters, use_regex: bool) -> None:
    if f.bucket is not None and f.bucket >= f.n_buckets:
        f = eb.Filters(**{**f.__dict__, "bucket": f.n_buckets - 1})
    frame, pools = random_frame(seed)
    regex_pools = np.array([0, 2, 3]) if use_regex else None
    if use_regex:
        f = eb.Filters(**{**f.__dict__, "regex": "x"})
    kept = eb.allowed_pools(pools, f, regex_pools)
    got = eb.problem_table(frame, pools, f, pools_kept=kept, metrics=["dpp", "cosine_sim"])
    want = brute_table(frame, pools, f, regex_pools)
    assert list(got["pool"]) == list(want["pool"])
    assert list(got["draws"]) == list(want["draws"])
    for col in (*AGGS, "dpp", "cosine_sim"):
        np.testing.assert_allclose(got[col], want[col].to_numpy(dtype=float), equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 12))
def test_pass_at_k_column_is_mean_coverage_over_all_subsets(seed: int, k: int) -> None:
    from itertools import combinations

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    correct = rng.random(n) < 0.4
    frame, pools = random_frame(seed, n_pools=1, n_draws=0)
    pools["n"], pools["c"] = np.array([n]), np.array([int(correct.sum())])
    got = eb.problem_table(frame, pools, eb.Filters(k=None), metrics=[])
    frame["k"] = np.array([k])
    frame = {key: (v if key == "k" else v[:0]) for key, v in frame.items()}
    got = eb.problem_table({**frame, "k": np.array([k])}, pools, eb.Filters(), metrics=[])
    if k > n:
        assert np.isnan(got["pass@k"][0])
    else:
        subsets = list(combinations(range(n), k))
        brute = np.mean([correct[list(s)].any() for s in subsets])
        assert got["pass@k"][0] == pytest.approx(brute)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(-1e3, 1e3)), max_size=40), d=st.integers(-1, 1)
)
def test_sort_order_matches_sorted(values: list[float | None], d: int) -> None:
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    order = eb.sort_order(v, d)
    assert sorted(order.tolist()) == list(range(len(v)))
    if d == 0:
        assert order.tolist() == list(range(len(v)))
        return
    finite = [x for x in v[order] if not np.isnan(x)]
    assert finite == sorted(finite, reverse=d < 0)
    assert all(np.isnan(x) for x in v[order][len(finite) :])


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("T=0.7 k=8 maj=wrong", eb.Filters(temperature=0.7, k=8, outcomes=(("maj", False),))),
        ("coverage=0 /foo bar/", eb.Filters(coverage=False, regex="foo bar")),
        ("bucket=dpp:5:2", eb.Filters(metric="dpp", n_buckets=5, bucket=1)),
        ("bst=correct", eb.Filters(outcomes=(("bst", True),))),
        (
            "maj=wrong bst=correct",
            eb.Filters(outcomes=(("maj", False), ("bst", True))),
        ),
        ("run=r1 k=4", eb.Filters(run="r1", k=4)),
        (r"\frac{1}{2} maj=wrong", eb.Filters(outcomes=(("maj", False),), text=(r"\frac{1}{2}",))),
        ('"x = 2" half', eb.Filters(text=("x = 2", "half"))),
        (r"a\=b", eb.Filters(text=(r"a\=b",))),
        ("", eb.Filters()),
    ],
)
def test_parse_filters_roundtrips(text: str, want: eb.Filters) -> None:
    got = eb.parse_filters(text, metrics=["dpp"])
    assert got == want
    assert eb.parse_filters(eb.describe(got), metrics=["dpp"]) == got


words_st = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8
).filter(lambda w: w.strip() == w and '"' not in w and "/" not in w)


@settings(max_examples=100, deadline=None)
@given(f=filters_st, text=st.lists(words_st, max_size=3).map(tuple))
def test_describe_then_parse_is_the_identity(f: eb.Filters, text: tuple[str, ...]) -> None:
    f = eb.Filters(**{**f.__dict__, "text": text})
    if f.bucket is None:
        f = eb.Filters(**{**f.__dict__, "metric": None, "n_buckets": 5})
    elif f.bucket >= f.n_buckets:
        f = eb.Filters(**{**f.__dict__, "bucket": f.n_buckets - 1})
    assert eb.parse_filters(eb.describe(f), metrics=["dpp"]) == f


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("k=eight", "field k"),
        ("maj=maybe", "field maj"),
        ("bucket=dpp:5:9", "field bucket"),
        ("bucket=nope:5:1", "no metric 'nope'"),
        ("colour=red", "field colour: unknown filter (to search for this text, quote it"),
        ("/([/", "field regex"),
        ("k=2 k=4", "field k: given twice (k=2 and k=4); one value per filter"),
        ("maj=wrong bst=correct maj=correct", "field maj: given twice"),
        ("T=1 temperature=1", "field T: given twice"),
        ("run=nope", "field run: no run 'nope' (runs: r1, r2)"),
    ],
)
def test_parse_filters_errors_are_one_line(text: str, needle: str) -> None:
    with pytest.raises(eb.FilterError) as e:
        eb.parse_filters(text, metrics=["dpp"], runs=["r1", "r2"])
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_export_rows_roundtrip(tmp_path: Path, suffix: str) -> None:
    rows = [
        {"a": np.int64(1), "b": np.float64(np.nan), "t": 'x,"y"\n[bold]'},
        {"a": 2, "b": 0.5, "t": ""},
    ]
    path = tmp_path / f"out{suffix}"
    assert eb.export_rows(path, rows) == 2
    if suffix == ".csv":
        back = list(csv.DictReader(path.open()))
        assert back[0] == {"a": "1", "b": "", "t": 'x,"y"\n[bold]'}
    else:
        back = [json.loads(line) for line in path.read_text().splitlines()]
        assert back == [{"a": 1, "b": None, "t": 'x,"y"\n[bold]'}, {"a": 2, "b": 0.5, "t": ""}]
    with pytest.raises(ValueError, match="csv or .jsonl"):
        eb.export_rows(tmp_path / "out.xlsx", rows)


def test_draw_frame_matches_stored_rows(study: Path) -> None:
    con = open_db(study)
    opts = bq.options(con)
    frame = bq.draw_columns(con, opts["metrics"], scorer=SCORER, embedder=EMBEDDER)
    outs = con.execute("SELECT draw_id, aggregator, correct FROM draw_outcomes").fetchall()
    mets = con.execute("SELECT draw_id, metric, value FROM draw_metrics").fetchall()
    pos = {int(d): i for i, d in enumerate(frame["draw_id"])}
    assert len(pos) == con.execute("SELECT count(*) FROM draws").fetchall()[0][0]
    for d, a, c in outs:
        assert frame[a][pos[d]] == int(c)
    for d, m, v in mets:
        assert frame[f"metric:{m}"][pos[d]] == pytest.approx(v)
    pools = bq.pools(con)
    for i in range(len(pools["n"])):
        n, c = con.execute(
            "SELECT count(*), count_if(correct) FROM samples WHERE run_id=? AND problem_id=? AND temperature=?",
            [pools["run_id"][i], pools["problem_id"][i], pools["temperature"][i]],
        ).fetchall()[0]
        assert (pools["n"][i], pools["c"][i]) == (n, c)
    assert list(bq.pools_matching(con, r"\[link=")) == [0]
    assert list(bq.pools_matching(con, r"sqrt")) == [2, 3]
    assert list(bq.pools_matching(con, text=("SQRT",))) == [2, 3]
    assert list(bq.pools_matching(con, text=("[link=", "click"))) == [0]
    assert list(bq.pools_matching(con, text=("[link=", "sqrt"))) == []
    with pytest.raises(ValueError, match="field regex: '\\(\\?=x\\)' is not a valid pattern"):
        bq.pools_matching(con, "(?=x)")
    con.close()


def test_pools_matching_plain_text_equals_a_python_scan(study: Path) -> None:
    """Plain-text search against a loop over every question and solution in Python."""
    con = open_db(study, read_only=True)
    pools = bq.pools(con)
    texts = con.execute("SELECT run_id, problem_id, temperature, text FROM samples").fetchall()
    questions = dict(con.execute("SELECT problem_id, question FROM problems").fetchall())
    cases = [("\\frac",), ("x", "is"), ("STEP1", "adds"), ("[bold",), ("nothing here",)]
    for terms in [*cases, ("%",), ("st_p1",), ("{1}", "_")]:  # LIKE wildcards match literally
        want = []
        for i in range(len(pools["n"])):
            key = (pools["run_id"][i], pools["problem_id"][i], float(pools["temperature"][i]))
            docs = [questions[key[1]]] + [t for r, p, tt, t in texts if (r, p, float(tt)) == key]
            if any(all(w.lower() in d.lower() for w in terms) for d in docs):
                want.append(i)
        assert list(bq.pools_matching(con, text=terms)) == want, terms
    con.close()


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.one_of(st.floats(-5, 5), st.sampled_from([0.0, 1.0, np.nan])), max_size=30),
    x=st.one_of(st.floats(-6, 6), st.sampled_from([0.0, 1.0])),
)
def test_percentile_of_is_scipys_mean_kind(values: list[float], x: float) -> None:
    v = np.array(values, dtype=float)
    fin = v[np.isfinite(v)]
    got = eb.percentile_of(v, x)
    if fin.size == 0:
        assert np.isnan(got)
    else:
        assert got == pytest.approx(percentileofscore(fin, x, kind="mean"))
    fast = eb.percentile_in_sorted(np.sort(fin), x)
    assert (np.isnan(got) and np.isnan(fast)) or fast == got


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["gsm8k:", "math/", "p", ""]), st.integers(0, 120)), max_size=25
    )
)
def test_natural_order_sorts_numbers_by_value(parts: list[tuple[str, int]]) -> None:
    ids = np.array([f"{a}{n}" for a, n in parts], dtype=object)
    got = [ids[i] for i in eb.natural_order(ids)]
    assert got == sorted(
        ids, key=lambda s: (s.rstrip("0123456789"), int(s[len(s.rstrip("0123456789")) :]))
    )
    desc = [ids[i] for i in eb.sort_order(ids, -1)]
    assert desc == got[::-1]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_buckets=st.integers(1, 6))
def test_bucket_of_agrees_with_bucket_index(seed: int, n_buckets: int) -> None:
    frame, _ = random_frame(seed)
    values, ks = frame["metric:dpp"], frame["k"]
    idx = eb.bucket_index(values, ks, n_buckets)
    for i in np.random.default_rng(seed).choice(len(values), size=20):
        got = eb.bucket_of(values, ks, int(ks[i]), n_buckets, float(values[i]))
        assert got == (None if idx[i] < 0 else idx[i])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), f=filters_st)
def test_term_matches_agree_with_the_draw_mask(seed: int, f: eb.Filters) -> None:
    """A stored draw meets every term exactly when the problems table's mask keeps it."""
    if f.bucket is not None and f.bucket >= f.n_buckets:
        f = eb.Filters(**{**f.__dict__, "bucket": f.n_buckets - 1})
    frame, pools = random_frame(seed)
    mask = eb.draw_mask(frame, f, eb.allowed_pools(pools, f))
    values = frame["metric:dpp"]
    for i in range(0, len(mask), 7):
        p = int(frame["pool"][i])
        correct = {a: None if frame[a][i] < 0 else bool(frame[a][i]) for a in AGGS}
        bucket = eb.bucket_of(values, frame["k"], int(frame["k"][i]), f.n_buckets, values[i])
        got = eb.term_matches(
            f, run_id=pools["run_id"][p], temperature=float(frame["temperature"][i]),
            k=int(frame["k"][i]), correct=correct, bucket=bucket, searched=None,
        )  # fmt: skip
        assert all(v is True for _, v in got) == bool(mask[i]), (got, mask[i])
