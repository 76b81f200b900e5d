"""The overview's report cache: stored by `divtui draw`, equal to a fresh report, and dropped as
soon as anything the report reads changes."""

from __future__ import annotations

import json
from pathlib import Path

from divtui.engine.report_cache import (
    cached_overview,
    overview_choice,
    overview_report,
    refresh_overview,
)
from divtui.store import open_db
from divtui.store.draw_tables import report_fingerprint
from tests.conftest import run_divtui
from tests.test_draws import make_study


def _fresh(con) -> dict:
    """The overview report computed now, through JSON like the cache."""
    scorer, embedder = overview_choice(con)
    return json.loads(json.dumps(overview_report(con, scorer, embedder), default=str))


def test_draw_stores_the_overview_report_and_any_change_invalidates_it(db_path: Path) -> None:
    make_study(db_path, problems=4)
    out = run_divtui("draw", "--db", str(db_path), "--sizes", "2,3", "--reps", "3", "--seed", "1")
    assert out.returncode == 0, out.stderr
    con = open_db(db_path)
    cached = cached_overview(con)
    assert cached is not None and cached["meta"]["n_boot"] == 1000
    assert cached == _fresh(con)
    assert con.execute("SELECT count(*) FROM report_cache").fetchall() == [(1,)]
    assert report_fingerprint(con) == report_fingerprint(con)  # order-free: a rescan agrees
    changes = [
        "UPDATE draw_metrics SET value = value + 1 WHERE metric = 'distinct_n'",
        "UPDATE draw_outcomes SET correct = NOT correct WHERE aggregator = 'maj' AND draw_id IN "
        "(SELECT min(draw_id) FROM draws)",
        "UPDATE samples SET correct = NOT correct WHERE idx = 0",
        "DELETE FROM draws WHERE draw_id IN (SELECT max(draw_id) FROM draws)",
    ]
    for sql in changes:
        assert refresh_overview(con, n_boot=20) is True
        assert cached_overview(con, n_boot=20) is not None
        con.execute(sql)
        assert cached_overview(con, n_boot=20) is None, sql
        assert cached_overview(con) is None, sql
    con.close()


def test_no_report_cache_flag_and_no_draws(db_path: Path) -> None:
    make_study(db_path, problems=2)
    con = open_db(db_path)
    assert refresh_overview(con) is False  # nothing drawn yet
    con.close()
    out = run_divtui(
        "draw",
        "--db",
        str(db_path),
        "--sizes",
        "2",
        "--reps",
        "2",
        "--seed",
        "1",
        "--no-report-cache",
    )
    assert out.returncode == 0, out.stderr
    con = open_db(db_path, read_only=True)
    assert con.execute("SELECT count(*) FROM report_cache").fetchall() == [(0,)]
    assert cached_overview(con) is None
    con.close()
