"""Remote hosts: aliases from the ssh config, and per-host settings from divtui's config TOML."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_JOBS_DIR = ".divtui/jobs"


@dataclass
class Target:
    """Where and how a job runs: ssh alias, ssh config file, remote divtui argv, jobs folder."""

    host: str
    ssh_config: str | None = None
    divtui: list[str] = field(default_factory=lambda: ["divtui"])
    jobs_dir: str = DEFAULT_JOBS_DIR


class HostConfigError(ValueError):
    """A bad [hosts.NAME] table; ``str()`` is one line naming the file and key."""


def _relative(path: str) -> str:
    """A remote path; ``~/x`` becomes ``x`` (SFTP and the shell both start in the home folder)."""
    if path in ("~", "~/"):
        return "."
    return path[2:] if path.startswith("~/") else path


def load_host_settings(config: Path) -> dict[str, dict[str, Any]]:
    """The [hosts.NAME] tables of divtui's config file ({} when it does not exist)."""
    if not config.exists():
        return {}
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise HostConfigError(f"{config}: {e}") from None
    hosts = data.get("hosts", {})
    if not isinstance(hosts, dict):
        raise HostConfigError(f"{config}: key hosts: must be a table of [hosts.NAME] tables")
    return hosts


def resolve_target(
    host: str,
    config: Path,
    *,
    ssh_config: str | None = None,
    divtui: str | None = None,
    jobs_dir: str | None = None,
) -> Target:
    """The Target for ``host``: command-line values first, then [hosts.HOST], then defaults.

    ``divtui`` in the TOML is a path (one word) or a list of words (e.g. ["env", "X=1", "/v/bin/divtui"]);
    on the command line it is split like a shell would (shlex).
    """
    table = load_host_settings(config).get(host, {})
    if not isinstance(table, dict):
        raise HostConfigError(f"{config}: key hosts.{host}: must be a table")
    argv: list[str]
    if divtui is not None:
        argv = shlex.split(divtui)
    else:
        raw = table.get("divtui", "divtui")
        if isinstance(raw, str):
            argv = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            argv = list(raw)
        else:
            raise HostConfigError(
                f"{config}: key hosts.{host}.divtui: must be a path or a list of words"
            )
    if not argv:
        raise HostConfigError(f"{host}: the remote divtui command is empty")
    jd = jobs_dir if jobs_dir is not None else table.get("jobs_dir", DEFAULT_JOBS_DIR)
    if not isinstance(jd, str) or not jd.strip():
        raise HostConfigError(f"{config}: key hosts.{host}.jobs_dir: must be a non-empty path")
    sc = ssh_config if ssh_config is not None else table.get("ssh_config")
    if sc is not None and not isinstance(sc, str):
        raise HostConfigError(f"{config}: key hosts.{host}.ssh_config: must be a path")
    return Target(host=host, ssh_config=sc, divtui=argv, jobs_dir=_relative(jd))


def ssh_config_hosts(path: Path) -> list[str]:
    """Host aliases (without wildcards) named in an ssh config file, in file order."""
    if not path.exists():
        return []
    out: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"\s*host\s*[=\s]\s*(.+)", line, re.IGNORECASE)
        if not m:
            continue
        for name in m.group(1).split():
            if not any(c in name for c in "*?!") and name not in out:
                out.append(name)
    return out


@dataclass
class KnownHosts:
    """The known_hosts files OpenSSH would read for a host, with OpenSSH's tolerance.

    ``text`` holds every line asyncssh can parse (a malformed line is skipped, as OpenSSH
    skips it, instead of failing the whole connection); ``missing`` names the files that do
    not exist; ``skipped`` counts the malformed lines.
    """

    files: list[str]
    text: str
    missing: list[str]
    skipped: int


def ssh_options(host: str, ssh_config: str | None) -> dict[str, str] | None:
    """OpenSSH's own resolution of ``host`` (``ssh -G``): lower-case option to value."""
    import shutil
    import subprocess

    if not shutil.which("ssh"):
        return None
    cmd = ["ssh", "-G"] + (["-F", ssh_config] if ssh_config else []) + ["--", host]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    opts: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        opts.setdefault(key.lower(), value)
    return opts


def known_hosts(host: str, ssh_config: str | None) -> KnownHosts | None:
    """The known_hosts entries for ``host`` (None when OpenSSH's client is not installed)."""
    import os

    import asyncssh

    opts = ssh_options(host, ssh_config)
    if opts is None:
        return None
    files = [
        os.path.expanduser(p)
        for key in ("userknownhostsfile", "globalknownhostsfile")
        for p in opts.get(key, "").split()
        if p != "none"
    ]
    good: list[str] = []
    missing: list[str] = []
    skipped = 0
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            missing.append(path)
            continue
        except OSError:
            missing.append(path)
            continue
        for line in lines:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                asyncssh.import_known_hosts(line)
            except (ValueError, asyncssh.KeyImportError):
                skipped += 1
                continue
            good.append(line)
    return KnownHosts(files=files, text="\n".join(good) + "\n", missing=missing, skipped=skipped)
