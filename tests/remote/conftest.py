"""A real OpenSSH sshd on 127.0.0.1 with its own host key, test keys and a non-root login."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"
USER = "divtuici"
ROOT = Path(__file__).resolve().parents[2]
SITE = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"), None)
SSHD_CONFIG = """\
ListenAddress 127.0.0.1
Port {port}
HostKey {d}/host_key
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""
# The venv's python lives under /root (mode 700), which a non-root login cannot reach; this
# launcher runs the same divtui (same site-packages, same source) with the system python3.11.
LAUNCHER = """\
#!/bin/sh
exec /usr/bin/python3.11 -S -c 'import site, sys; site.addsitedir("{site}"); sys.argv[0] = "divtui"; from divtui.cli import main; main()' "$@"
"""


def _free_port() -> int:
    """A free TCP port on 127.0.0.1 (sshd cannot bind port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    """A fresh ed25519 key pair at ``path``."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _host(name: str, user: str, port: int, key: Path, known: Path) -> str:
    """One Host block of the test ssh config."""
    return (
        f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n"
        f"  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n"
    )


def _ensure_user() -> bool:
    """Create the unlocked non-root login (root only); whether it exists."""
    try:
        pwd.getpwnam(USER)
        return True
    except KeyError:
        pass
    if os.geteuid() != 0:
        return False
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=False)
    subprocess.run(["usermod", "-p", "*", USER], check=True)
    return True


def children(ppid: int) -> list[int]:
    """Pids whose parent is ``ppid`` (sshd's per-connection processes)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == ppid:
                out.append(int(p.name))
    return out


@pytest.fixture(scope="session")
def sshd() -> Iterator[dict]:
    """Start sshd; yield paths, port, the ssh config and the remote divtui of each login."""
    if not os.path.exists(SSHD):
        pytest.skip("/usr/sbin/sshd is missing: install openssh-server (.ci/run does)")
    if os.geteuid() != 0 or not _ensure_user() or SITE is None:
        pytest.skip("the sshd tests need root (to run sshd and create the non-root test login)")
    d = Path(tempfile.mkdtemp(prefix="divtui-sshd-"))
    d.chmod(0o755)
    for k in ("host_key", "id_ed25519", "other_key", "wrong_host_key"):
        _keygen(d / k)
    shutil.copy(d / "id_ed25519.pub", d / "authorized_keys")
    (d / "authorized_keys").chmod(0o644)
    port = _free_port()
    (d / "sshd_config").write_text(SSHD_CONFIG.format(d=d, port=port))
    os.makedirs("/run/sshd", exist_ok=True)
    subprocess.run([SSHD, "-t", "-f", str(d / "sshd_config")], check=True)
    log = open(d / "sshd.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((d / "sshd.log").read_text())
        time.sleep(0.05)
    alg, key = (d / "host_key.pub").read_text().split()[:2]
    walg, wkey = (d / "wrong_host_key.pub").read_text().split()[:2]
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {alg} {key}\n")
    (d / "changed_known_hosts").write_text(f"[127.0.0.1]:{port} {walg} {wkey}\n")
    (d / "empty_known_hosts").write_text("")
    ident, known = d / "id_ed25519", d / "known_hosts"
    (d / "ssh_config").write_text(
        _host("gpubox", USER, port, ident, known)
        + _host("gpubox-root", "root", port, ident, known)
        + _host("gpubox-newkey", USER, port, ident, d / "empty_known_hosts")
        + _host("gpubox-changed", USER, port, ident, d / "changed_known_hosts")
        + _host("gpubox-badauth", USER, port, d / "other_key", known)
    )
    launcher = d / "divtui-launcher"
    launcher.write_text(LAUNCHER.format(site=SITE))
    launcher.chmod(0o755)
    (d / "rootjobs").mkdir()
    home = Path(pwd.getpwnam(USER).pw_dir)
    yield {
        "dir": d,
        "port": port,
        "ssh_config": str(d / "ssh_config"),
        "user_divtui": str(launcher),
        "user_home": home,
        "root_divtui": str(ROOT / ".venv" / "bin" / "divtui"),
        "root_jobs": str(d / "rootjobs"),
        "sshd_pid": proc.pid,
    }
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
    shutil.rmtree(home / ".divtui", ignore_errors=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model(sshd: dict) -> str:
    """A tiny Llama causal LM saved where the non-root login can read it."""
    sys.path.insert(0, str(ROOT))
    from tests.tiny_models import build_causal_lm

    folder = sshd["dir"] / "tiny-lm"
    build_causal_lm(folder)
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    return str(folder)


@pytest.fixture
def no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's ssh-agent out of the tests: only the configured keys count."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
