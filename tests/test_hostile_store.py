"""Broken disks and broken files: damaged databases, foreign files, full and read-only disks.

Every case gives one ``error:`` line (never a traceback), loses nothing already stored, leaves
no empty or half-made file behind, and a rerun once the problem is gone gives the clean result.
The full-disk tests mount a small tmpfs of their own (they need root and skip without it).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from divtui.store import open_db
from tests.test_hostile_import import checksum, cli_run
from tests.test_import_bad_input import native


def _one_error(rc: int, out: str, err: str) -> str:
    """The single error line of a failed command (asserting there is exactly one)."""
    assert rc != 0, (out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _file(
    tmp_path: Path, n: int = 9, name: str = "s.jsonl", text_words: int = 3, per: int = 3
) -> Path:
    """A native file of ``n`` samples (``per`` per problem), texts of ``text_words`` words."""
    path = tmp_path / name
    rows = [
        native(i) | {"problem_id": f"p{i // per}", "question": f"Q{i // per}?", "sample_idx": i % per,
                     "text": " ".join(f"w{(i * 7 + j) % 97}" for j in range(text_words))
                     + f" \\boxed{{{i % 2 + 7}}}"}
        for i in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def good_db(tmp_path: Path) -> Path:
    """A small imported study."""
    db = tmp_path / "good.duckdb"
    assert cli_run("import", str(_file(tmp_path)), "--format", "jsonl", "--db", str(db))[0] == 0
    return db


def test_sqlite_file_as_db_is_one_line_and_offline(tmp_path: Path, monkeypatch) -> None:
    lite = tmp_path / "lite.db"
    c = sqlite3.connect(lite)
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for args in (["info", str(lite)], ["import", str(_file(tmp_path)), "--format", "jsonl",
                                       "--db", str(lite)]):  # fmt: skip
        line = _one_error(*cli_run(*args))
        assert "is an SQLite file, not a DuckDB database" in line
    # every connection divtui opens has extension autoloading and autoinstall off, so even a
    # file DuckDB itself would hand to an extension never triggers a download
    con = open_db(tmp_path / "x.duckdb")
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('autoload_known_extensions', 'autoinstall_known_extensions')"
        ).fetchall()
    )
    con.close()
    assert settings == {
        "autoload_known_extensions": "false",
        "autoinstall_known_extensions": "false",
    }
    from divtui.store.db import _connect

    with pytest.raises(Exception, match="sqlite") as e:
        _connect(lite, read_only=True)
    assert "\n" not in str(e.value)
    assert not (home / ".duckdb").exists()  # nothing was fetched or installed


DAMAGED = ("cannot open as a DuckDB database", "cannot be read", "damaged or not a divtui")


@pytest.mark.parametrize(
    ("damage", "wanted"),
    [
        ("truncate", "DAMAGED"),
        ("scribble", "DAMAGED"),
        ("DELETE FROM schema_version", "table schema_version is empty"),
        (
            "DROP TABLE schema_version; CREATE TABLE schema_version (version VARCHAR); "
            "INSERT INTO schema_version VALUES ('two')",
            "table schema_version holds 'two', not a version number",
        ),
        (
            "DROP TABLE schema_version; CREATE TABLE schema_version (version VARCHAR); "
            "INSERT INTO schema_version VALUES ('')",
            "table schema_version holds '', not a version number",
        ),
        ("DROP TABLE draw_outcomes", "table draw_outcomes is missing"),
        ("ALTER TABLE runs RENAME TO runs_old", "table runs is missing"),
        (
            "DROP INDEX samples_pool; ALTER TABLE samples RENAME COLUMN text TO body",
            "table samples has no column text",
        ),
    ],
)
def test_damaged_database_is_one_line(good_db: Path, damage: str, wanted: str) -> None:
    if damage == "truncate":
        with open(good_db, "r+b") as f:
            f.truncate(good_db.stat().st_size // 3)
    elif damage == "scribble":
        with open(good_db, "r+b") as f:
            f.seek(9000)
            f.write(os.urandom(4096))
    else:
        con = duckdb.connect(str(good_db))
        con.execute(damage)
        con.close()
    size = good_db.stat().st_size
    for args in (
        ["info", str(good_db)],
        ["report", "--db", str(good_db)],
        ["draw", "--db", str(good_db), "--sizes", "2", "--reps", "1", "--seed", "0"],
        ["import", str(good_db.with_name("s.jsonl")), "--format", "jsonl", "--db", str(good_db)],
    ):
        line = _one_error(*cli_run(*args))
        assert str(good_db) in line
        if wanted == "DAMAGED":  # DuckDB's own words depend on where the damage lies
            assert any(w in line for w in DAMAGED), line
        else:
            assert wanted in line, line
    assert good_db.stat().st_size == size


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted for this test (root only)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "small"
    point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(point)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """A ballast file that leaves about ``leave`` bytes free in ``folder``'s filesystem."""
    ballast = folder / "ballast"
    free = shutil.disk_usage(folder).free
    with open(ballast, "wb") as f:
        f.write(b"\0" * max(free - leave, 0))
    return ballast


