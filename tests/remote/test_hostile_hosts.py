"""A hostile host and broken host files, through a real OpenSSH sshd on 127.0.0.1.

The host's divtui is replaced by a script that writes terminal escapes, bidi overrides and
zero-width characters into every file of the job folder (progress.jsonl stage and label,
status, error, log). ``remote run --wait``, ``remote status`` and ``remote fetch`` must print
and store nothing raw. known_hosts files with a malformed line, a missing file and an
@revoked key, and a remote divtui that is not executable, give the right one-line messages.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pandas as pd
import pytest

from divtui.engine.remote import client
from divtui.engine.remote.errors import RemoteError
from divtui.engine.remote.hosts import Target
from divtui.store import insert, open_db, transaction
from divtui.store import jobs as jq
from divtui.store.terminal import UNSAFE
from tests.remote.conftest import USER, _host
from tests.remote.test_remote_sshd import _cli, _db, _job_id

pytestmark = pytest.mark.usefixtures("no_agent")

OSC52 = "\x1b]52;c;cHduZWQ=\x07"
PAYLOAD = OSC52 + "\x1b]0;owned\x07\x1b[2J\u202erev\u2066\u200b\ufeff"

HOSTILE_DIVTUI = """\
#!/bin/sh
if [ "$1" = worker ] && [ "$2" = check ]; then exec {launcher} worker check; fi
printf '%s\\n' {progress1} >> progress.jsonl
printf '%s\\n' {progress2} >> progress.jsonl
printf '%s' {status} > status
printf '%s' {error} > error
printf '%s\\n' {log}
sleep 1
exit 3
"""


def _sh(text: str) -> str:
    """A shell word holding ``text`` literally (single-quoted)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _raw(text: str) -> bool:
    """Whether ``text`` holds a character the terminal rule forbids (newline and tab aside)."""
    return UNSAFE.search(text) is not None


@pytest.fixture
def hostile_divtui(sshd: dict) -> str:
    """The path of the hostile remote divtui script."""
    path = sshd["dir"] / "hostile-divtui"
    lines = {
        "progress1": json.dumps(
            {"stage": "grade" + PAYLOAD, "done": 1, "total": 2, "label": "samples" + PAYLOAD}
        ),  # fmt: skip
        "progress2": json.dumps({"stage": PAYLOAD, "done": "2" + OSC52, "total": [OSC52]}),
        "status": "failed" + PAYLOAD,
        "error": "it broke" + PAYLOAD + "\nsecond line",
        "log": "log line" + PAYLOAD,
    }
    path.write_text(
        HOSTILE_DIVTUI.format(launcher=sshd["user_divtui"], **{k: _sh(v) for k, v in lines.items()})
    )
    path.chmod(0o755)
    return str(path)


def _study(tmp_path: Path) -> Path:
    """A study with two samples of one problem (for a grade job)."""
    db = _db(tmp_path / "study.duckdb")
    con = open_db(db)
    with transaction(con):
        insert(con, "runs", pd.DataFrame({"run_id": ["r"], "source": ["import:jsonl"]}))
        insert(
            con,
            "samples",
            pd.DataFrame(
                {
                    "sample_id": [1, 2],
                    "run_id": "r",
                    "problem_id": "gsm8k-7",
                    "temperature": 0.7,
                    "idx": [0, 1],
                    "text": ["so \\boxed{7}", "so \\boxed{8}"],
                }
            ),  # fmt: skip
        )
    con.close()
    return db


def test_hostile_job_files_never_reach_the_terminal_raw(sshd, hostile_divtui, tmp_path):
    db = _study(tmp_path)
    run = _cli(
        sshd, "remote", "run", "gpubox", "--kind", "grade", "--problem", "gsm8k-7",
        "--db", str(db), "--remote-divtui", hostile_divtui,
    )  # fmt: skip
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    for text in (run.stdout, run.stderr):
        assert not _raw(text), text
    assert "\\x1b]52;c;cHduZWQ=\\x07" in run.stderr  # the progress lines, escaped
    assert "\\u202erev" in run.stderr
    errors = [x for x in run.stderr.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and "crashed" in errors[0], run.stderr
    job_id = _job_id(run.stdout)
    status = _cli(sshd, "remote", "status", job_id, "--db", str(db))
    fetch = _cli(sshd, "remote", "fetch", job_id, "--db", str(db))
    listing = _cli(sshd, "remote", "status", "--db", str(db))
    for out in (status, fetch, listing):
        assert "Traceback" not in out.stderr
        assert not _raw(out.stdout) and not _raw(out.stderr), (out.stdout, out.stderr)
    assert "it broke\\x1b]52;c;cHduZWQ=\\x07" in status.stdout
    assert "log line\\x1b]52" in status.stdout
    assert f"job {job_id} on gpubox: crashed" in status.stdout  # the odd status is not obeyed
    con = open_db(db, read_only=True)
    job = jq.get_job(con, job_id)
    con.close()
    assert not _raw(job["status"]) and not _raw(job["log"] or "")


def _config(sshd: dict, tmp_path: Path, known: Path, name: str = "box") -> str:
    """An ssh config with one Host ``name`` for the test sshd using the given known_hosts."""
    cfg = tmp_path / "ssh_config"
    cfg.write_text(_host(name, USER, sshd["port"], sshd["dir"] / "id_ed25519", known))
    return str(cfg)


def _host_line(sshd: dict, marker: str = "") -> str:
    """The test sshd's host key as a known_hosts line."""
    alg, key = (sshd["dir"] / "host_key.pub").read_text().split()[:2]
    return f"{marker}[127.0.0.1]:{sshd['port']} {alg} {key}"


async def _connect(cfg: str) -> None:
    """Connect to Host box and hang up."""
    conn = await client.connect(Target("box", cfg))
    conn.close()
    await conn.wait_closed()


def test_malformed_known_hosts_line_is_skipped_like_openssh(sshd, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(
        "|1|not-base64!|also-not\n"
        "garbage\n"
        "@cert-authority\n"
        + _host_line(sshd) + "\n"
    )  # fmt: skip
    asyncio.run(_connect(_config(sshd, tmp_path, known)))


def test_missing_known_hosts_file_is_named(sshd, tmp_path):
    missing = tmp_path / "nowhere" / "known_hosts"
    with pytest.raises(RemoteError) as e:
        asyncio.run(_connect(_config(sshd, tmp_path, missing)))
    assert str(missing) in str(e.value) and "does not exist" in str(e.value)
    assert "\n" not in str(e.value)


def test_revoked_host_key_says_revoked(sshd, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(_host_line(sshd, "@revoked ") + "\n" + _host_line(sshd) + "\n")
    with pytest.raises(RemoteError, match="REVOKED") as e:
        asyncio.run(_connect(_config(sshd, tmp_path, known)))
    assert "CHANGED" not in str(e.value) and "\n" not in str(e.value)


def test_non_executable_remote_divtui_says_so(sshd, tmp_path):
    db = _db(tmp_path / "study.duckdb")
    plain = sshd["dir"] / "divtui-not-executable"
    plain.write_text("#!/bin/sh\necho hi\n")
    plain.chmod(0o644)
    out = _cli(
        sshd, "remote", "run", "gpubox", "--problem", "gsm8k-7", "--model", "m",
        "--db", str(db), "--remote-divtui", str(plain),
    )  # fmt: skip
    assert out.returncode == 1
    assert "is not an executable file" in out.stderr and "not found" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
