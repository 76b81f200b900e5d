"""`divtui generate`: sample n solutions per problem and temperature with vLLM or transformers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from divtui.errors import UserError

from . import db_option, resolve_db, wrote

if TYPE_CHECKING:
    import duckdb


def parse_temperatures(text: str) -> list[float]:
    """``0.3,0.7,1`` -> [0.3, 0.7, 1.0]; each must be a number >= 0."""
    out = []
    for part in text.split(","):
        try:
            t = float(part)
        except ValueError:
            raise UserError(f"option --temperatures: {part.strip()!r} is not a number") from None
        if not t >= 0:
            raise UserError(f"option --temperatures: {part.strip()!r} must be >= 0")
        out.append(t)
    return out


def reused_problems(
    con: duckdb.DuckDBPyConnection, run_id: str | None, limit: int | None
) -> list[dict[str, object]]:
    """The problems the file already holds (``run_id``'s when given), for a second model's run."""
    from divtui.store import problems as pq
    from divtui.store import runs as rn

    if run_id is not None and run_id not in rn.run_ids(con):
        raise UserError(f"option --problems-of: no run {run_id!r} in the database")
    problems = pq.stored_problems(con, run_id=run_id, limit=limit)
    if not problems:
        raise UserError("no problems in the database yet: give --dataset")
    return problems


@click.command("generate")
@db_option
@click.option("--model", required=True, help="hub id or local folder of a chat model")
@click.option(
    "--dataset",
    default=None,
    help="math-500, gsm8k, an HF dataset name, or a .jsonl (default: the file's problems)",
)
@click.option(
    "--problems-of", default=None, metavar="RUN", help="without --dataset: RUN's problems"
)
@click.option("--temperatures", default="0.3,0.5,0.7,1.0", show_default=True)
@click.option("--n", "n", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--backend",
    type=click.Choice(["vllm", "transformers"]),
    default="transformers",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="first N problems only")
@click.option("--system-prompt", default=None, help="system prompt ('' for none)")
@click.option("--run-id", default=None, help="run name (default: a hash of the settings)")
@click.option("--split", default=None, help="dataset split (presets: test)")
@click.option("--dataset-config", default=None, help="HF dataset config (gsm8k: main)")
@click.option("--dataset-name", default=None, help="name stored in problems.dataset")
@click.option("--question-field", default=None, help="field holding the question")
@click.option("--answer-field", default=None, help="field holding the gold answer")
@click.option("--id-field", default=None, help="field holding a problem id")
@click.option("--answer-marker", default=None, help="gold answer follows this marker, e.g. ####")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="transformers: sequences per generate call",
)
@click.option("--device", default=None, help="transformers: cuda, cpu (default: cuda if present)")
@click.option("--dtype", default=None, help="float32, bfloat16, float16 (default: auto)")
@click.option("--tensor-parallel-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--gpu-memory-utilization",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=None,
    help="vllm: share of GPU memory one engine may take (vLLM default 0.92)",
)
@click.option("--max-model-len", type=click.IntRange(min=1), default=None, help="vllm: context")
@click.option(
    "--enforce-eager/--no-enforce-eager",
    default=None,
    help="vllm: no torch.compile / CUDA graphs (starts faster, samples slower)",
)
@click.option("--max-num-seqs", type=click.IntRange(min=1), default=None, help="vllm: batch cap")
@click.option(
    "--engine-arg",
    "engine_arg",
    multiple=True,
    metavar="KEY=VALUE",
    help="vllm: any other LLM(...) keyword, VALUE as JSON (repeat)",
)
@click.option(
    "--data-parallel-size",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="engine processes, each with --tensor-parallel-size GPUs",
)
@click.option("--gpus", default=None, help="devices in engine order, e.g. 0,1 (repeat to share)")
@click.option(
    "--launcher",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: Ray Data's vLLM processor on the cluster of $RAY_ADDRESS",
)
@click.option("--pools-per-call", type=click.IntRange(min=1), default=64, show_default=True)
def command(db: str | None, **opts: Any) -> None:
    """Sample --n solutions per problem at each temperature, with per-token log-probs."""
    from divtui.engine.datasets import PRESETS, DatasetError, Fields
    from divtui.engine.generate import GenerateSpec, generate_db
    from divtui.engine.prompts import DEFAULT_SYSTEM_PROMPT, PromptError
    from divtui.store import open_db

    from .progress import first_line as _first_line
    from .progress import progress_bar

    field_opts = {
        "question": opts.pop("question_field"),
        "answer": opts.pop("answer_field"),
        "id": opts.pop("id_field"),
        "answer_marker": opts.pop("answer_marker"),
    }
    fields = None
    if any(v is not None for v in field_opts.values()):
        preset = PRESETS.get(str(opts["dataset"]).lower())
        base = vars(preset.fields) if preset else vars(Fields())
        fields = {**base, **{k: v for k, v in field_opts.items() if v is not None}}
    from divtui.engine.engine_settings import SettingError, parse_engine_arg

    try:
        engine_args = dict(parse_engine_arg(str(a)) for a in opts.pop("engine_arg"))
    except SettingError as e:
        raise UserError(str(e)) from None
    gpus = opts.pop("gpus")
    problems_of = opts.pop("problems_of")
    reuse = opts["dataset"] is None
    if reuse:
        opts["dataset"] = f"stored:{problems_of}" if problems_of else "stored"
    elif problems_of is not None:
        raise UserError("--problems-of takes the file's problems: give it without --dataset")
    temps = parse_temperatures(str(opts.pop("temperatures")))
    system = opts.pop("system_prompt")
    spec = GenerateSpec(
        temperatures=temps,
        system_prompt=DEFAULT_SYSTEM_PROMPT if system is None else str(system),
        fields=fields,
        engine_args=engine_args or None,
        gpus=[g.strip() for g in str(gpus).split(",") if g.strip()] if gpus else None,
        **opts,
    )
    con = open_db(resolve_db(db))
    try:
        problems = reused_problems(con, problems_of, spec.limit) if reuse else None
        with progress_bar("generate") as bar:
            stats = generate_db(con, spec, problems=problems, progress=bar)
    except (DatasetError, PromptError, ValueError, RuntimeError) as e:
        raise UserError(_first_line(e)) from None
    except OSError as e:
        raise UserError(f"cannot load model {spec.model}: {_first_line(e)}") from None
    finally:
        con.close()
    click.echo(
        f"run {stats['run_id']}: {stats['pools_done']} pools sampled, "
        f"{stats['pools_skipped']} already done, {stats['samples']} samples, "
        f"{stats['tokens']} tokens"
    )
    wrote(resolve_db(db))
