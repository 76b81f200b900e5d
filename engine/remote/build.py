"""Build a job from the local database: its validated spec and the Parquet inputs it ships.

Shared by `divtui remote run` and the UI's rerun dialog, so both send the same jobs. Problem
texts come from the database; user-typed settings go only into the spec (validated there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from divtui.store import jobs as jq

from . import jobspec as js
from .errors import RemoteError


def _need_problems(con: Any, problem_ids: list[str]) -> list[dict[str, Any]]:
    """The problems rows, or a one-line error naming the first id not stored."""
    for pid in problem_ids:
        js.check_id(pid, "--problem", "command line")
    rows = jq.problems_by_id(con, list(problem_ids))
    missing = sorted(set(problem_ids) - {r["problem_id"] for r in rows})
    if missing:
        raise RemoteError(f"no problem {missing[0]!r} in the database")
    return rows


def _paths(folder: Path, counts: dict[str, int]) -> dict[str, Path]:
    """The input files written to ``folder``, by table."""
    return {t: folder / f"{t}.parquet" for t in counts}


def _check_names(
    asked: list[str] | None, present: list[str], what: str, option: str
) -> list[str] | None:
    """Names asked for a draw job, each checked to be present on the shipped samples."""
    if asked is None:
        return None
    for name in asked:
        js.check_id(name, option, "command line", js.MODEL)
        if name not in present:
            have = ", ".join(present) or "none"
            raise RemoteError(
                f"{option} {name!r}: no {what} of that name on those problems ({have})"
            )
    return list(asked)


def build_job(
    con: Any,
    kind: str,
    problem_ids: list[str],
    folder: Path,
    *,
    run_id: str | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Path] | None]:
    """(spec, input files) of a ``kind`` job over ``problem_ids``; inputs are written to ``folder``.

    ``settings`` are the keyword arguments of the kind's spec builder in jobspec (for draw,
    ``scorers``/``embedders`` None means every name stored on those problems' samples).
    """
    settings = dict(settings or {})
    rows = _need_problems(con, problem_ids)
    if kind == "generate":
        return js.generate_spec(rows, run_id=run_id, **settings), None
    if kind not in ("grade", "score", "embed", "draw"):
        raise RemoteError(f"kind {kind!r}: not one of {', '.join(js.KINDS)}")
    if run_id is not None:
        js.check_id(run_id, "--run-id", "command line")
    if kind == "score":
        js.check_scorer(settings.get("scorer"), "--scorer", "command line")
        counts = jq.export_inputs(
            con, folder, problem_ids, run_id, lacking_scorer=settings["scorer"]
        )
        if not counts["samples"]:
            raise RemoteError(
                f"no samples of those problems left to score with {settings['scorer']}"
            )
        return js.score_spec(rows, **settings), _paths(folder, counts)
    if kind == "draw":
        settings["scorers"] = _check_names(
            settings.get("scorers"), jq.names_in(con, "scores", problem_ids), "scores", "--scorer"
        )
        settings["embedders"] = _check_names(
            settings.get("embedders"),
            jq.names_in(con, "embeddings", problem_ids),
            "embeddings",
            "--embedder",
        )
        spec = js.draw_spec(rows, **settings)
        counts = jq.export_inputs(
            con,
            folder,
            problem_ids,
            run_id,
            scorers=settings["scorers"],
            embedders=settings["embedders"],
            side_tables=True,
        )
    else:
        spec = (
            js.grade_spec(rows, **settings) if kind == "grade" else js.embed_spec(rows, **settings)
        )
        counts = jq.export_inputs(con, folder, problem_ids, run_id)
    if not counts["samples"]:
        raise RemoteError(f"no samples of those problems to {kind}")
    return spec, _paths(folder, counts)
