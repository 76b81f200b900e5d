"""One-line messages for everything that goes wrong on the way to a remote job and back."""

from __future__ import annotations

import shutil
import socket
import subprocess
from typing import Any

from divtui.store import terminal
from divtui.store.vocabulary import CANCELLED, CRASHED


class RemoteError(Exception):
    """A remote failure; ``str()`` is one line saying what happened and what to do."""

    exit_code = 1


class ConnectionDropped(RemoteError):
    """The SSH connection went away; the job itself keeps running on the remote."""


class DivtuiMissing(RemoteError):
    """The remote has no runnable divtui command."""


class JobFailed(RemoteError):
    """The remote job failed, crashed or was cancelled."""


class NoJobFolder(RemoteError):
    """The host has no folder for the job (never started there, or removed): reconnecting
    will not bring it back."""


class UnknownJob(RemoteError):
    """The database holds no job of that id."""


def clean_text(text: str) -> str:
    """Remote text made safe to print (multi-line): escapes, bidi and zero-width characters
    written out visibly, by the store's one terminal rule."""
    return terminal.visible(text)


def one_line(text: str, limit: int = 300) -> str:
    """Remote text squeezed onto one safe printable line of at most ``limit`` characters."""
    return terminal.one_line(" ".join(str(text).split()), limit)


def known_key_status(host: str, ssh_config: str | None) -> bool | None:
    """Whether known_hosts holds some key for ``host`` (True: so it changed), None if unknowable.

    Uses the OpenSSH client's own resolution (``ssh -G``) of HostName, Port and
    UserKnownHostsFile, and ``ssh-keygen -F`` (which understands hashed entries).
    """
    from .hosts import ssh_options

    if not shutil.which("ssh-keygen"):
        return None
    opts = ssh_options(host, ssh_config)
    if opts is None:
        return None
    name, port = opts.get("hostname", host), opts.get("port", "22")
    pattern = name if port == "22" else f"[{name}]:{port}"
    import os

    for path in opts.get("userknownhostsfile", "").split():
        path = os.path.expanduser(path)
        if not os.path.exists(path):
            continue
        try:
            found = subprocess.run(
                ["ssh-keygen", "-F", pattern, "-f", path], capture_output=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        if found.returncode == 0 and found.stdout.strip():
            return True
    return False


def connect_error(
    exc: BaseException, host: str, ssh_config: str | None = None, known: Any = None
) -> RemoteError:
    """The one-line error for a failure to connect to ``host`` (``known``: the KnownHosts
    that were read, to name a missing file)."""
    import asyncssh

    cfg = ssh_config or "~/.ssh/config"
    if isinstance(exc, RemoteError):
        return exc
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        if "revoked" in str(exc).lower():
            return RemoteError(
                f"{host}: host key is REVOKED (marked @revoked in known_hosts); refusing to "
                "connect: the host's key was withdrawn, ask its administrator for the new one"
            )
        if known is not None and known.files and len(known.missing) == len(known.files):
            return RemoteError(
                f"{host}: unknown host key: the known_hosts file {known.missing[0]} does not "
                f"exist (UserKnownHostsFile in {cfg}); connect once with `ssh {host}` to check "
                "and accept the key, then retry"
            )
        if known_key_status(host, ssh_config):
            return RemoteError(
                f"{host}: host key has CHANGED (it differs from the one in known_hosts); "
                "refusing to connect: if the change is expected, remove the old key with "
                "`ssh-keygen -R HOST` and connect once with ssh to check the new one"
            )
        return RemoteError(
            f"{host}: unknown host key (not in known_hosts); refusing to connect: "
            f"connect once with `ssh {host}` to check and accept it, then retry"
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return RemoteError(
            f"{host}: authentication failed (no key or agent identity was accepted); check "
            f"User and IdentityFile in {cfg} and that your key is loaded (`ssh-add -l`)"
        )
    if isinstance(exc, asyncssh.ConfigParseError):
        return RemoteError(f"{cfg}: {one_line(str(exc))}")
    if isinstance(exc, socket.gaierror):
        return RemoteError(
            f"{host}: unknown host: not a Host in {cfg} and not a name that resolves "
            "(`divtui remote hosts` lists the configured ones)"
        )
    if isinstance(exc, ConnectionRefusedError):
        return RemoteError(f"{host}: connection refused (is sshd running, is the Port right?)")
    if isinstance(exc, TimeoutError):
        return RemoteError(f"{host}: connection timed out")
    if isinstance(exc, asyncssh.DisconnectError):
        return RemoteError(f"{host}: the server closed the connection: {one_line(exc.reason)}")
    if isinstance(exc, OSError):
        return RemoteError(f"{host}: cannot connect: {one_line(exc.strerror or str(exc))}")
    return RemoteError(f"{host}: cannot connect: {type(exc).__name__}: {one_line(str(exc))}")


def dropped(host: str, job_id: str | None) -> ConnectionDropped:
    """The one-line error for a connection lost while a job is in flight."""
    if job_id is None:
        return ConnectionDropped(f"{host}: connection lost; retry the command")
    return ConnectionDropped(
        f"{host}: connection lost; job {job_id} keeps running there: "
        f"`divtui remote fetch {job_id} --wait` reconnects and picks it up"
    )


def is_dropped(exc: BaseException) -> bool:
    """Whether ``exc`` means the SSH connection went away mid-operation."""
    import asyncssh

    return isinstance(
        exc,
        asyncssh.ConnectionLost
        | asyncssh.DisconnectError
        | BrokenPipeError
        | ConnectionResetError
        | asyncssh.misc.ChannelOpenError,
    ) and not isinstance(exc, asyncssh.PermissionDenied | asyncssh.HostKeyNotVerifiable)


def job_failed(host: str, job_id: str, state: dict) -> JobFailed:
    """The one-line error for a failed, crashed or cancelled job, with the tail of its log."""
    status = state.get("state")
    why = one_line(state.get("error") or "", 200)
    tail = one_line(" | ".join((state.get("log_tail") or "").strip().splitlines()[-3:]), 240)
    if status == CANCELLED:
        return JobFailed(f"{host}: job {job_id} was cancelled")
    if status == CRASHED:
        why = "the worker died without a word (killed, out of memory, or divtui failed to start)"
    text = f"{host}: job {job_id} {status}: {why or 'no error recorded'}"
    if tail:
        text += f"; log ends: {tail}"
    return JobFailed(text)