def test_read_only_folder_is_one_line_and_leaves_nothing(tmpfs: Path, tmp_path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    db = tmpfs / "new.duckdb"
    line = _one_error(
        *cli_run("import", str(_file(tmp_path)), "--format", "jsonl", "--db", str(db))
    )
    assert f"{db}: cannot create the database: the folder {tmpfs} is not writable" in line
    assert list(tmpfs.iterdir()) == []


def test_full_disk_when_creating_leaves_no_empty_file(tmpfs: Path, tmp_path: Path) -> None:
    ballast = _fill(tmpfs, 0)
    db = tmpfs / "new.duckdb"
    src = _file(tmp_path)
    assert "disk full" in _one_error(
        *cli_run("import", str(src), "--format", "jsonl", "--db", str(db))
    )
    assert sorted(p.name for p in tmpfs.iterdir()) == ["ballast"]
    ballast.unlink()
    assert cli_run("import", str(src), "--format", "jsonl", "--db", str(db))[0] == 0


def test_full_disk_during_import_then_rerun(tmpfs: Path, tmp_path: Path) -> None:
    """The import fails with one line and stores nothing; after freeing space the same
    command gives exactly what an import on a roomy disk gives."""
    src = _file(tmp_path, n=600, text_words=400)  # about 2 MB of text
    db = tmpfs / "study.duckdb"
    assert cli_run("import", str(_file(tmp_path, name="seed.jsonl")), "--format", "jsonl",
                   "--db", str(db), "--run", "seed")[0] == 0  # fmt: skip
    before = checksum(db)
    ballast = _fill(tmpfs, 600_000)
    line = _one_error(*cli_run("import", str(src), "--format", "jsonl", "--db", str(db)))
    assert line.startswith(f"error: {db}: disk full") and "nothing of it is stored" in line
    ballast.unlink()
    assert checksum(db) == before
    assert cli_run("import", str(src), "--format", "jsonl", "--db", str(db))[0] == 0
    clean = tmp_path / "clean.duckdb"
    assert cli_run("import", str(_file(tmp_path, name="seed.jsonl")), "--format", "jsonl",
                   "--db", str(clean), "--run", "seed")[0] == 0  # fmt: skip
    assert cli_run("import", str(src), "--format", "jsonl", "--db", str(clean))[0] == 0
    mine, theirs = checksum(db), checksum(clean)
    mine.pop("runs"), theirs.pop("runs")  # the recorded file path differs
    assert mine == theirs


def test_full_disk_during_draw_then_rerun(tmpfs: Path, tmp_path: Path) -> None:
    """A draw that runs out of space stops with one line; every batch it committed is whole
    (each draw with all its metric and outcome rows); the rerun completes to the clean result."""
    src = _file(tmp_path, n=480, text_words=30, per=16)
    db = tmpfs / "study.duckdb"
    clean = tmp_path / "clean.duckdb"
    for target in (db, clean):
        assert cli_run("import", str(src), "--format", "jsonl", "--db", str(target))[0] == 0
    draw = ["draw", "--sizes", "2,4,8", "--reps", "300", "--seed", "1"]
    assert cli_run(*draw, "--db", str(clean))[0] == 0
    ballast = _fill(tmpfs, 300_000)
    line = _one_error(*cli_run(*draw, "--db", str(db)))
    assert line.startswith(f"error: {db}: disk full"), line
    ballast.unlink()
    con = duckdb.connect(str(db), read_only=True)
    try:
        per_draw = con.execute(
            "SELECT d.draw_id, (SELECT count(*) FROM draw_metrics m WHERE m.draw_id = d.draw_id), "
            "(SELECT count(*) FROM draw_outcomes o WHERE o.draw_id = d.draw_id) FROM draws d"
        ).fetchall()
    finally:
        con.close()
    ref = duckdb.connect(str(clean), read_only=True)
    try:
        want = {
            d: (m, o)
            for d, m, o in ref.execute(
                "SELECT d.draw_id, (SELECT count(*) FROM draw_metrics m WHERE m.draw_id = d.draw_id), "
                "(SELECT count(*) FROM draw_outcomes o WHERE o.draw_id = d.draw_id) FROM draws d"
            ).fetchall()
        }
    finally:
        ref.close()
    assert len(per_draw) < len(want)
    assert all(want[d] == (m, o) for d, m, o in per_draw)  # nothing half-written
    assert cli_run(*draw, "--db", str(db))[0] == 0
    mine, theirs = checksum(db), checksum(clean)
    for t in ("draws", "draw_metrics", "draw_outcomes", "samples"):
        assert mine[t] == theirs[t], t
