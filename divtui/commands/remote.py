"""`divtui remote`: run jobs on a GPU box over SSH, follow them, fetch and ingest their results."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from divtui.engine.remote.lifecycle import JobUpdate

from divtui.store.vocabulary import LOGPROB, QUALITIES

from . import db_option, resolve_db, wrote
from .progress import job_progress

ssh_config_option = click.option(
    "--ssh-config", default=None, help="ssh config file (default ~/.ssh/config)"
)


@click.group("remote")
def command() -> None:
    """Run jobs on a remote host named in your ssh config; results come back into the DB."""


def _errors(fn: Any) -> Any:
    """Turn remote, spec, host-config and ingest errors into `error: one line`."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from divtui.engine.remote.errors import RemoteError
        from divtui.engine.remote.hosts import HostConfigError
        from divtui.engine.remote.jobspec import SpecError
        from divtui.errors import UserError
        from divtui.store.jobs import IngestError

        try:
            return fn(*args, **kwargs)
        except (RemoteError, SpecError, HostConfigError, IngestError) as e:
            raise UserError(str(e)) from None

    return wrapper


def _safe(value: Any) -> str:
    """A value from the remote host or the database as one line safe for a terminal."""
    from divtui.store.terminal import one_line

    return one_line(value)


def _printing(line: Callable[[dict[str, Any]], None]) -> Callable[[JobUpdate], None]:
    """An ``on_update`` printing each progress line of a job update with ``line``."""

    def on_update(update: JobUpdate) -> None:
        """Every progress line the update carries."""
        for p in update.progress:
            line(p)

    return on_update


def _follow(path: str, job_id: str, wait: bool, ssh_config: str | None) -> None:
    """Follow a recorded job (to its end when ``wait``), fetch and ingest it; say what happened.

    A job that ended without results is an error (one line, with the end of its log).
    """
    from divtui.engine.remote import lifecycle

    outcome = asyncio.run(
        lifecycle.follow(
            lifecycle.FileStore(path),
            job_id,
            on_update=_printing(job_progress),
            wait=wait,
            recheck=True,
            ssh_config=ssh_config,
        )
    )
    if outcome.failed:
        raise outcome.failure()
    if outcome.added is None:
        click.echo(f"job {_safe(job_id)}: {_safe(outcome.status)} (fetch again when it is done)")
        return
    parts = ", ".join(f"{n} {t}" for t, n in outcome.added.items())
    click.echo(f"job {_safe(job_id)}: ingested ({_safe(parts or 'nothing new')})")
    wrote(path)


def _numbers(text: str, option: str) -> list[float]:
    """A comma-separated list of numbers from an option, or a one-line error."""
    from divtui.errors import UserError

    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UserError(f"{option}: {text!r} is not a list of numbers") from None


def _sizes(text: str | None) -> list[int]:
    """--sizes as a list of whole numbers, or a one-line error."""
    from divtui.errors import UserError

    if not text:
        raise UserError("--sizes is required for a draw job (e.g. --sizes 4,8,16)")
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UserError(f"--sizes: {text!r} is not a list of whole numbers") from None


def _one(values: tuple[str, ...], option: str, kind: str) -> str:
    """The single value of a repeatable option that a ``kind`` job needs exactly once."""
    from divtui.errors import UserError

    if len(values) != 1:
        article = "an" if kind[0] in "aeiou" else "a"
        raise UserError(f"{option} is needed exactly once for {article} {kind} job")
    return values[0]


def _engine_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--engine-arg KEY=VALUE`` pairs of a generate job: named vLLM settings (and
    data_parallel_size) go to the spec's ``engine``, the rest to its ``engine_args``."""
    from divtui.engine.engine_settings import NAMED, SettingError, parse_engine_arg
    from divtui.errors import UserError

    engine: dict[str, Any] = {}
    passthrough: dict[str, Any] = {}
    for text in pairs:
        try:
            key, value = parse_engine_arg(text)
        except SettingError as e:
            raise UserError(str(e)) from None
        (engine if key in (*NAMED, "data_parallel_size") else passthrough)[key] = value
    out: dict[str, Any] = {}
    if engine:
        out["engine"] = engine
    if passthrough:
        out["engine_args"] = passthrough
    return out


