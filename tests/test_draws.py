"""run_draws end to end on real DuckDB files, checked draw by draw against plain references."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sacrebleu

from divtui.engine.draws import draw_indices, run_draws
from divtui.engine.specs import DrawSpec, PruneSpec
from divtui.store import draw_id, insert, open_db, sample_id
from divtui.store.draws import SAMPLE_COLUMNS
from tests.conftest import run_divtui
from tests.test_aggregators import ref_argmax, ref_coverage, ref_mbr, ref_vote

VOCAB = ["the", "x", "=", "2", "+", "so", "we", "get", "$x$", "3.", "a,", "(1)"]
EMB = "emb@8"


def make_study(
    path: Path,
    *,
    problems: int = 3,
    temps: tuple[float, ...] = (0.5, 1.0),
    n: int = 7,
    seed: int = 0,
    logprobs: bool = True,
    scorers: bool = True,
    embeddings: bool = True,
    graded: bool = True,
) -> None:
    """A random study written with divtui.store.insert: texts, answers, scores, embeddings."""
    rng = np.random.default_rng(seed)
    con = open_db(path)
    cols: dict[str, list] = {c: [] for c in SAMPLE_COLUMNS}
    for p in range(problems):
        for t in temps:
            classes: dict[str, int] = {}
            size = n + (p % 2)
            for i in range(size):
                ans = [None, "1", "2", "3"][int(rng.integers(0, 4))]
                words = rng.choice(VOCAB, size=int(rng.integers(0, 14)))
                cols["sample_id"].append(sample_id("r", f"p{p}", t, i))
                cols["run_id"].append("r")
                cols["problem_id"].append(f"p{p}")
                cols["temperature"].append(t)
                cols["idx"].append(i)
                cols["text"].append(" ".join(words) if i != 2 else cols["text"][-1])
                cols["mean_logprob"].append(-float(rng.random()) if logprobs else None)
                cols["answer"].append(ans)
                cols["correct"].append((ans == "1") if graded else None)
                cols["answer_class"].append(
                    None if ans is None else classes.setdefault(ans, len(classes))
                )
    insert(con, "samples", pa.table(cols))
    ids = np.array(cols["sample_id"], dtype=np.int64)
    if scorers:
        logits = rng.integers(-3, 4, size=len(ids)) / 2.0
        probs = rng.integers(0, 5, size=len(ids)) / 4.0
        insert(
            con,
            "scores",
            pa.table({"sample_id": ids, "scorer": ["orm:a"] * len(ids), "value": logits}),
        )
        insert(
            con,
            "scores",
            pa.table({"sample_id": ids, "scorer": ["prob:b"] * len(ids), "value": probs}),
        )
    if embeddings:
        vec = rng.normal(size=(len(ids), 8)).astype(np.float32)
        vec[1::5] = vec[0::5][: len(vec[1::5])]
        insert(
            con,
            "embeddings",
            pa.table({"sample_id": ids, "embedder": [EMB] * len(ids), "vec": list(vec)}),
        )
    con.close()


def stored(con) -> tuple[list, list, list]:
    """Every draw, metric and outcome row, sorted."""
    return (
        con.execute("SELECT * FROM draws ORDER BY draw_id").fetchall(),
        con.execute("SELECT * FROM draw_metrics ORDER BY ALL").fetchall(),
        con.execute("SELECT * FROM draw_outcomes ORDER BY ALL").fetchall(),
    )


def no_duplicates(con) -> None:
    """draw_metrics/draw_outcomes have no PK: check their logical keys by hand."""
    for table, name in (("draw_metrics", "metric"), ("draw_outcomes", "aggregator")):
        dup = con.execute(
            f"SELECT count(*) FROM (SELECT draw_id, {name}, embedder, scorer FROM {table} "
            "GROUP BY ALL HAVING count(*) > 1)"
        ).fetchall()[0][0]
        assert dup == 0, table


def test_every_stored_row_matches_a_per_draw_reference(db_path: Path) -> None:
    make_study(db_path)
    con = open_db(db_path)
    notes: list[str] = []
    stats = run_draws(con, DrawSpec(sizes=[1, 3, 8], reps=4, seed=11), notice=notes.append)
    assert stats["skipped_small"] == {1: 0, 3: 0, 8: 4} and notes == []
    samples = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT sample_id, text, answer, correct, answer_class, mean_logprob, problem_id, "
            "temperature, idx FROM samples"
        ).fetchall()
    }
    scores = {
        (s, sc): v
        for s, sc, v in con.execute("SELECT sample_id, scorer, value FROM scores").fetchall()
    }
    vecs = {
        s: np.array(v) for s, v in con.execute("SELECT sample_id, vec FROM embeddings").fetchall()
    }
    metrics: dict = {}
    for d, m, e, s, v in con.execute("SELECT * FROM draw_metrics").fetchall():
        metrics[(d, m, e, s)] = v
    outcomes = {
        (d, a, e, s): (sid, ans, c)
        for d, a, e, s, sid, ans, c in con.execute("SELECT * FROM draw_outcomes").fetchall()
    }
    draws = con.execute(
        "SELECT draw_id, run_id, problem_id, temperature, k, rep, seed, sample_ids FROM draws"
    ).fetchall()
    # 6 pools x k = 1, 3 x 4 reps, and the 2 pools of 8 give k = 8 once (C(8, 8) = 1)
    assert len(draws) == 6 * 4 * 2 + 2 * 1
    for did, run, prob, temp, k, rep, seed, members in draws:
        assert did == draw_id(run, prob, temp, k, rep, seed)
        assert len(set(members)) == k
        assert all(samples[m][5] == prob and samples[m][6] == temp for m in members)
        texts = [samples[m][0] for m in members]
        correct = [bool(samples[m][2]) for m in members]
        classes = [-1 if samples[m][3] is None else samples[m][3] for m in members]
        unit = [vecs[m] / np.linalg.norm(vecs[m]) for m in members]
        bleu = np.array([[sacrebleu.sentence_bleu(h, [r]).score for r in texts] for h in texts])
        cos = np.array(
            [[1.0 if i == j else float(unit[i] @ unit[j]) for j in range(k)] for i in range(k)]
        )
        grams = [g for t in texts for g in zip(*(t.split()[i:] for i in range(3)), strict=False)]
        want_m = {
            ("n_correct", "", ""): sum(correct),
            ("mean_logprob", "", ""): np.mean([samples[m][4] for m in members]),
            ("distinct_n", "", ""): len(set(grams)) / len(grams) if grams else None,
            ("dpp", EMB, ""): np.log(np.linalg.det(cos + 1e-6 * np.eye(k))),
            ("near_dup_pairs", EMB, ""): sum(
                cos[i, j] >= 0.98 for i, j in itertools.combinations(range(k), 2)
            ),
            ("cosine_sim", EMB, ""): np.mean(
                [cos[i, j] for i, j in itertools.combinations(range(k), 2)]
            )
            if k > 1
            else None,
        }
        want_m[("qual_dpp", EMB, "")] = want_m[("dpp", EMB, "")] + 2 * sum(
            samples[m][4] for m in members
        )
        for key, want in want_m.items():
            got = metrics[(did, *key)]
            if want is None:
                assert got is None, key
            else:
                assert got == pytest.approx(want, abs=1e-6), key
        rew_a = [1 / (1 + np.exp(-scores[(m, "orm:a")])) for m in members]
        rew_b = [scores[(m, "prob:b")] for m in members]
        want_pos = {
            ("maj", "", ""): ref_vote(classes),
            ("wmaj", "", "orm:a"): ref_vote(classes, rew_a),
            ("wmaj", "", "prob:b"): ref_vote(classes, rew_b),
            ("bst", "", "orm:a"): ref_argmax(rew_a),
            ("bst", "", "prob:b"): ref_argmax(rew_b),
            ("mbr_lex", "", ""): ref_mbr(bleu),
            ("mbr_sem", EMB, ""): ref_mbr(cos),
            ("coverage", "", ""): ref_coverage(correct)[1],
        }
        for key, pos in want_pos.items():
            sid, ans, corr = outcomes[(did, *key)]
            if pos < 0:
                assert (sid, ans, corr) == (None, None, False)
            else:
                m = members[pos]
                assert (sid, ans) == (m, samples[m][1]), key
                assert corr == (any(correct) if key[0] == "coverage" else correct[pos])
    no_duplicates(con)


def test_same_seed_same_draws_whatever_other_pools_exist(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "c.duckdb"
    make_study(a, problems=2)
    make_study(b, problems=2)
    make_study(c, problems=2)
    runs = []
    for path, seed in ((a, 5), (b, 5), (c, 6)):
        con = open_db(path)
        run_draws(con, DrawSpec(sizes=[3], reps=6, seed=seed), notice=lambda _: None)
        runs.append(
            con.execute(
                "SELECT problem_id, temperature, rep, sample_ids FROM draws ORDER BY ALL"
            ).fetchall()
        )
        con.close()
    assert runs[0] == runs[1]
    assert [r[3] for r in runs[0]] != [r[3] for r in runs[2]]
    one = draw_indices(5, "r", "p0", 0.5, 3, 7, 6)
    assert (draw_indices(5, "r", "p0", 0.5, 3, 7, 12)[:6] == one).all()
    assert [sample_id("r", "p0", 0.5, int(i)) for i in one[0]] == [
        r[3] for r in runs[0] if r[0] == "p0" and r[1] == 0.5 and r[2] == 0
    ][0]


def test_rerun_adds_nothing_and_interrupted_run_resumes(tmp_path: Path) -> None:
    ref, cut = tmp_path / "ref.duckdb", tmp_path / "cut.duckdb"
    make_study(ref, problems=5)
    shutil.copy(ref, cut)
    con = open_db(ref)
    run_draws(con, DrawSpec(sizes=[2, 4], reps=3, seed=1), notice=lambda _: None)
    want = stored(con)
    again = run_draws(con, DrawSpec(sizes=[2, 4], reps=3, seed=1), notice=lambda _: None)
    assert again["draws_written"] == 0 and again["metric_rows"] == again["outcome_rows"] == 0
    assert stored(con) == want
    con.close()

    con = open_db(cut)
    calls = []

    def stop(done: int, total: int, label: str) -> None:
        """Interrupt the run like Ctrl-C after its first committed batch."""
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_draws(
            con,
            DrawSpec(sizes=[2, 4], reps=3, seed=1),
            progress=stop,
            batch_pools=2,
            notice=lambda _: None,
        )
    partial = con.execute("SELECT count(*) FROM draws").fetchall()[0][0]
    assert 0 < partial < len(want[0])
    run_draws(con, DrawSpec(sizes=[2, 4], reps=3, seed=1), batch_pools=2, notice=lambda _: None)
    assert stored(con) == want
    no_duplicates(con)


def test_new_scorer_or_more_reps_fill_only_what_is_missing(tmp_path: Path) -> None:
    ref, step = tmp_path / "ref.duckdb", tmp_path / "step.duckdb"
    make_study(ref)
    shutil.copy(ref, step)
    con = open_db(ref)
    run_draws(con, DrawSpec(sizes=[3], reps=5, seed=2), notice=lambda _: None)
    want = stored(con)
    con.close()
    con = open_db(step)
    run_draws(
        con,
        DrawSpec(sizes=[3], reps=2, seed=2, scorers=["orm:a"], embedders=[]),
        notice=lambda _: None,
    )
    run_draws(con, DrawSpec(sizes=[3], reps=5, seed=2), notice=lambda _: None)
    assert stored(con) == want
    no_duplicates(con)


def test_missing_inputs_give_one_notice_each_and_no_rows(db_path: Path) -> None:
    make_study(db_path, logprobs=False, scorers=False, embeddings=False)
    con = open_db(db_path)
    notes: list[str] = []
    run_draws(con, DrawSpec(sizes=[2], reps=2, seed=0), notice=notes.append)
    assert len(notes) == 3 and all("\n" not in n for n in notes)
    assert any("scorer" in n for n in notes) and any("embeddings" in n for n in notes)
    assert any("log-probs" in n for n in notes)
    metrics = {r[0] for r in con.execute("SELECT DISTINCT metric FROM draw_metrics").fetchall()}
    aggs = {r[0] for r in con.execute("SELECT DISTINCT aggregator FROM draw_outcomes").fetchall()}
    assert metrics == {"distinct_n", "n_correct"}
    assert aggs == {"maj", "mbr_lex", "coverage"}


def test_ungraded_pools_are_skipped_with_a_notice(db_path: Path) -> None:
    make_study(db_path, graded=False)
    con = open_db(db_path)
    notes: list[str] = []
    stats = run_draws(con, DrawSpec(sizes=[2], reps=2, seed=0), notice=notes.append)
    assert stats["skipped_ungraded"] == 6 and stats["draws_written"] == 0
    assert any("divtui grade" in n for n in notes)


def test_bad_arguments_are_one_line_errors(db_path: Path) -> None:
    make_study(db_path)
    con = open_db(db_path)
    for kwargs, msg in (
        ({"sizes": [0]}, "positive"),
        ({"sizes": [2], "reps": 0}, "reps"),
        ({"sizes": [2], "scorers": ["nope"]}, "scorer 'nope' is not in the database"),
        ({"sizes": [2], "run_id": "zz"}, "run 'zz'"),
    ):
        with pytest.raises(ValueError, match=msg):
            run_draws(con, DrawSpec(**{"reps": 1, "seed": 0, **kwargs}))


def test_cli_draw_summary_and_errors(db_path: Path) -> None:
    make_study(db_path)
    out = run_divtui("draw", "--db", str(db_path), "--sizes", "2,20", "--reps", "2", "--seed", "4")
    assert out.returncode == 0, out.stderr
    assert "12 draws written" in out.stdout and "k=20: 6" in out.stdout
    again = run_divtui(
        "draw", "--db", str(db_path), "--sizes", "2,20", "--reps", "2", "--seed", "4"
    )
    assert "0 draws written, 12 already present" in again.stdout
    bad = run_divtui("draw", "--db", str(db_path), "--sizes", "2,x", "--reps", "2", "--seed", "4")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "error: --sizes: expected comma-separated integers like 4,8,16, got '2,x'"
    ]
    bad = run_divtui(
        "draw",
        "--db",
        str(db_path),
        "--sizes",
        "2",
        "--reps",
        "2",
        "--seed",
        "4",
        "--embedder",
        "e",
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: embedder 'e' is not in the database")


@pytest.mark.parametrize("quality", ["logprob", "reward", "both"])
def test_row_keys_list_exactly_what_evaluate_gives(db_path: Path, quality: str) -> None:
    from divtui.engine.draws import evaluate, row_keys
    from divtui.engine.pool import embedding_lookup, load_pools, precompute, reward_lookup

    make_study(db_path, problems=2)
    con = open_db(db_path)
    rew = {s: reward_lookup(con, s) for s in ("orm:a", "prob:b")}
    emb = {EMB: embedding_lookup(con, EMB)}
    for pool in load_pools(con, "r", ["p0", "p1"], rew, emb):
        ev = evaluate(
            pool, precompute(pool), draw_indices(0, "r", "p", 0.5, 3, pool.n, 2), quality=quality
        )
        assert set(ev.metrics) | set(ev.picks) == row_keys(pool, quality)
        ev = evaluate(
            pool, precompute(pool, distinct_n=2), draw_indices(0, "r", "p", 0.5, 3, pool.n, 2)
        )
        assert set(ev.metrics) | set(ev.picks) == row_keys(pool, distinct_n=2)


def test_switching_quality_adds_only_the_new_rows(tmp_path: Path) -> None:
    ref, step = tmp_path / "ref.duckdb", tmp_path / "step.duckdb"
    make_study(ref)
    shutil.copy(ref, step)
    con = open_db(ref)
    run_draws(con, DrawSpec(sizes=[3], reps=2, seed=2, quality="both"), notice=lambda _: None)
    want = stored(con)
    con = open_db(step)
    run_draws(con, DrawSpec(sizes=[3], reps=2, seed=2, quality="reward"), notice=lambda _: None)
    run_draws(con, DrawSpec(sizes=[3], reps=2, seed=2, quality="logprob"), notice=lambda _: None)
    assert stored(con) == want
    no_duplicates(con)


def test_another_distinct_n_adds_its_own_rows_and_keeps_the_default(db_path: Path) -> None:
    """--distinct-n 2 on drawn pools adds distinct_2 (checked against a set of 2-gram tuples),
    touches nothing else, and a rerun adds nothing."""
    make_study(db_path)
    con = open_db(db_path)
    run_draws(con, DrawSpec(sizes=[3, 5], reps=2, seed=2), notice=lambda _: None)
    before = stored(con)
    stats = run_draws(
        con, DrawSpec(sizes=[3, 5], reps=2, seed=2, distinct_n=2), notice=lambda _: None
    )
    n_draws = len(before[0])
    assert stats["draws_written"] == 0 and stats["outcome_rows"] == 0
    assert stats["metric_rows"] == n_draws
    after = stored(con)
    assert after[0] == before[0] and after[2] == before[2]
    assert [r for r in after[1] if r[1] != "distinct_2"] == before[1]
    texts = dict(con.execute("SELECT sample_id, text FROM samples").fetchall())
    rows = con.execute(
        """SELECT d.sample_ids, m.value FROM draws d JOIN draw_metrics m USING (draw_id)
           WHERE m.metric = 'distinct_2'"""
    ).fetchall()
    assert len(rows) == n_draws
    for members, value in rows:
        grams = [
            g for m in members for g in zip(*(texts[m].split()[i:] for i in range(2)), strict=False)
        ]
        if grams:
            assert value == pytest.approx(len(set(grams)) / len(grams))
        else:
            assert value is None
    again = run_draws(
        con, DrawSpec(sizes=[3, 5], reps=2, seed=2, distinct_n=2), notice=lambda _: None
    )
    assert again["metric_rows"] == 0 and stored(con) == after
    no_duplicates(con)


def test_a_pool_that_grew_is_redrawn_as_if_drawn_fresh(tmp_path: Path) -> None:
    """Draw with three samples of one pool missing, prune, add them back, draw again: the
    stored draws, metrics and outcomes equal a fresh draw of the whole study, and the pruning
    rows of the replaced draws are gone (the other pools' stay)."""
    from divtui.engine.prune import run_prune

    fresh, grown = tmp_path / "fresh.duckdb", tmp_path / "grown.duckdb"
    make_study(fresh, n=10)
    shutil.copy(fresh, grown)
    con = open_db(fresh)
    run_draws(con, DrawSpec(sizes=[3, 5], reps=3, seed=1), notice=lambda _: None)
    want = stored(con)
    con.close()

    con = open_db(grown)
    late = (
        "SELECT sample_id FROM samples WHERE problem_id = 'p0' AND temperature = 0.5 AND idx >= 7"
    )
    for table in ("scores", "embeddings", "samples"):
        con.execute(f"DELETE FROM {table} WHERE sample_id IN ({late})")
    run_draws(con, DrawSpec(sizes=[3, 5], reps=3, seed=1), notice=lambda _: None)
    run_prune(con, PruneSpec(metrics=["bleu"], sizes=[5], keep=[2]), notice=lambda _: None)
    pruned = con.execute("SELECT count(DISTINCT draw_id) FROM prune_outcomes").fetchall()[0][0]
    con.execute(f"ATTACH '{fresh}' AS f (READ_ONLY)")
    for table in ("samples", "scores", "embeddings"):
        con.execute(
            f"INSERT INTO {table} SELECT * FROM f.{table} "
            f"WHERE sample_id NOT IN (SELECT sample_id FROM {table})"
        )
    con.execute("DETACH f")
    notes: list[str] = []
    stats = run_draws(con, DrawSpec(sizes=[3, 5], reps=3, seed=1), notice=notes.append)
    assert stats["redrawn"] == 2 and stats["draws_written"] == 2 * 3
    assert sum("redrawn" in n for n in notes) == 1
    assert stored(con) == want
    no_duplicates(con)
    orphans = con.execute(
        "SELECT count(*) FROM prune_outcomes WHERE draw_id NOT IN (SELECT draw_id FROM draws)"
    ).fetchall()[0][0]
    left = con.execute("SELECT count(DISTINCT draw_id) FROM prune_outcomes").fetchall()[0][0]
    assert orphans == 0 and left == pruned - 3
    again = run_draws(con, DrawSpec(sizes=[3, 5], reps=3, seed=1), notice=lambda _: None)
    assert again["redrawn"] == 0 and again["draws_written"] == 0


def test_mixed_embedding_dimensions_are_a_clear_error_and_lose_nothing(db_path: Path) -> None:
    make_study(db_path, embeddings=False)
    con = open_db(db_path)
    run_draws(con, DrawSpec(sizes=[2], reps=1, seed=0), notice=lambda _: None)
    before = stored(con)
    ids = [r[0] for r in con.execute("SELECT sample_id FROM samples ORDER BY 1 LIMIT 2").fetchall()]
    vecs = [[1.0, 0.0], [1.0, 0.0, 0.0]]
    insert(con, "embeddings", pa.table({"sample_id": ids, "embedder": ["bad", "bad"], "vec": vecs}))
    con.close()
    out = run_divtui("draw", "--db", str(db_path), "--sizes", "2", "--reps", "3", "--seed", "0")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith("error: embedder 'bad': vectors have lengths 2..3")
    )
    con = open_db(db_path)
    assert stored(con) == before


