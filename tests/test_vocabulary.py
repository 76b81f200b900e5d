"""store.vocabulary is the one place the names are written, and what it says each name needs
is what the draw stage really computes (checked on random pools with and without each input)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from divtui.engine.draws import evaluate, row_keys
from divtui.engine.pool import Pool, precompute
from divtui.store import vocabulary as vocab

ROOT = Path(__file__).resolve().parent.parent
CODE = ("engine", "store", "tui", "divtui", "bench")
HOME = ROOT / "store" / "vocabulary.py"
FIELD_WORDS = (*vocab.QUALITIES, *vocab.JOB_STATUSES)
"""Words that also name fields (a ``reward`` column, a progress line's ``done``)."""
SQL_QUOTED = re.compile("'(" + "|".join(map(re.escape, (*vocab.OUTCOMES, *FIELD_WORDS))) + ")'")
FIELD_METHODS = ("get", "pop", "setdefault")
WORDS_NOT_NAMES = {
    ("engine/report.py", 'progress(len(names), len(names), "done")'): "a progress label",
    ("engine/prune.py", 'reward=cat("reward"),'): "the DrawBatch field read by getattr",
}
"""Lines where a quality or job-status word is something else, with what it is."""


def _code_files() -> list[Path]:
    """Every Python file outside tests and docs."""
    return sorted(p for d in CODE for p in (ROOT / d).rglob("*.py") if ".venv" not in p.parts)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions, and of attribute
    docstrings (a bare string statement)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def _names_a_field(node: ast.Constant, parent: ast.AST | None) -> bool:
    """Whether the string is a field name: a dict key, a subscript, a ``.get()`` key, or one of
    a list of words that are not all qualities or job statuses (column names, say)."""
    if isinstance(parent, ast.Tuple | ast.List | ast.Set):
        words = [e.value for e in parent.elts if isinstance(e, ast.Constant)]
        return not (set(words) <= set(vocab.QUALITIES) or set(words) <= set(vocab.JOB_STATUSES))
    if isinstance(parent, ast.Dict):
        return any(k is node for k in parent.keys)
    if isinstance(parent, ast.Subscript):
        return parent.slice is node
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute):
        return parent.func.attr in FIELD_METHODS and bool(parent.args) and parent.args[0] is node
    return False


def offences(path: Path, root: Path = ROOT) -> list[str]:
    """Where ``path`` writes an aggregator name, a quality or a job status as a literal: any
    string equal to an aggregator (or ``coverage``); a quality or job status anywhere but as a
    field name; any of them quoted inside SQL text; a collection literal of every metric."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    docs = _docstrings(tree)
    parents = {id(c): n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    where = path.relative_to(root)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text, parent = node.value, parents.get(id(node))
            other = (str(where), lines[node.lineno - 1].strip()) in WORDS_NOT_NAMES
            if text in vocab.OUTCOMES or (
                text in FIELD_WORDS and not other and not _names_a_field(node, parent)
            ):
                out.append(f"{where}:{node.lineno}: {text!r}")
            elif m := SQL_QUOTED.search(text):
                out.append(f"{where}:{node.lineno}: {m.group(0)} in SQL text")
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            held = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            if set(vocab.METRICS) <= held:
                out.append(f"{where}:{node.lineno}: the list of every metric")
    return out


def test_the_rule_catches_each_way_of_writing_a_name(tmp_path: Path) -> None:
    src = tmp_path / "engine" / "x.py"
    src.parent.mkdir()
    src.write_text(
        '"""Docstring naming \'maj\' and done."""\n'
        'A = ("maj", "wmaj")\n'
        'q = "both"\n'
        'ok = row["done"], {"reward": 1}, line.get("ingested"), ("reward", "text")\n'
        "sql = \"WHERE status NOT IN ('ingested', 'failed')\"\n"
        'if state == "crashed":\n    pass\n'
        f"M = {list(vocab.METRICS)!r}\n"
        'd = {"state": "ingested"}, f(status="running"), g(x, "done")\n'
    )
    assert sorted(offences(src, tmp_path)) == sorted(
        [
            "engine/x.py:2: 'maj'",
            "engine/x.py:2: 'wmaj'",
            "engine/x.py:3: 'both'",
            "engine/x.py:5: 'ingested' in SQL text",
            "engine/x.py:6: 'crashed'",
            "engine/x.py:8: the list of every metric",
            "engine/x.py:9: 'ingested'",
            "engine/x.py:9: 'running'",
            "engine/x.py:9: 'done'",
        ]
    )


