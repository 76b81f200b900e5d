"""engine.batch_detail: per-member figures against brute force, picks against the stored ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sacrebleu

from divtui.engine.batch_detail import draw_detail, redraw, rerun_aggregators, samples_detail
from divtui.engine.draws import run_draws
from divtui.engine.specs import DrawSpec
from divtui.store import open_db
from tests.test_aggregators import ref_argmax, ref_mbr, ref_vote
from tests.test_draws import EMB, make_study


@pytest.fixture
def con(db_path: Path):
    """A drawn study: 2 problems x 2 temperatures x 8-9 samples, k=5, 3 reps."""
    make_study(db_path, problems=2, n=8)
    c = open_db(db_path)
    run_draws(c, DrawSpec(sizes=[5], reps=3, seed=9), notice=lambda _: None)
    yield c
    c.close()


def cosine_by_hand(con, sids: list[int]) -> np.ndarray:
    """The cosine kernel of the stored vectors of ``sids``, one pair at a time."""
    vecs = []
    for s in sids:
        v = np.array(
            con.execute(
                "SELECT vec FROM embeddings WHERE sample_id = ? AND embedder = ?", [s, EMB]
            ).fetchall()[0][0]
        )
        vecs.append(v / np.linalg.norm(v))
    k = len(sids)
    return np.array(
        [[1.0 if i == j else float(vecs[i] @ vecs[j]) for j in range(k)] for i in range(k)]
    )


def check_members(con, det: dict, sids: list[int]) -> None:
    """Every per-member figure of a detail against slogdet, sacrebleu and plain loops."""
    assert [m["sample_id"] for m in det["members"]] == sids
    texts = [m["text"] for m in det["members"]]
    k = len(sids)
    cos = cosine_by_hand(con, sids)
    L = cos + 1e-6 * np.eye(k)
    full = np.linalg.slogdet(L)[1]
    for i, m in enumerate(det["members"]):
        assert m["position"] == i
        rest = np.delete(np.delete(L, i, 0), i, 1)
        assert m["dpp_contribution"] == pytest.approx(full - np.linalg.slogdet(rest)[1], abs=1e-5)
        others = [j for j in range(k) if j != i]
        assert m["mean_bleu"] == pytest.approx(
            np.mean([sacrebleu.sentence_bleu(texts[i], [texts[j]]).score for j in others]),
            abs=1e-9,
        )
        assert m["mean_cosine"] == pytest.approx(np.mean([cos[i, j] for j in others]), abs=1e-9)
        assert m["near_duplicate"] == any(cos[i, j] >= 0.98 for j in others)
        raw = con.execute(
            "SELECT value FROM scores WHERE sample_id = ? AND scorer = 'orm:a'",
            [m["sample_id"]],
        ).fetchall()[0][0]
        assert m["reward"] == pytest.approx(1 / (1 + np.exp(-raw)))


def test_draw_detail_members_against_brute_force(con) -> None:
    for (did,) in con.execute("SELECT draw_id FROM draws").fetchall():
        det = draw_detail(con, did, scorer="orm:a", embedder=EMB)
        sids = con.execute("SELECT sample_ids FROM draws WHERE draw_id = ?", [did]).fetchall()[0][0]
        check_members(con, det, sids)
        stored = {(o["aggregator"], o["scorer"]): o["sample_id"] for o in det["outcomes"]}
        picks = rerun_aggregators(con, sids, scorer="orm:a", embedder=EMB)
        for name, pick in picks.items():
            assert stored[(name, pick["scorer"])] == pick["sample_id"], name
        assert {m["metric"] for m in det["metrics"]} >= {"dpp", "cosine_sim", "distinct_n"}


def test_rerun_on_an_edited_batch_matches_plain_python(con) -> None:
    rows = con.execute(
        "SELECT sample_id, text, answer_class, correct FROM samples WHERE problem_id = 'p1' "
        "AND temperature = 1.0 ORDER BY idx DESC"
    ).fetchall()[:4]
    sids = [r[0] for r in rows]
    rewards = [
        con.execute(
            "SELECT value FROM scores WHERE sample_id = ? AND scorer = 'prob:b'", [s]
        ).fetchall()[0][0]
        for s in sids
    ]
    picks = rerun_aggregators(con, sids, scorer="prob:b", embedder=EMB)
    classes = [-1 if r[2] is None else r[2] for r in rows]
    bleu = np.array([[sacrebleu.sentence_bleu(a[1], [b[1]]).score for b in rows] for a in rows])
    assert picks["maj"]["sample_id"] == sids[ref_vote(classes)]
    assert picks["wmaj"]["sample_id"] == sids[ref_vote(classes, rewards)]
    assert picks["bst"]["sample_id"] == sids[ref_argmax(rewards)]
    assert picks["mbr_lex"]["sample_id"] == sids[ref_mbr(bleu)]
    assert picks["coverage"]["correct"] == any(r[3] for r in rows)
    assert "wmaj" not in rerun_aggregators(con, sids, scorer="prob:b", weighted=False)


def test_redraw_reproduces_stored_draws_and_errors_are_clear(con) -> None:
    for run, prob, temp, k, rep, seed, sids in con.execute(
        "SELECT run_id, problem_id, temperature, k, rep, seed, sample_ids FROM draws"
    ).fetchall():
        assert redraw(con, run, prob, temp, k, seed, rep) == sids
    assert redraw(con, "r", "p0", 0.5, 5, 10) != redraw(con, "r", "p0", 0.5, 5, 11)
    with pytest.raises(ValueError, match="fewer than k"):
        redraw(con, "r", "p0", 0.5, 50, 1)
    with pytest.raises(ValueError, match="not in the database"):
        draw_detail(con, 12345)
    a = con.execute("SELECT sample_id FROM samples WHERE temperature = 0.5 LIMIT 1").fetchall()[0][
        0
    ]
    b = con.execute("SELECT sample_id FROM samples WHERE temperature = 1.0 LIMIT 1").fetchall()[0][
        0
    ]
    with pytest.raises(ValueError, match="more than one pool"):
        rerun_aggregators(con, [a, b])


def test_batch_detail_equals_draw_detail_on_stored_draws(con) -> None:
    for did, sids in con.execute("SELECT draw_id, sample_ids FROM draws").fetchall():
        stored = draw_detail(con, did, scorer="orm:a", embedder=EMB)
        fresh = samples_detail(con, sids, scorer="orm:a", embedder=EMB)
        assert fresh["members"] == stored["members"]
        assert fresh["draw"] is None and stored["draw"]["draw_id"] == did
        assert (fresh["scorer"], fresh["embedder"]) == ("orm:a", EMB)
        want = {
            (m["metric"], m["embedder"], m["scorer"]): m["value"]
            for m in stored["metrics"]
            if m["scorer"] in ("", "orm:a")
        }
        got = {(m["metric"], m["embedder"], m["scorer"]): m["value"] for m in fresh["metrics"]}
        assert set(got) == set(want)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=1e-9), key
        want_o = {
            (o["aggregator"], o["embedder"], o["scorer"]): (o["sample_id"], o["correct"])
            for o in stored["outcomes"]
            if o["scorer"] in ("", "orm:a")
        }
        got_o = {
            (o["aggregator"], o["embedder"], o["scorer"]): (o["sample_id"], o["correct"])
            for o in fresh["outcomes"]
        }
        assert got_o == want_o


@pytest.mark.parametrize("seed", range(6))
def test_batch_detail_of_a_fresh_batch_against_brute_force(con, seed: int) -> None:
    rng = np.random.default_rng(seed)
    prob, temp = ["p0", "p1"][seed % 2], [0.5, 1.0][(seed // 2) % 2]
    rows = con.execute(
        "SELECT sample_id, text, answer_class, correct FROM samples "
        "WHERE problem_id = ? AND temperature = ?",
        [prob, temp],
    ).fetchall()
    k = int(rng.integers(2, len(rows) + 1))
    rows = [rows[j] for j in rng.permutation(len(rows))[:k]]
    sids = [r[0] for r in rows]
    det = samples_detail(con, sids, scorer="orm:a", embedder=EMB)
    check_members(con, det, sids)
    cos = cosine_by_hand(con, sids)
    metrics = {(m["metric"], m["embedder"]): m["value"] for m in det["metrics"]}
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    assert metrics[("cosine_sim", EMB)] == pytest.approx(np.mean([cos[p] for p in pairs]))
    assert metrics[("dpp", EMB)] == pytest.approx(
        np.linalg.slogdet(cos + 1e-6 * np.eye(k))[1], abs=1e-6
    )
    assert metrics[("near_dup_pairs", EMB)] == sum(cos[p] >= 0.98 for p in pairs)
    assert metrics[("n_correct", "")] == sum(bool(r[3]) for r in rows)
    picks = {o["aggregator"]: o for o in det["outcomes"]}
    classes = [-1 if r[2] is None else r[2] for r in rows]
    rewards = [m["reward"] for m in det["members"]]
    bleu = np.array([[sacrebleu.sentence_bleu(a[1], [b[1]]).score for b in rows] for a in rows])
    assert picks["maj"]["sample_id"] == sids[ref_vote(classes)]
    assert picks["wmaj"]["sample_id"] == sids[ref_vote(classes, rewards)]
    assert picks["bst"]["sample_id"] == sids[ref_argmax(rewards)]
    assert picks["mbr_lex"]["sample_id"] == sids[ref_mbr(bleu)]
    assert picks["mbr_sem"]["sample_id"] == sids[ref_mbr(cos)]
    assert picks["coverage"]["correct"] == any(r[3] for r in rows)
    for name in ("maj", "wmaj", "bst", "mbr_lex", "mbr_sem"):
        j = sids.index(picks[name]["sample_id"])
        assert picks[name]["correct"] == bool(rows[j][3])
    with pytest.raises(ValueError, match="empty batch"):
        samples_detail(con, [])


def test_batch_view_and_run_rows_have_exactly_their_typed_keys(con) -> None:
    """The TypedDicts the UI is typed against name every key the real rows carry, no more."""
    from divtui.engine.batch_detail import BatchView, ShownBatch
    from divtui.engine.browse import batch_view
    from divtui.store.catalog import runs
    from divtui.store.row_types import RunRow

    draw_id, sids = con.execute("SELECT draw_id, sample_ids FROM draws LIMIT 1").fetchall()[0]
    for view in (batch_view(con, draw_id=draw_id), batch_view(con, sample_ids=list(sids))):
        assert set(view) == BatchView.__required_keys__
        assert {m["sample_id"] for m in view["members"]} == set(sids)
    assert ShownBatch.__optional_keys__ == {"fresh_seed", "context"}
    import pandas as pd

    from divtui.store.write import insert

    runs_of_samples = [r for (r,) in con.execute("SELECT DISTINCT run_id FROM samples").fetchall()]
    names = [*runs_of_samples, "no-samples"]
    insert(con, "runs", pd.DataFrame({"run_id": names, "source": ["test"] * len(names)}))
    rows = runs(con)
    by_hand = [
        (run_id, len(s), len(set(s.problem_id)), int(s.correct.notna().sum()))
        for run_id, s in (
            (n, con.execute("SELECT * FROM samples WHERE run_id = ?", [n]).df()) for n in names
        )
    ]
    assert sorted((r["run_id"], r["samples"], r["problems"], r["graded"]) for r in rows) == sorted(
        by_hand
    )
    assert {r["run_id"] for r in rows} == set(names)
    for r in rows:
        assert set(r) == RunRow.__required_keys__
