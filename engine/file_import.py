"""Reading a file of sampled solutions into the database in one transaction (`divtui import`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FORMAT_NAMES = ("jsonl", "qwen-math-eval", "gsm8k-example-solutions", "search-and-learn")


class ImportFileError(ValueError):
    """Bad input in an imported file: str() is one line naming the file, line and field."""


def utf8(text: str) -> str:
    """A name from the command line or the file system as valid UTF-8 (undecodable bytes, kept
    by Python as lone surrogates, become U+FFFD) so it can be stored."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


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
    """Parse and store ``path``; raises ImportFileError (one line) on bad input, storing nothing.

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
    base = {"file": utf8(str(path.resolve())), "format": fmt, "skip_bad": skip_bad}
    try:
        if fmt == "jsonl" and not skip_bad:
            counts = _bulk_jsonl(con, path, opts, {**base, "skipped_lines": []})
            if counts is not None:
                return {"counts": counts, "skipped": []}
        try:
            parsed = parse_file(path, fmt, opts)
        except BadRecord as e:
            raise ImportFileError(str(e)) from None
        except OSError as e:
            raise ImportFileError(f"{path}: cannot read: {e.strerror or e}") from None
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
        raise ImportFileError(f"{path}:{line}: field {e.field}: {e}") from None
    except SampleConflict as e:
        raise ImportFileError(f"{path}:{e.line or 1}: field {e.field}: {e}") from None
    return {"counts": counts, "skipped": [str(b) for b in parsed.skipped]}


def summary(counts: dict[str, dict[str, int]]) -> str:
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
