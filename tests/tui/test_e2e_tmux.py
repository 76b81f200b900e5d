"""The real `divtui browse` driven in tmux like a person: filter, open a batch, rerun, export."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    """One detached tmux session running a command, read through capture-pane."""

    def __init__(self, name: str) -> None:
        """Address session ``name``."""
        self.name = name

    def send(self, *keys: str) -> None:
        """Send tmux key names (Enter, F3, C-q) or literal text with -l."""
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        """Type literal text."""
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def screen(self) -> str:
        """The visible screen as text."""
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        """Poll the screen until ``needle`` shows up; fail with the last screen otherwise."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            shot = self.screen()
            if needle in shot:
                time.sleep(0.5)  # a person reads the screen before the next key
                return shot
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} never appeared; screen was:\n{self.screen()}")


@pytest.fixture
def tmux(study: Path, tmp_path: Path) -> Iterator[Tmux]:
    """`divtui browse STUDY` in a 120x36 tmux session with cwd tmp_path."""
    name = f"divtui-e2e-{uuid.uuid4().hex[:8]}"
    exe = Path(sys.executable).with_name("divtui")
    env = " ".join(
        f"{k}={shlex.quote(os.environ[k])}"
        for k in ("DIVTUI_HOME", "DIVTUI_CONFIG")
        if k in os.environ
    )
    cmd = f"cd {shlex.quote(str(tmp_path))} && env TERM=xterm-256color {env} {exe} browse {shlex.quote(str(study))}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "36", cmd], check=True
    )
    try:
        yield Tmux(name)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_person_filters_opens_batch_reruns_and_exports(tmux: Tmux, tmp_path: Path) -> None:
    shot = tmux.wait_for("1 runs · 3 problems · 48 samples")
    assert "accuracy vs k" in shot
    tmux.send("F3")
    tmux.wait_for("filters: none")
    tmux.send("/")
    tmux.type("maj=wrong")
    tmux.send("Enter")
    shot = tmux.wait_for("filters: maj=wrong")
    assert "5 problems" in shot
    tmux.send("Enter")
    shot = tmux.wait_for("aggregators")
    assert "stored draw" in shot and "maj" in shot
    tmux.send("r")
    tmux.wait_for("Rerun aggregators with")
    tmux.send("Tab", "Tab", "Tab", "Enter")
    shot = tmux.wait_for("rerun: scorer=orm:test-rm")
    tmux.send("e")
    tmux.wait_for("Export batch to")
    tmux.send("C-u")
    tmux.type("wrong-maj.jsonl")
    tmux.send("Enter")
    tmux.wait_for("wrote")
    rows = [json.loads(x) for x in (tmp_path / "wrong-maj.jsonl").read_text().splitlines()]
    assert rows and {"position", "sample_id", "text", "answer", "correct", "picked_by"} <= set(
        rows[0]
    )
    assert any("maj" in r["picked_by"].split() for r in rows)
    tmux.send("C-q")
