"""Neighbourhood quality against a plain loop, on random pools and on a stored study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine.neighbours import NeighbourTally, nearest_other
from divtui.engine.prune import neighbourhood_quality, run_prune
from divtui.engine.report import build_report
from divtui.engine.specs import PruneSpec
from divtui.store import open_db
from tests.conftest import run_divtui
from tests.test_prune import EMB, build_study


def _loop(d: np.ndarray, classes: list[int], correct: list[bool]) -> tuple[float, ...]:
    """Plain sums: neighbour same class, same correctness; chance rates of both."""
    n = len(classes)
    out = [0.0, 0.0, 0.0, 0.0]
    for i in range(n):
        others = [j for j in range(n) if j != i]
        nn = min(others, key=lambda j: (d[i][j], j))
        out[0] += classes[nn] == classes[i]
        out[1] += correct[nn] == correct[i]
        out[2] += sum(classes[j] == classes[i] for j in others) / (n - 1)
        out[3] += sum(correct[j] == correct[i] for j in others) / (n - 1)
    return tuple(out)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 12))
def test_tally_matches_a_loop(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    tally = NeighbourTally()
    want = np.zeros(4)
    for _ in range(3):
        d = np.round(rng.random((n, n)), 1)  # coarse values: ties in the nearest neighbour
        classes = rng.integers(-1, 3, size=n)
        correct = classes == 0
        tally.add("r", "x", d, classes, correct)
        want += _loop(d, classes.tolist(), correct.tolist())
    (row,) = tally.rows()
    total = 3 * n
    assert row["samples"] == total and row["pools"] == 3
    got = [
        row["same_class"],
        row["same_correct"],
        row["same_class_chance"],
        row["same_correct_chance"],
    ]
    assert np.allclose(got, want / total)
    chance = row["same_class_chance"]
    assert row["same_class_lift"] == (row["same_class"] / chance if chance > 0 else None)


def test_nearest_other_ties_to_lowest_index() -> None:
    d = np.array([[0, 1, 1], [2, 0, 2], [0.5, 0.5, 0]])
    assert nearest_other(d).tolist() == [1, 0, 0]


def _study_by_loop(con: object, where: str = "TRUE") -> tuple[dict[str, np.ndarray], int]:
    """Per space, the plain-loop sums over the stored pools matching ``where``, and their size."""
    pools = con.execute(
        f"""SELECT list(s.text ORDER BY s.idx), list(coalesce(s.answer_class, -1) ORDER BY s.idx),
                   list(s.correct ORDER BY s.idx), list(e.vec ORDER BY s.idx)
            FROM samples s JOIN embeddings e ON e.sample_id = s.sample_id AND e.embedder = '{EMB}'
            WHERE {where} GROUP BY s.problem_id, s.temperature"""
    ).fetchall()
    want = {"sbert": np.zeros(4), "bleu": np.zeros(4)}
    n = 0
    for texts, classes, correct, vecs in pools:
        k = len(texts)
        n += k
        u = np.array([np.asarray(v) / np.linalg.norm(v) for v in vecs])
        d_sb = 1 - u @ u.T
        d_bl = np.array(
            [
                [
                    1
                    - (
                        sacrebleu.sentence_bleu(texts[i], [texts[j]]).score
                        + sacrebleu.sentence_bleu(texts[j], [texts[i]]).score
                    )
                    / 200
                    for j in range(k)
                ]
                for i in range(k)
            ]
        )
        want["sbert"] += _loop(d_sb, classes, correct)
        want["bleu"] += _loop(d_bl, classes, correct)
    return want, n


def _assert_rows_match(rows: list[dict], want: dict[str, np.ndarray], n: int) -> None:
    """The sbert and bleu rows equal the loop's rates over ``n`` samples."""
    by_metric = {r["metric"]: r for r in rows}
    for metric in ("sbert", "bleu"):
        r = by_metric[metric]
        assert r["samples"] == n
        got = [r["same_class"], r["same_correct"], r["same_class_chance"], r["same_correct_chance"]]
        assert np.allclose(got, want[metric] / n), metric


def test_neighbourhood_of_a_study_matches_a_loop(db_path: Path) -> None:
    build_study(db_path, problems=3, seed=8)
    con = open_db(db_path)
    rows = neighbourhood_quality(con, metrics=["sbert", "bleu"])
    _assert_rows_match(rows, *_study_by_loop(con))
    # the prune pass tallies the same numbers
    stats = run_prune(
        con, PruneSpec(metrics=["sbert", "bleu"], sizes=[6], keep=[2]), notice=lambda s: None
    )
    assert {r["metric"]: r for r in stats["neighbours"]} == {r["metric"]: r for r in rows}


def test_report_neighbours_table_for_one_temperature(db_path: Path) -> None:
    """`report --table neighbours --temperature T` keeps only that temperature's pools."""
    build_study(db_path, problems=3, seed=9)
    con = open_db(db_path)
    rows = build_report(con, tables=["neighbours"], temperature=1.0, n_boot=0)["tables"]
    _assert_rows_match(rows["neighbours"], *_study_by_loop(con, "s.temperature = 1.0"))


def test_report_cli_prints_neighbours_only_when_named(db_path: Path) -> None:
    build_study(db_path, problems=3, seed=10)
    res = run_divtui("report", "--db", str(db_path), "--table", "neighbours", "--boot", "0")
    assert res.returncode == 0, res.stderr
    assert "## Neighbourhood quality of each pruning space" in res.stdout
    assert "| sbert |" in res.stdout and "| bleu |" in res.stdout
    res = run_divtui("report", "--db", str(db_path), "--boot", "0")
    assert res.returncode == 0, res.stderr
    assert "## Scorers" in res.stdout and "Neighbourhood" not in res.stdout
    res = run_divtui("report", "--db", str(db_path), "--table", "neighbors")
    assert res.returncode == 1 and "choose from" in res.stderr and "neighbours" in res.stderr
