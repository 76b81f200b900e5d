"""`divtui import` never writes into the demo database by default, and every stage that writes
a database says which file it wrote (the real CLI in subprocesses on real files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from divtui.settings import default_db
from divtui.store import open_db
from tests.conftest import run_divtui


def _samples_file(path: Path) -> Path:
    """Two problems, four native samples each at one temperature."""
    lines = []
    for p in range(2):
        for i in range(4):
            ans = "4" if i % 2 == 0 else "5"
            lines.append(
                {
                    "problem_id": f"q{p}",
                    "question": f"What is 2 + 2 ({p})?",
                    "gold_answer": "4",
                    "temperature": 0.7,
                    "text": f"We add. The answer is \\boxed{{{ans}}}",
                    "mean_logprob": -0.1 * (i + 1),
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return path


def _count(db: Path) -> int:
    """Samples stored in ``db``."""
    con = open_db(db, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM samples").fetchall()[0][0]
    finally:
        con.close()


def test_import_without_db_refuses_and_touches_no_demo(tmp_path: Path) -> None:
    src = _samples_file(tmp_path / "s.jsonl")
    assert "DIVTUI_DB" not in os.environ
    out = run_divtui("import", str(src), "--format", "jsonl", "--no-grade")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --db: name the database")
    assert str(default_db()) in lines[0] and "DIVTUI_DB" in lines[0]
    assert not default_db().exists()


def test_import_uses_divtui_db_and_says_where_it_wrote(tmp_path: Path) -> None:
    src = _samples_file(tmp_path / "s.jsonl")
    db = tmp_path / "study.duckdb"
    out = run_divtui("import", str(src), "--format", "jsonl", env={"DIVTUI_DB": str(db)})
    assert out.returncode == 0, out.stderr
    assert f"database: {db.resolve()}" in out.stderr.splitlines()
    assert _count(db) == 8 and not default_db().exists()
    explicit = tmp_path / "other.duckdb"
    out = run_divtui("import", str(src), "--format", "jsonl", "--no-grade", "--db", str(explicit))
    assert out.returncode == 0 and f"database: {explicit.resolve()}" in out.stderr
    assert _count(explicit) == 8


def test_every_writing_stage_prints_the_path(tmp_path: Path) -> None:
    src = _samples_file(tmp_path / "s.jsonl")
    db = tmp_path / "study.duckdb"
    assert run_divtui("import", str(src), "--format", "jsonl", "--db", str(db)).returncode == 0
    for args in (
        ("grade", "--regrade", "--workers", "1"),
        ("draw", "--sizes", "2", "--reps", "2", "--seed", "0"),
        ("prune", "--sizes", "2", "--keep", "1", "--metric", "bleu"),
    ):
        out = run_divtui(*args, "--db", str(db))
        assert out.returncode == 0, (args, out.stderr)
        assert out.stderr.strip().splitlines()[-1] == f"database: {db.resolve()}", args
    report = run_divtui("report", "--db", str(db), "--format", "json", "--table", "pass_at_k")
    assert report.returncode == 0 and "database:" not in report.stderr
