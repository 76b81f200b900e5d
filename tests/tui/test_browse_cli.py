"""`divtui browse` refuses bad files with one line before Textual starts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from divtui.store import open_db

from ..conftest import run_divtui


def _one_line_error(out: subprocess.CompletedProcess, needle: str) -> None:
    """Exit non-zero with exactly one `error:` line naming the problem, no traceback."""
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert needle in lines[0]
    assert "Traceback" not in out.stderr + out.stdout


def test_missing_file(tmp_path: Path) -> None:
    _one_line_error(run_divtui("browse", str(tmp_path / "nope.duckdb")), "no such database file")
    assert not (tmp_path / "nope.duckdb").exists()


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    path.write_bytes(b"")
    _one_line_error(run_divtui("browse", str(path)), "file is empty")


def test_database_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "fresh.duckdb"
    open_db(path).close()
    _one_line_error(run_divtui("browse", str(path)), "holds no samples")


def test_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    con = open_db(path)
    con.execute("INSERT INTO schema_version (version) VALUES (99)")
    con.close()
    _one_line_error(run_divtui("browse", str(path)), "newer than this divtui")


def test_locked_file(study: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(study)!r}); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        _one_line_error(run_divtui("browse", str(study)), "locked")
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert (
        open_db(study, read_only=True).execute("SELECT count(*) FROM samples").fetchall()[0][0]
        == 48
    )


def test_bad_keys_config(study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keys]\n"problems.nonsense" = "z"\n')
    monkeypatch.setenv("DIVTUI_CONFIG", str(cfg))
    _one_line_error(run_divtui("browse", str(study)), "keys.problems.nonsense")


def test_keymap_file_remaps_binding_ids(tmp_path: Path) -> None:
    from divtui.tui.keys import DEFAULT_KEYS, key_for, load_keymap

    cfg = tmp_path / "config.toml"
    cfg.write_text('[keys]\n"batch.next" = "j"\n"app.help" = "f10"\n')
    keymap = load_keymap(cfg)
    assert keymap == {"batch.next": "j", "app.help": "f10"}
    assert key_for("batch.next", keymap) == "j"
    assert key_for("batch.prev", keymap) == DEFAULT_KEYS["batch.prev"][0]
    assert load_keymap(tmp_path / "absent.toml") == {}
