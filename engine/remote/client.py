"""The SSH side of remote jobs (asyncssh): connect, submit, poll, fetch results, cancel.

Every shell line sent is ``sh -c SCRIPT sh ARG...``: the script is a constant of this module and
each user-supplied value travels as a positional argument, quoted with shlex, so no value is ever
parsed as shell code (whatever the login shell). Files move by SFTP, written to ``.part`` names
and renamed, so the worker and the client never see half a file.
"""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from divtui.store import terminal
from divtui.store.vocabulary import (
    CANCELLED,
    CRASHED,
    DONE,
    LIVE_STATUSES,
    QUEUED,
    REMOTE_STATUSES,
    REMOTE_TERMINAL,
    RUNNING,
)

from .errors import (
    DivtuiMissing,
    NoJobFolder,
    RemoteError,
    connect_error,
    dropped,
    is_dropped,
    one_line,
)
from .hosts import Target, known_hosts
from .jobspec import JOB_ID, dump_spec

LAUNCH = (
    'cd -- "$1" || exit 1; shift; '
    'setsid nohup "$@" worker run spec.json > log 2>&1 < /dev/null & echo $! > pid; echo $!'
)
CHECK = (
    'case "$1" in */*) [ -e "$1" ] || exit 127; [ -f "$1" ] && [ -x "$1" ] || exit 126;; '
    '*) command -v -- "$1" > /dev/null 2>&1 || exit 127;; esac; exec "$@" worker check'
)
ALIVE = 'kill -s 0 -- "$1" 2> /dev/null'
SIGNAL = 'kill -s "$1" -- "-$2" 2> /dev/null; kill -s 0 -- "-$2" 2> /dev/null'
RESULT_FILE = re.compile(r"^[a-z_]+\.parquet$")


def shell_line(script: str, *args: str) -> str:
    """``sh -c SCRIPT sh ARGS...`` with every word quoted: values never become shell code."""
    return shlex.join(["sh", "-c", script, "sh", *args])


def launch_command(job_dir: str, divtui: list[str]) -> str:
    """The shell line that starts the worker detached (own session and process group)."""
    return shell_line(LAUNCH, job_dir, *divtui)


def job_dir_for(target: Target, job_id: str) -> str:
    """The job's folder on the remote (relative paths start at the remote home)."""
    if not JOB_ID.fullmatch(job_id):
        raise RemoteError(f"{job_id!r}: not a valid job id")
    return posixpath.join(target.jobs_dir, job_id)


async def connect(target: Target, *, connect_timeout: float = 20.0) -> Any:
    """An SSH connection using the user's ssh config, known_hosts checking and agent."""
    import asyncssh

    kwargs: dict[str, Any] = {
        "connect_timeout": connect_timeout,
        "keepalive_interval": 5,
        "keepalive_count_max": 3,
    }
    if target.ssh_config:
        kwargs["config"] = [os.path.expanduser(target.ssh_config)]
    # known_hosts is read here with OpenSSH's tolerance (a malformed line is skipped, not fatal)
    known = await asyncio.to_thread(known_hosts, target.host, target.ssh_config)
    if known is not None:
        kwargs["known_hosts"] = asyncssh.import_known_hosts(known.text)
    try:
        return await asyncssh.connect(target.host, **kwargs)
    except (TimeoutError, OSError, asyncssh.Error) as e:
        raise connect_error(e, target.host, target.ssh_config, known) from None


async def _run(conn: Any, script: str, *args: str, timeout: float = 60.0) -> Any:
    """Run a constant script with quoted arguments; returns asyncssh's completed process."""
    return await conn.run(shell_line(script, *args), check=False, timeout=timeout)