def test_names_are_written_only_in_store_vocabulary() -> None:
    found = [o for p in _code_files() if p != HOME for o in offences(p)]
    assert not found, "write these with divtui.store.vocabulary:\n" + "\n".join(found)
    assert offences(HOME), "the rule finds nothing even in store/vocabulary.py"


def test_every_name_says_what_it_needs() -> None:
    assert set(vocab.METRIC_NEEDS) == set(vocab.METRICS) == set(vocab.METRIC_ORDER)
    assert set(vocab.OUTCOME_NEEDS) == set(vocab.OUTCOMES)
    assert set(vocab.QUALITY_NEEDS) == set(vocab.QUALITIES)
    assert set(vocab.REMOTE_TERMINAL) | set(vocab.LOCAL_TERMINAL) <= set(vocab.JOB_STATUSES)
    assert set(vocab.REMOTE_STATUSES) <= set(vocab.JOB_STATUSES)
    assert vocab.needs("distinct_2") == vocab.needs("distinct_n")
    with pytest.raises(KeyError, match="'nope' is neither"):
        vocab.needs("nope")


def _pool(rng: np.random.Generator, *, lp: bool, graded: bool, n_emb: int, n_sc: int) -> Pool:
    """A random pool of 6 samples with the inputs asked for."""
    n = 6
    vec = {f"e{i}": rng.normal(size=(n, 4)) for i in range(n_emb)}
    return Pool(
        run_id="r",
        problem_id="p",
        temperature=0.7,
        sample_ids=np.arange(n, dtype=np.int64),
        idx=np.arange(n, dtype=np.int64),
        texts=[" ".join(rng.choice(list("abcde"), size=8)) for _ in range(n)],
        answers=[str(a) for a in rng.integers(0, 3, size=n)],
        answer_class=rng.integers(-1, 3, size=n),
        correct=rng.random(n) < 0.5,
        graded=graded,
        mean_logprob=rng.normal(size=n) if lp else None,
        rewards={f"s{i}": rng.random(n) for i in range(n_sc)},
        embeddings={k: v / np.linalg.norm(v, axis=1, keepdims=True) for k, v in vec.items()},
    )


def _expected(pool: Pool, quality: str, weighted: bool) -> set[tuple[str, str, str]]:
    """The rows store.vocabulary's table promises, written out case by case."""
    e, s = list(pool.embeddings), list(pool.rewards)
    want = {("distinct_n", "", ""), (vocab.MAJ, "", ""), (vocab.MBR_LEX, "", "")}
    want |= {(m, x, "") for x in e for m in ("cosine_sim", "dpp", "near_dup_pairs")}
    want |= {(vocab.MBR_SEM, x, "") for x in e}
    want |= {(vocab.BST, "", y) for y in s}
    if weighted:
        want |= {(vocab.WMAJ, "", y) for y in s}
    if pool.mean_logprob is not None:
        want.add(("mean_logprob", "", ""))
        if quality != vocab.REWARD:
            want |= {("qual_dpp", x, "") for x in e}
    if quality != vocab.LOGPROB:
        want |= {("qual_dpp", x, y) for x in e for y in s}
    if pool.graded:
        want |= {("n_correct", "", ""), (vocab.COVERAGE, "", "")}
    return want


@pytest.mark.parametrize("seed", range(6))
def test_needs_match_what_evaluate_computes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(8):
        pool = _pool(
            rng,
            lp=bool(rng.integers(2)),
            graded=bool(rng.integers(2)),
            n_emb=int(rng.integers(3)),
            n_sc=int(rng.integers(3)),
        )
        quality = str(rng.choice(vocab.QUALITIES))
        weighted = bool(rng.integers(2))
        mats = precompute(pool, distinct_n=3)
        idx = np.array([[0, 2, 4], [1, 3, 5]])
        ev = evaluate(pool, mats, idx, quality=quality, weighted=weighted)
        rows = row_keys(pool, quality, weighted=weighted, distinct_n=3)
        assert set(ev.metrics) | set(ev.picks) == rows == _expected(pool, quality, weighted)


@pytest.mark.parametrize("n", range(5))
def test_listed_reads_as_prose(n: int) -> None:
    names = tuple(f"n{i}" for i in range(n))
    want = ("", "n0", "n0 and n1")[n] if n < 3 else ", ".join(names[:-1]) + f" or {names[-1]}"
    assert vocab.listed(names, "and" if n < 3 else "or") == want
    assert vocab.listed(vocab.needing(vocab.AGGREGATORS, "scorer")) == "wmaj and bst"