def _settings(kind: str, o: dict[str, Any]) -> dict[str, Any]:
    """The spec settings of a ``kind`` job from the `remote run` options."""
    from divtui.errors import UserError

    if kind == "generate":
        if not o["model"]:
            raise UserError("--model is required for a generate job")
        return {
            "model": o["model"],
            "temperatures": _numbers(o["temperatures"], "--temperatures"),
            "n": o["n"],
            "backend": o["backend"],
            "max_tokens": o["max_tokens"],
            "seed": o["seed"],
            "grade": not o["no_grade"],
            **_engine_settings(o["engine_arg"]),
        }
    if kind == "grade":
        return {"timeout": o["timeout"]}
    if kind == "score":
        return {
            "scorer": _one(o["scorers"], "--scorer", kind),
            "batch_size": o["batch_size"] or 8,
            "store_hidden": o["store_hidden"],
            "dtype": o["dtype"],
        }
    if kind == "embed":
        return {
            "embedder": _one(o["embedders"], "--embedder", kind),
            "name": o["name"],
            "batch_size": o["batch_size"] or 64,
        }
    if o["reps"] is None:
        raise UserError("--reps is required for a draw job")
    return {
        "sizes": _sizes(o["sizes"]),
        "reps": o["reps"],
        "seed": o["seed"],
        "scorers": list(o["scorers"]) or None,
        "embedders": list(o["embedders"]) or None,
        "distinct_n": o["distinct_n"],
        "quality": o["quality"],
    }


@command.command("run")
@click.argument("host")
@click.option(
    "--kind",
    type=click.Choice(["generate", "grade", "score", "embed", "draw"]),
    default="generate",
    show_default=True,
)
@click.option("--problem", "problems", multiple=True, required=True, help="problem id (repeat)")
@click.option("--temperatures", default="0.7", help="comma-separated, e.g. 0.3,0.7,1.0 (generate)")
@click.option("--n", "n", type=int, default=8, help="samples per problem and temperature")
@click.option("--model", default=None, help="model id or folder on the remote (generate)")
@click.option("--backend", type=click.Choice(["transformers", "vllm"]), default="transformers")
@click.option("--max-tokens", type=int, default=1024)
@click.option("--seed", type=int, default=0, help="sampling seed (generate) or draw seed (draw)")
@click.option("--run-id", default=None, help="run id (generate; default: derived) or run to ship")
@click.option("--no-grade", is_flag=True, help="generate only; do not grade on the remote")
@click.option(
    "--engine-arg",
    "engine_arg",
    multiple=True,
    metavar="KEY=VALUE",
    help="generate, vllm: an engine setting (gpu_memory_utilization=0.5, data_parallel_size=2, "
    "or any LLM keyword; VALUE as JSON) (repeat)",
)
@click.option("--timeout", type=float, default=5.0, help="grading timeout per sample (s)")
@click.option(
    "--scorer",
    "scorers",
    multiple=True,
    help="score: orm:MODEL or classifier:MODEL (once); draw: stored scorer to use (repeat)",
)
@click.option(
    "--embedder",
    "embedders",
    multiple=True,
    help="embed: hub id or folder on the remote (once); draw: stored embedder (repeat)",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="score 8, embed 64")
@click.option("--store-hidden", is_flag=True, help="score: also return hidden states (orm-hidden)")
@click.option(
    "--dtype",
    type=click.Choice(["auto", "float32", "bfloat16", "float16"]),
    default="auto",
    help="score: model dtype on the remote",
)
@click.option("--name", default=None, help="embed: stored embedder name (default MODEL@LENGTH)")
@click.option("--sizes", default=None, help="draw: batch sizes k, comma-separated (e.g. 4,8,16)")
@click.option("--reps", type=click.IntRange(min=1), default=None, help="draw: draws per pool and k")
@click.option("--distinct-n", type=click.IntRange(min=1), default=3, help="draw: n of distinct_n")
@click.option(
    "--quality",
    type=click.Choice(QUALITIES),
    default=LOGPROB,
    help="draw: DPP quality",
)
@click.option("--wait/--detach", default=True, help="follow the job and ingest its results")
@click.option("--remote-divtui", default=None, help="divtui command on the remote")
@click.option("--jobs-dir", default=None, help="remote folder for job folders")
@ssh_config_option
@db_option
@_errors
def run(
    host: str,
    kind: str,
    problems: tuple[str, ...],
    run_id: str | None,
    wait: bool,
    remote_divtui: str | None,
    jobs_dir: str | None,
    ssh_config: str | None,
    db: str | None,
    **options: Any,
) -> None:
    """Start a job on HOST for the given problems (their text comes from the database)."""
    import tempfile

    from divtui.engine.remote import lifecycle
    from divtui.engine.remote.build import build_job
    from divtui.engine.remote.hosts import resolve_target
    from divtui.settings import config_path
    from divtui.store import open_db

    path = resolve_db(db)
    target = resolve_target(
        host, config_path(), ssh_config=ssh_config, divtui=remote_divtui, jobs_dir=jobs_dir
    )
    settings = _settings(kind, options)
    with tempfile.TemporaryDirectory() as tmp:
        con = open_db(path)
        try:
            spec, inputs = build_job(
                con, kind, list(problems), Path(tmp), run_id=run_id, settings=settings
            )
        finally:
            con.close()
        launched = asyncio.run(lifecycle.submit(lifecycle.FileStore(path), target, spec, inputs))
    click.echo(
        f"job {_safe(launched.job_id)} started on {_safe(host)} (pid {_safe(launched.pid)}, "
        f"folder {_safe(launched.job_dir)})"
    )
    if wait:
        _follow(path, launched.job_id, True, ssh_config)


