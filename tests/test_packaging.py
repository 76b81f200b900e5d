"""Packaging: every subpackage on disk is listed for wheels, and a built wheel imports."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "divtui": "divtui",
    "engine": "divtui.engine",
    "store": "divtui.store",
    "tui": "divtui.tui",
}


def test_every_subpackage_is_listed_in_pyproject() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    on_disk = set()
    for folder, name in FOLDERS.items():
        assert conf["package-dir"][name] == folder
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((name, *rel)))
    assert on_disk == listed, f"missing: {on_disk - listed}, stale: {listed - on_disk}"


def test_python_version_floor() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.11"
    assert sys.version_info >= (3, 11)
    assert "torch" not in " ".join(meta["dependencies"]), "the core install must not need torch"
