"""The command line as a user meets it: help lists every command, bad usage is one line."""

from __future__ import annotations

from divtui.cli import COMMANDS
from tests.conftest import run_divtui


def test_help_lists_every_command_without_importing_them() -> None:
    r = run_divtui("--help")
    assert r.returncode == 0
    for name in COMMANDS:
        assert f"  {name} " in r.stdout, name


def test_every_command_has_help() -> None:
    for name in ("import", "grade", "draw", "report", "info", "export"):
        r = run_divtui(name, "--help")
        assert r.returncode == 0 and "Usage: divtui" in r.stdout, (name, r.stderr)


def test_usage_errors_are_one_line() -> None:
    for args in (["nosuch"], ["grade", "--timeout", "-1"], ["draw", "--sizes"]):
        r = run_divtui(*args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2, args
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_version() -> None:
    from divtui import __version__

    r = run_divtui("--version")
    assert r.returncode == 0 and __version__ in r.stdout
