"""Shared fixtures: temp databases, the shared data folder, the CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test away from the user's real config and demo database."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DIVTUI_HOME", str(home / "data"))
    monkeypatch.setenv("DIVTUI_CONFIG", str(home / "config.toml"))
    monkeypatch.delenv("DIVTUI_DB", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh database file in a temp dir."""
    return tmp_path / "study.duckdb"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


def run_divtui(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run the real `divtui` console script in a subprocess; returns CompletedProcess."""
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("divtui")
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600
    )