@command.command("status")
@click.argument("job_id", required=False)
@ssh_config_option
@db_option
@_errors
def status(job_id: str | None, ssh_config: str | None, db: str | None) -> None:
    """List recorded jobs, or ask the remote how JOB_ID is doing."""
    from divtui.engine.remote import lifecycle
    from divtui.engine.remote.errors import clean_text
    from divtui.store import jobs as jq
    from divtui.store import open_db

    path = resolve_db(db)
    if job_id is None:
        con = open_db(path)
        try:
            jobs = jq.list_jobs(con)
        finally:
            con.close()
        for j in jobs:
            click.echo(
                f"{_safe(j['job_id'])}  {_safe(j['kind']):<8} {_safe(j['host']):<16} "
                f"{_safe(j['status']):<9} {_safe(j['updated_at'])}"
            )
        return
    outcome = asyncio.run(lifecycle.ask(lifecycle.FileStore(path), job_id, ssh_config=ssh_config))
    last = outcome.progress
    prog = (
        f", {_safe(last.get('stage'))} {_safe(last.get('done'))}/{_safe(last.get('total'))}"
        if last
        else ""
    )
    state = outcome.remote or {}
    click.echo(f"job {_safe(job_id)} on {_safe(outcome.host)}: {_safe(outcome.status)}{prog}")
    if state.get("error"):
        click.echo(f"  error: {_safe(state['error'])}")
    for line in clean_text(state.get("log_tail") or "").splitlines()[-5:]:
        click.echo(f"  | {_safe(line)}")


@command.command("fetch")
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="wait for the job to finish first")
@ssh_config_option
@db_option
@_errors
def fetch(job_id: str, wait: bool, ssh_config: str | None, db: str | None) -> None:
    """Fetch a finished job's results and ingest them (safe to repeat)."""
    _follow(resolve_db(db), job_id, wait, ssh_config)


@command.command("cancel")
@click.argument("job_id")
@click.option("--grace", type=float, default=5.0, help="seconds between TERM and KILL")
@ssh_config_option
@db_option
@_errors
def cancel(job_id: str, grace: float, ssh_config: str | None, db: str | None) -> None:
    """Stop JOB_ID's whole process group on the remote (TERM, then KILL)."""
    from divtui.engine.remote import lifecycle

    outcome = asyncio.run(
        lifecycle.cancel(
            lifecycle.FileStore(resolve_db(db)), job_id, grace=grace, ssh_config=ssh_config
        )
    )
    click.echo(f"job {_safe(job_id)} on {_safe(outcome.host)}: {_safe(outcome.status)}")


@command.command("hosts")
@ssh_config_option
@_errors
def hosts(ssh_config: str | None) -> None:
    """List the hosts of your ssh config and divtui's [hosts.NAME] settings."""
    from divtui.engine.remote.hosts import load_host_settings, ssh_config_hosts
    from divtui.settings import config_path

    cfg = Path(ssh_config).expanduser() if ssh_config else Path.home() / ".ssh" / "config"
    settings = load_host_settings(config_path())
    for name in dict.fromkeys([*ssh_config_hosts(cfg), *settings]):
        extra = settings.get(name, {})
        note = f"  divtui={extra['divtui']}" if "divtui" in extra else ""
        click.echo(_safe(f"{name}{note}"))
