"""DESIGN.md's layering rules and lazy heavy imports, checked on the real source and processes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "sentence_transformers", "vllm", "asyncssh")


def _module_level_imports(path: Path) -> list[str]:
    """Every module named by an import statement anywhere in ``path``, resolved to absolute names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg_parts = ("divtui." + ".".join(path.relative_to(ROOT).with_suffix("").parts)).split(".")
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level]
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module or "")
    return names


def _top_level_imports(path: Path) -> list[str]:
    """Modules imported at module level (not inside functions), absolute names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.append(node.module or "")
    return out


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _canon(name: str) -> str:
    """Map the on-disk folder names to their installed names."""
    for folder in ("engine", "store", "tui"):
        if name == f"divtui.{folder}" or name.startswith(f"divtui.{folder}."):
            return name
    return name


@pytest.mark.parametrize("path", _files("store"), ids=lambda p: str(p.relative_to(ROOT)))
def test_store_imports_nothing_of_the_project(path: Path) -> None:
    for name in _module_level_imports(path):
        name = _canon(name)
        if name.startswith("divtui"):
            assert name.startswith("divtui.store"), f"{path}: store imports {name}"
        assert not name.startswith(("textual", "rich")), f"{path}: store imports {name}"


@pytest.mark.parametrize("path", _files("engine"), ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_never_imports_tui_or_textual(path: Path) -> None:
    for name in _module_level_imports(path):
        assert not name.startswith(("divtui.tui", "textual", "divtui.commands", "divtui.cli")), (
            f"{path}: engine imports {name}"
        )


@pytest.mark.parametrize("path", _files("tui"), ids=lambda p: str(p.relative_to(ROOT)))
def test_tui_does_no_sql_of_its_own(path: Path) -> None:
    src = path.read_text()
    for word in ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", "CREATE TABLE"):
        assert word not in src, f"{path}: SQL ({word.strip()}) belongs in divtui.store"
    assert "import duckdb" not in src


@pytest.mark.parametrize(
    "path",
    [p for f in ("divtui", "engine", "store", "tui") for p in _files(f)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_heavy_libraries_are_imported_lazily(path: Path) -> None:
    for name in _top_level_imports(path):
        assert name.split(".")[0] not in HEAVY, f"{path}: imports {name} at module level"


def test_help_and_browse_import_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from divtui.cli import cli\n"
        "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
        "import importlib.util\n"
        "for m in ('divtui.commands.browse', 'divtui.tui.app'):\n"
        "    if importlib.util.find_spec(m):\n        importlib.import_module(m)\n"
        f"bad = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:", out.stdout
