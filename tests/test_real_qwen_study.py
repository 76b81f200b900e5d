"""The real Qwen2.5-Math file through import, grading and draws: k = 8 picks match the file's own labels."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from divtui.store import open_db
from tests.conftest import run_divtui

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
SCORER = "import:qwen-math-eval:pred_score"


def _file_implied(row: dict) -> dict[str, bool | None]:
    """What the file's own labels and rewards say maj, bst and coverage at k = 8 should give."""
    preds, labels = row["pred"], row["score"]
    rewards = [r[0] for r in row["pred_score"]]
    top = max(rewards)
    best = [i for i, r in enumerate(rewards) if r == top]
    counts = Counter(preds)
    most = max(counts.values())
    leaders = [p for p in dict.fromkeys(preds) if counts[p] == most]
    return {
        # a tie between samples (bst) or answer groups (maj) that disagree on correctness makes
        # the pick depend on draw order, so the file implies nothing there
        "bst": labels[best[0]] if len({labels[i] for i in best}) == 1 else None,
        "maj": labels[preds.index(leaders[0])] if len(leaders) == 1 else None,
        "coverage": any(labels),
    }


@pytest.fixture(scope="module")
def qwen_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    src = Path(__file__).resolve().parents[2] / "shared" / "data" / "qwen25math_math_cot_100.jsonl"
    if not src.exists():
        pytest.skip("../shared/data is absent")
    db = tmp_path_factory.mktemp("qwen") / "qwen.duckdb"
    r = run_divtui("import", str(src), "--format", "qwen-math-eval", "--db", str(db))
    assert r.returncode == 0, r.stderr
    r = run_divtui("draw", "--sizes", "8", "--reps", "3", "--seed", "0", "--db", str(db))
    assert r.returncode == 0, r.stderr
    return db, [json.loads(line) for line in src.read_text().splitlines()]


def test_import_holds_the_whole_file(qwen_study: tuple[Path, list[dict]]) -> None:
    db, rows = qwen_study
    con = open_db(db, read_only=True)
    assert con.execute("SELECT count(*) FROM problems").fetchall()[0][0] == 100
    assert (
        con.execute("SELECT count(*) FROM samples WHERE correct IS NOT NULL").fetchall()[0][0]
        == 800
    )
    got = con.execute("SELECT count(*) FROM scores WHERE scorer = ?", [SCORER]).fetchall()[0][0]
    assert got == 800
    # k = 8 is the whole pool of 8: C(8, 8) = 1 subset, drawn once per problem (not 3 copies)
    assert con.execute("SELECT count(*) FROM draws WHERE k = 8").fetchall()[0][0] == 100
    assert con.execute(
        "SELECT count(*), sum(n_subsets), bool_and(exhaustive) FROM draw_sets WHERE k = 8"
    ).fetchall() == [(100, 100, True)]


@pytest.mark.parametrize("aggregator", ["maj", "bst", "coverage"])
def test_k8_picks_match_the_file(qwen_study: tuple[Path, list[dict]], aggregator: str) -> None:
    db, rows = qwen_study
    con = open_db(db, read_only=True)
    stored = con.execute(
        """
        SELECT d.problem_id, list(DISTINCT o.correct)
        FROM draw_outcomes o JOIN draws d USING (draw_id)
        WHERE d.k = 8 AND o.aggregator = ? GROUP BY 1
        """,
        [aggregator],
    ).fetchall()
    ours = dict(stored)
    assert len(ours) == 100
    mismatches, compared = [], 0
    for row in rows:
        want = _file_implied(row)[aggregator]
        if want is None:
            continue
        compared += 1
        got = ours[f"math:{row['idx']}"]
        if got != [want]:
            mismatches.append((row["idx"], want, got))
    assert compared >= 95
    # divtui's grading disagrees with the file's label on one sample (problem 72: `10{,}000`
    # against `10000`, see README); nothing else may differ
    assert len(mismatches) <= 1, mismatches
    assert all(idx == 72 for idx, _, _ in mismatches), mismatches