async def check_divtui(conn: Any, target: Target) -> dict[str, Any]:
    """The remote divtui's version facts, or DivtuiMissing with what to configure."""
    res = await _run(conn, CHECK, *target.divtui, timeout=120)
    if res.exit_status == 0:
        try:
            return json.loads(str(res.stdout).strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
    cmd = shlex.join(target.divtui)
    if res.exit_status == 126:
        raise DivtuiMissing(
            f"{target.host}: `{cmd}` exists there but is not an executable file; "
            f"make it executable (chmod +x) or point [hosts.{target.host}] divtui (or "
            "--remote-divtui) at the right file"
        )
    if res.exit_status == 127:
        raise DivtuiMissing(
            f"{target.host}: `{cmd}` was not found there; install divtui on that host or set "
            f'[hosts.{target.host}] divtui = "/path/to/divtui" (or pass --remote-divtui)'
        )
    raise DivtuiMissing(
        f"{target.host}: `{cmd} worker check` failed (exit {res.exit_status}): "
        f"{one_line(str(res.stderr or res.stdout), 200)}"
    )


async def _put_atomic(sftp: Any, local: Path, remote: str) -> None:
    """Upload ``local`` to ``remote`` through a .part name and an atomic rename."""
    await sftp.put(str(local), remote + ".part")
    await sftp.posix_rename(remote + ".part", remote)


async def submit(
    conn: Any, target: Target, spec: dict[str, Any], inputs: dict[str, Path] | None = None
) -> dict[str, Any]:
    """Create the job folder (once), upload spec and inputs, start the worker detached.

    Returns ``{"job_dir", "pid"}``. A folder that already exists means the job was launched
    before: nothing is started twice.
    """
    import tempfile

    import asyncssh

    job_dir = job_dir_for(target, spec["job_id"])
    text = dump_spec(spec)
    try:
        async with conn.start_sftp_client() as sftp:
            await sftp.makedirs(target.jobs_dir, exist_ok=True)
            try:
                await sftp.mkdir(job_dir)
            except asyncssh.SFTPFailure:
                if await sftp.exists(job_dir):
                    raise RemoteError(
                        f"{target.host}: job folder {job_dir} exists already; not starting twice"
                    ) from None
                raise
            if inputs:
                await sftp.mkdir(posixpath.join(job_dir, "input"))
                for name, path in sorted(inputs.items()):
                    await _put_atomic(
                        sftp, path, posixpath.join(job_dir, "input", f"{name}.parquet")
                    )
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / "spec.json"
                local.write_text(text, encoding="utf-8")
                await _put_atomic(sftp, local, posixpath.join(job_dir, "spec.json"))
                (Path(tmp) / "status").write_text(f"{QUEUED}\n")
                await _put_atomic(sftp, Path(tmp) / "status", posixpath.join(job_dir, "status"))
    except asyncssh.SFTPError as e:
        raise RemoteError(
            f"{target.host}: uploading the job to {job_dir} failed: {one_line(str(e.reason))} "
            "(is the remote disk full or the folder not writable?)"
        ) from None
    res = await _run(conn, LAUNCH, job_dir, *target.divtui, timeout=60)
    return {"job_dir": job_dir, "pid": _pid(str(res.stdout))}


def _pid(text: str) -> int | None:
    """The first integer in ``text`` (a pid file's content), or None."""
    m = re.match(r"\s*([0-9]{1,10})", text or "")
    return int(m.group(1)) if m else None


async def _read(sftp: Any, path: str, *, offset: int = 0, limit: int | None = None) -> bytes | None:
    """Bytes of a remote file from ``offset`` (None when it does not exist)."""
    import asyncssh

    try:
        async with sftp.open(path, "rb") as f:
            if offset:
                await f.seek(offset)
            return await f.read(limit if limit is not None else -1)
    except asyncssh.SFTPNoSuchFile:
        return None


async def _tail(sftp: Any, path: str, nbytes: int = 4000) -> str:
    """The last ``nbytes`` of a remote text file, decoded leniently."""
    import asyncssh

    try:
        size = (await sftp.stat(path)).size or 0
    except asyncssh.SFTPNoSuchFile:
        return ""
    data = await _read(sftp, path, offset=max(0, size - nbytes))
    return (data or b"").decode("utf-8", errors="replace")


async def read_progress(
    conn: Any, job_dir: str, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Progress lines appended since byte ``offset`` (whole lines only) and the new offset."""
    async with conn.start_sftp_client() as sftp:
        data = await _read(sftp, posixpath.join(job_dir, "progress.jsonl"), offset=offset)
    if not data:
        return [], offset
    end = data.rfind(b"\n") + 1
    lines = []
    for raw in data[:end].splitlines():
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict):
            lines.append(safe_progress(obj))
    return lines, offset + end


def _count(value: Any) -> int | None:
    """A progress count as sent by the remote: an integer, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def safe_progress(obj: dict[str, Any]) -> dict[str, Any]:
    """One progress line as the host sent it, made safe before anything prints or stores it:
    stage and label are one-line terminal-safe text (200 characters at most), counts integers."""
    return {
        "stage": terminal.one_line(obj.get("stage", "?"), 200),
        "done": _count(obj.get("done")),
        "total": _count(obj.get("total")),
        "label": terminal.one_line(obj.get("label", ""), 200),
        "time": obj.get("time") if isinstance(obj.get("time"), int | float) else None,
    }


async def job_state(conn: Any, job_dir: str) -> dict[str, Any]:
    """What the job folder says: status, pid/pgid, alive, error, DONE summary, log tail.

    ``state`` is the status, except that a queued or running job whose process is gone and
    that left no DONE is ``crashed``.
    """
    async with conn.start_sftp_client() as sftp:
        if not await sftp.exists(job_dir):
            raise NoJobFolder(f"no job folder {job_dir} on the remote")
        raw_status = await _read(sftp, posixpath.join(job_dir, "status")) or b""
        pid_text = (await _read(sftp, posixpath.join(job_dir, "pid")) or b"").decode(
            "ascii", "replace"
        )
        error = (await _read(sftp, posixpath.join(job_dir, "error")) or b"").decode(
            "utf-8", "replace"
        )
        done = await _read(sftp, posixpath.join(job_dir, "DONE"))
        log_tail = await _tail(sftp, posixpath.join(job_dir, "log"))
    # the host writes these files: a status outside the known words is shown escaped, never
    # acted on, and the error and log are made terminal-safe before they are printed or stored
    status = raw_status.decode("utf-8", "replace").strip()
    known = status in REMOTE_STATUSES
    status = status if known else terminal.one_line(status, 60)
    error = terminal.one_line(error.strip(), 2000)
    log_tail = terminal.visible(log_tail)
    nums = [int(x) for x in re.findall(r"[0-9]{1,10}", pid_text)[:2]]
    pid = nums[0] if nums else None
    pgid = nums[1] if len(nums) > 1 else pid
    alive = False
    if pid is not None:
        alive = (await _run(conn, ALIVE, str(pid))).exit_status == 0
    state = status if known else (RUNNING if alive else QUEUED)
    if done is not None:
        state = DONE
    elif state in LIVE_STATUSES and not alive:
        state = CRASHED
    summary = None
    if done:
        try:
            summary = json.loads(done)
        except ValueError:
            summary = None
    return {
        "state": state,
        "status": status,
        "pid": pid,
        "pgid": pgid,
        "alive": alive,
        "error": error,
        "summary": summary,
        "log_tail": log_tail,
    }


async def fetch_results(conn: Any, job_dir: str, dest: Path) -> list[Path]:
    """Download out/*.parquet of a finished job into ``dest`` (temp name, then rename)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = posixpath.join(job_dir, "out")
    got = []
    async with conn.start_sftp_client() as sftp:
        names = [n for n in await sftp.listdir(out) if RESULT_FILE.match(n)]
        for name in sorted(names):
            part = dest / f"{name}.part"
            await sftp.get(posixpath.join(out, name), str(part))
            os.replace(part, dest / name)
            got.append(dest / name)
    return got


async def cancel_job(conn: Any, job_dir: str, *, grace: float = 5.0) -> dict[str, Any]:
    """Stop the job's whole process group: TERM, then KILL after ``grace`` s; mark it cancelled."""
    state = await job_state(conn, job_dir)
    if state["state"] in REMOTE_TERMINAL or state["pgid"] is None:
        return state
    pgid = str(int(state["pgid"]))
    alive = (await _run(conn, SIGNAL, "TERM", pgid)).exit_status == 0
    deadline = asyncio.get_running_loop().time() + grace
    while alive and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        alive = (await _run(conn, SIGNAL, "0", pgid)).exit_status == 0
    if alive:
        await _run(conn, SIGNAL, "KILL", pgid)
    state = await job_state(conn, job_dir)
    if state["state"] not in (CANCELLED, DONE):
        import tempfile

        async with conn.start_sftp_client() as sftp:
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "status").write_text(f"{CANCELLED}\n")
                await _put_atomic(sftp, Path(tmp) / "status", posixpath.join(job_dir, "status"))
        state = await job_state(conn, job_dir)
    return state


async def wait_job(
    conn: Any,
    job_dir: str,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    on_state: Callable[[dict[str, Any]], None] | None = None,
    offset: int = 0,
    poll: float = 0.5,
) -> dict[str, Any]:
    """Poll the job until it reaches a terminal state: each round passes the progress lines
    appended since (read after the state, so none is missed at the end), then the state, whose
    ``offset`` is where a follower that reconnects picks the progress file up again."""
    while True:
        state = await job_state(conn, job_dir)
        lines, offset = await read_progress(conn, job_dir, offset)
        state["offset"] = offset
        for line in lines:
            if on_progress:
                on_progress(line)
        if on_state:
            on_state(state)
        if state["state"] in REMOTE_TERMINAL:
            return state
        await asyncio.sleep(poll)


async def guarded(coro: Any, host: str, job_id: str | None = None) -> Any:
    """Await ``coro``; a dropped connection becomes ConnectionDropped (the job keeps running)."""
    try:
        return await coro
    except RemoteError:
        raise
    except Exception as e:
        if is_dropped(e):
            raise dropped(host, job_id) from None
        raise
