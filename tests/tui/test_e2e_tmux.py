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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    """One detached tmux session running a command, read through capture-pane.

    It runs on a tmux server of its own (``-L NAME``): the default server is shared by every
    root process on the machine, and one started elsewhere hands its environment (COLUMNS=80,
    say) to our session.
    """

    def __init__(self, name: str) -> None:
        """Address session ``name`` on the server of the same name."""
        self.name = name

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a tmux command on this session's server."""
        return subprocess.run(
            ["tmux", "-L", self.name, *args], capture_output=True, text=True, check=check
        )

    def send(self, *keys: str) -> None:
        """Send tmux key names (Enter, F3, C-q) or literal text with -l."""
        self.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        """Type literal text."""
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def filter(self, text: str) -> str:
        """Open the filter box, type ``text`` once the box shows it is empty and focused (a
        person looks before typing), check it arrived, press Enter; returns the screen."""
        self.send("/")
        time.sleep(0.5)
        self.type(text)
        self.wait_for(f"▊  {text} ")
        self.send("Enter")
        return self.wait_for(f"filters: {text}")

    def screen(self) -> str:
        """The visible screen as text."""
        return self.tmux("capture-pane", "-p", "-t", self.name, check=False).stdout

    def wait_until(self, seen: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Poll the screen until ``seen(screen)`` holds; fail with the last screen otherwise."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            shot = self.screen()
            if seen(shot):
                time.sleep(0.5)  # a person reads the screen before the next key
                return shot
            time.sleep(0.2)
        raise AssertionError(f"the screen never changed as expected:\n{self.screen()}")

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        """Poll the screen until ``needle`` shows up; fail with the last screen otherwise."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            shot = self.screen()
            if needle in shot:
                time.sleep(0.5)  # a person reads the screen before the next key
                return shot
            time.sleep(0.2)
        size = self.tmux(
            "display", "-p", "-t", self.name, "#{window_width}x#{window_height}", check=False
        ).stdout.strip()
        raise AssertionError(f"{needle!r} never appeared; {size} screen was:\n{self.screen()}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The HOME the browser runs with: no ~/.ssh/config until a test writes one."""
    path = tmp_path / "home"
    (path / ".ssh").mkdir(parents=True)
    return path


@pytest.fixture
def tmux(study: Path, tmp_path: Path, home: Path) -> Iterator[Tmux]:
    """`divtui browse STUDY` in a 120x36 tmux session with cwd tmp_path and HOME ``home``."""
    name = f"divtui-e2e-{uuid.uuid4().hex[:8]}"
    exe = Path(sys.executable).with_name("divtui")
    env = " ".join(
        f"{k}={shlex.quote(os.environ[k])}"
        for k in ("DIVTUI_HOME", "DIVTUI_CONFIG")
        if k in os.environ
    )
    env += f" HOME={shlex.quote(str(home))}"
    cmd = (
        f"cd {shlex.quote(str(tmp_path))} && env -u COLUMNS -u LINES TERM=xterm-256color "
        f"{env} {exe} browse {shlex.quote(str(study))}"
    )
    session = Tmux(name)
    session.tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "120", "-y", "36", cmd)
    try:
        yield session
    finally:
        session.tmux("kill-server", check=False)


def test_person_filters_opens_batch_reruns_and_exports(tmux: Tmux, tmp_path: Path) -> None:
    shot = tmux.wait_for("1 runs · 3 problems · 48 samples")
    assert "accuracy vs k" in shot
    tmux.send("F3")
    tmux.wait_for("filters: none")
    shot = tmux.filter("maj=wrong")
    assert "5 pools" in shot
    tmux.send("Enter")
    tmux.wait_for("aggregators")
    shot = tmux.wait_for("stored draw")  # the header fills in once the draw has loaded
    assert "maj" in shot
    tmux.send("r")
    tmux.wait_for("Rerun aggregators with")
    tmux.send("Tab", "Tab", "Tab", "Enter")
    shot = tmux.wait_for("rerun: scorer=orm:test-rm")
    tmux.send("e")
    tmux.wait_for("batch.jsonl")  # the prompt, prefilled, has the focus
    tmux.send("C-u")
    tmux.wait_until(lambda shot: "Export batch to" in shot and "batch.jsonl" not in shot)
    tmux.type("wrong-maj.jsonl")
    tmux.wait_for("wrong-maj.jsonl")
    tmux.send("Enter")
    out = tmp_path / "wrong-maj.jsonl"
    end = time.monotonic() + 30
    while not out.exists() and time.monotonic() < end:  # the "wrote" note is a toast
        time.sleep(0.2)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and {"position", "sample_id", "text", "answer", "correct", "picked_by"} <= set(
        rows[0]
    )
    assert any("maj" in r["picked_by"].split() for r in rows)
    tmux.send("C-q")


def test_person_reruns_without_and_with_hosts_filters_twice_and_reports_meanwhile(
    tmux: Tmux, study: Path, home: Path
) -> None:
    from divtui.store import open_db

    from ..conftest import run_divtui

    shot = tmux.wait_for("read-only · ")
    assert "divtui" in shot
    out = run_divtui("report", "--db", str(study), "--format", "json", "--table", "pass_at_k")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tables"]["pass_at_k"]
    tmux.send("F3")
    tmux.wait_for("filters: none")
    tmux.send("R")
    shot = tmux.wait_for("Run on host")
    assert "no hosts: add a Host to" in shot and "Traceback" not in shot
    tmux.send("Escape")
    tmux.wait_for("filters: none")
    (home / ".ssh" / "config").write_text("Host gpu-a\n  HostName a\nHost gpu-b\n  HostName b\n")
    tmux.send("R")
    shot = tmux.wait_for("pick a host")
    assert "Remote rerun" in shot and "Traceback" not in shot
    tmux.send("Escape")
    tmux.wait_for("filters: none")
    shot = tmux.filter("maj=wrong bst=correct")
    con = open_db(study, read_only=True)
    try:
        want = con.execute(
            """SELECT count(DISTINCT (d.problem_id, d.temperature)) FROM draws d
               JOIN draw_outcomes m ON m.draw_id = d.draw_id AND m.aggregator = 'maj'
               JOIN draw_outcomes b ON b.draw_id = d.draw_id AND b.aggregator = 'bst'
               WHERE NOT m.correct AND b.correct"""
        ).fetchall()[0][0]
        only_maj = con.execute(
            """SELECT count(DISTINCT (d.problem_id, d.temperature)) FROM draws d
               JOIN draw_outcomes m USING (draw_id) WHERE m.aggregator = 'maj' AND NOT m.correct"""
        ).fetchall()[0][0]
    finally:
        con.close()
    assert f"{want} pools" in shot and want < only_maj
    out = run_divtui("report", "--db", str(study), "--format", "csv", "--table", "accuracy_by_k")
    assert out.returncode == 0 and out.stdout.startswith("run_id"), out.stderr
    tmux.send("C-q")
