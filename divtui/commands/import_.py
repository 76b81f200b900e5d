"""`divtui import`: read a file of sampled solutions into the database in one transaction."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from divtui.engine.specs import GradeSpec
from divtui.errors import UserError

from . import db_option, import_db, wrote

FORMAT_NAMES = ("jsonl", "qwen-math-eval", "gsm8k-example-solutions", "search-and-learn")


def _progress(done: int, total: int, label: str) -> None:
    """Draw a one-line progress bar on a terminal's stderr; nothing when redirected."""
    if not sys.stderr.isatty() or total <= 0:
        return
    width = 30
    filled = int(width * done / total)
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}")
    sys.stderr.flush()


def _bulk_jsonl(con: Any, path: Path, opts: Any, base: dict[str, Any]) -> dict[str, Any] | None:
    """The native jsonl fast path inside DuckDB; None when the line-by-line validator must run."""
    from divtui import __version__
    from divtui.store.formats import jsonl_bulk
    from divtui.store.ingest import Declined, ProblemConflict, SampleConflict, ingest_relations

    # the fast path's answer (rows or an error) counts only for a file of strict JSON lines
    check = jsonl_bulk.SyntaxCheck(path)
    try:
        staged = jsonl_bulk.stage(con, path, opts)
        if staged is None:
            return None
        return ingest_relations(
            con,
            problems=staged.problems,
            samples=staged.samples,
            scores=staged.scores,
            embeddings=staged.embeddings,
            sizes=staged.sizes,
            run_id=opts.run_id,
            source="import:jsonl",
            config={**base, "parser": "bulk"},
            version=__version__,
            verify=check.passed,
            replace=opts.replace,
        )
    except (Declined, ProblemConflict, SampleConflict):
        return None  # the line-by-line path decides, and names the line
    except Exception:
        if not check.passed():
            return None
        raise
    finally:
        check.stop()
        jsonl_bulk.drop(con)


def import_file(
    con: Any,
    path: Path,
    fmt: str,
    *,
    run_id: str,
    temperature: float | None = None,
    dataset: str | None = None,
    skip_bad: bool = False,
    replace: bool = False,
) -> dict[str, Any]:
    """Parse and store ``path``; raises UserError (one line) on bad input, storing nothing.

    A sample already stored with other content is refused, or with ``replace`` replaced (its
    derived rows too) in the same transaction. Returns the ingest counts and the list of
    skipped-line messages.
    """
    from divtui import __version__
    from divtui.store.formats import BadRecord, ImportOptions, parse_file
    from divtui.store.ingest import ProblemConflict, SampleConflict, ingest

    opts = ImportOptions(
        run_id=run_id, temperature=temperature, dataset=dataset, skip_bad=skip_bad, replace=replace
    )
    base = {"file": _utf8(str(path.resolve())), "format": fmt, "skip_bad": skip_bad}
    try:
        if fmt == "jsonl" and not skip_bad:
            counts = _bulk_jsonl(con, path, opts, {**base, "skipped_lines": []})
            if counts is not None:
                return {"counts": counts, "skipped": []}
        try:
            parsed = parse_file(path, fmt, opts)
        except BadRecord as e:
            raise UserError(str(e)) from None
        except OSError as e:
            raise UserError(f"{path}: cannot read: {e.strerror or e}") from None
        config = {**base, "skipped_lines": [b.line for b in parsed.skipped], **parsed.config}
        counts = ingest(
            con,
            problems=parsed.problems,
            samples=parsed.samples,
            scores=parsed.scores,
            embeddings=parsed.embeddings,
            run_id=run_id,
            source=f"import:{fmt}",
            config=config,
            version=__version__,
            replace=replace,
            lines=parsed.sample_lines,
        )
    except ProblemConflict as e:
        line = parsed.problem_lines.get(e.problem_id, 1)
        raise UserError(f"{path}:{line}: field {e.field}: {e}") from None
    except SampleConflict as e:
        raise UserError(f"{path}:{e.line or 1}: field {e.field}: {e}") from None
    return {"counts": counts, "skipped": [str(b) for b in parsed.skipped]}


def _utf8(text: str) -> str:
    """A name from the command line or the file system as valid UTF-8 (undecodable bytes, kept
    by Python as lone surrogates, become U+FFFD) so it can be stored."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _summary(counts: dict[str, dict[str, int]]) -> str:
    """One line: what was imported, new against already present."""
    parts = []
    for table in ("problems", "samples", "scores", "embeddings"):
        c = counts[table]
        replaced = c.get("replaced", 0)
        new = c["new"] - replaced
        again = f", {replaced} replaced" if replaced else ""
        parts.append(
            f"{c['rows']} {table} ({new} new{again}, {c['rows'] - c['new']} already present)"
        )
    return "imported " + ", ".join(parts)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(FORMAT_NAMES), required=True, help="the file's format"
)
@db_option
@click.option("--run", "run_id", default=None, help="run name (default: the file's stem)")
@click.option("--skip-bad", is_flag=True, help="import the good lines, report each bad one")
@click.option("--no-grade", is_flag=True, help="do not extract and grade answers after import")
@click.option(
    "--temperature",
    type=float,
    default=None,
    help="sampling temperature, for formats that do not record it "
    "(defaults: qwen-math-eval 0.7, gsm8k-example-solutions 0.0, search-and-learn 0.8)",
)
@click.option("--dataset", default=None, help="dataset name used in problem ids and rows")
@click.option(
    "--replace",
    is_flag=True,
    help="replace samples stored with other content (with their scores, embeddings, "
    "grades and the draws that include them)",
)
def command(
    file: Path,
    fmt: str,
    db: str | None,
    run_id: str | None,
    skip_bad: bool,
    no_grade: bool,
    temperature: float | None,
    dataset: str | None,
    replace: bool,
) -> None:
    """Import FILE (one transaction: a bad line stores nothing unless --skip-bad)."""
    import math

    from divtui.store import open_db

    if temperature is not None:
        if fmt == "jsonl":
            raise UserError("--temperature: jsonl records carry their own 'temperature' field")
        if not math.isfinite(temperature) or temperature < 0:
            raise UserError(f"--temperature: must be a finite number >= 0, got {temperature}")
    for flag, value in (("--dataset", dataset), ("--run", run_id)):
        if value is not None and value != _utf8(value):
            raise UserError(f"{flag}: not valid UTF-8 text ({value!r})")
    run = run_id or _utf8(file.stem)
    path = import_db(db)
    con = open_db(path)
    try:
        result = import_file(
            con,
            file,
            fmt,
            run_id=run,
            temperature=temperature,
            dataset=dataset,
            skip_bad=skip_bad,
            replace=replace,
        )
        from divtui.store.terminal import one_line

        for line in result["skipped"]:
            click.echo(f"skipped: {one_line(line)}", err=True)
        if result["skipped"]:
            click.echo(f"skipped {len(result['skipped'])} bad lines", err=True)
        click.echo(f"{_summary(result['counts'])} into run {one_line(repr(run))}")
        if not no_grade:
            from divtui.engine.grading import grade_db

            graded = grade_db(con, GradeSpec(run_id=run), progress=_progress)
            click.echo("graded: " + ", ".join(f"{k} {v}" for k, v in graded.items()))
    finally:
        con.close()
    wrote(path)