@pytest.mark.parametrize(
    ("n", "k", "reps"), [(5, 3, 10), (5, 3, 20), (6, 6, 4), (7, 1, 7), (6, 2, 15)]
)
def test_small_pools_draw_every_subset_exactly_once(n: int, k: int, reps: int) -> None:
    """C(n, k) <= reps: the draws are every k-subset once (k = n: a single draw), in the
    order of first appearance in the pool's stream, each in a random draw order."""
    idx = draw_indices(3, "r", "p", 0.7, k, n, reps)
    subsets = sorted(tuple(sorted(r)) for r in idx.tolist())
    assert subsets == list(itertools.combinations(range(n), k))
    assert idx.shape == (len(subsets), k)
    if len(subsets) > 1 and k > 1:
        assert any(list(r) != sorted(r) for r in idx.tolist())  # not always ascending
    assert (draw_indices(3, "r", "p", 0.7, k, n, reps + 50) == idx).all()


@pytest.mark.parametrize(("n", "k", "reps"), [(6, 3, 19), (8, 2, 27), (10, 4, 100), (64, 8, 100)])
def test_large_pools_draw_distinct_subsets_and_keep_a_prefix(n: int, k: int, reps: int) -> None:
    """C(n, k) > reps: reps distinct subsets, uniform (the stream's rows with repeats skipped),
    and draw r is the same whatever the number of reps."""
    import math

    idx = draw_indices(5, "r", "p", 0.3, k, n, reps)
    assert idx.shape == (min(reps, math.comb(n, k)), k)
    assert len({tuple(sorted(r)) for r in idx.tolist()}) == len(idx)
    assert all(len(set(r)) == k and min(r) >= 0 and max(r) < n for r in idx.tolist())
    for fewer in (1, reps // 2):
        assert (draw_indices(5, "r", "p", 0.3, k, n, fewer) == idx[:fewer]).all()


def test_the_stream_is_todays_draws_when_nothing_repeats() -> None:
    """Without a repeated subset the draws are the rows of argsort of n uniforms, as before."""
    from divtui.store import stable_id

    key = stable_id("draws", "r", "p", 0.5, 8) & (2**64 - 1)
    rng = np.random.default_rng(np.random.SeedSequence([9, key]))
    want = np.argsort(rng.random((100, 64)), axis=1, kind="stable")[:, :8]
    assert (draw_indices(9, "r", "p", 0.5, 8, 64, 100) == want).all()


def test_past_the_stream_cap_subsets_are_filled_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the bounded stream runs out (huge pools with k near 1 or n) every subset is still
    drawn once (exhaustive) or reps distinct ones are (sampled)."""
    from divtui.engine import draws as dr

    monkeypatch.setattr(dr, "_stream_cap", lambda n, k, total: 3)
    every = dr.draw_indices(1, "r", "p", 0.5, 2, 6, 20)
    assert sorted(tuple(sorted(r)) for r in every.tolist()) == list(
        itertools.combinations(range(6), 2)
    )
    some = dr.draw_indices(1, "r", "p", 0.5, 2, 6, 12)
    assert len({tuple(sorted(r)) for r in some.tolist()}) == 12


def test_older_files_with_repeated_subsets_are_redrawn(db_path: Path) -> None:
    """A file drawn before (reps rows of one k = n subset) gets its extra draws removed."""
    make_study(db_path, problems=1, temps=(0.5,), n=4)
    con = open_db(db_path)
    run_draws(con, DrawSpec(sizes=[4], reps=3, seed=0), notice=lambda _: None)
    row = con.execute("SELECT * FROM draws").fetchall()[0]
    for rep in (1, 2):  # what an older divtui stored: the same whole pool again
        con.execute(
            "INSERT INTO draws VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [draw_id("r", "p0", 0.5, 4, rep, 0), *row[1:5], rep, 0, row[7]],
        )
    notes: list[str] = []
    stats = run_draws(con, DrawSpec(sizes=[4], reps=3, seed=0), notice=notes.append)
    assert stats["redrawn"] == 1 and any("repeated subsets" in n for n in notes)
    assert con.execute("SELECT count(*), min(rep), max(rep) FROM draws").fetchall() == [(1, 0, 0)]
    assert con.execute("SELECT n_subsets, n_draws, exhaustive FROM draw_sets").fetchall() == [
        (1, 1, True)
    ]
    no_duplicates(con)
