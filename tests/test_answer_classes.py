"""Answer classes: the fast path against the plain definition, and real math-verify equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from divtui.engine.answer_classes import answer_classes
from divtui.engine.grading import verifier


def _reference(answers: list[str | None], equivalent) -> list[int | None]:
    """DESIGN.md's definition, literally: compare with every representative, no shortcuts."""
    reps: list[str] = []
    out: list[int | None] = []
    for a in answers:
        if a is None:
            out.append(None)
            continue
        for c, r in enumerate(reps):
            if equivalent(r, a):
                out.append(c)
                break
        else:
            reps.append(a)
            out.append(len(reps) - 1)
    return out


def _strip(s: str) -> str:
    """Cheap normaliser for the random test: spaces do not matter."""
    return s.replace(" ", "")


def _near(r: str, a: str) -> bool:
    """A cheap, non-transitive, asymmetric equivalence on integers written with spaces."""
    x, y = int(_strip(r)), int(_strip(a))
    return 0 <= y - x <= 1


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_equals_definition_on_random_pools(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    answers: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.15:
            answers.append(None)
        else:
            v = str(int(rng.integers(-6, 7)))
            pad = " " * int(rng.integers(0, 3))
            answers.append(pad + v if rng.random() < 0.5 else v + pad)
    calls: list[tuple[str, str]] = []

    def counting(r: str, a: str) -> bool:
        calls.append((r, a))
        return _near(r, a)

    got = answer_classes(answers, counting, normalize=_strip)
    assert got == _reference(answers, _near)
    seen = [c for c in got if c is not None]
    assert seen == [] or sorted(set(seen)) == list(range(max(seen) + 1))
    first = [seen.index(c) for c in sorted(set(seen))]
    assert first == sorted(first)
    keys = {_strip(a) for a in answers if a is not None}
    assert len({_strip(a) for _, a in calls}) <= len(keys)
    assert len(calls) == len(set(calls))


def test_identical_normalised_answers_never_call_equivalence() -> None:
    calls: list[tuple[str, str]] = []

    def never(r: str, a: str) -> bool:
        calls.append((r, a))
        return False

    answers = [
        "$12$",
        "12",
        " 12.",
        None,
        "\\dfrac{1}{2}",
        "\\frac{1}{2}",
        "\\left(x\\right)",
        "( x )",
    ]
    assert answer_classes(answers, never) == [0, 0, 0, None, 1, 1, 2, 2]
    assert calls == [
        ("$12$", "\\dfrac{1}{2}"),
        ("$12$", "\\left(x\\right)"),
        ("\\dfrac{1}{2}", "\\left(x\\right)"),
    ]


def test_real_math_verify_joins_equivalent_forms() -> None:
    pools = [
        ["\\frac{1}{2}", "0.5", None, "1/2", "2", "\\dfrac12", "2.0", "\\sqrt{4}", "x+1"],
        ["x \\le 3", "(-\\infty, 3]"],
        ["(-\\infty, 3]", "x \\le 3"],
        [None, None],
        [],
    ]
    with verifier(workers=2, timeout=10) as v:
        got = v.classes(pools)
    assert got[0] == [0, 0, None, 0, 1, 0, 1, 1, 2]
    # direction: the representative is math-verify's gold; an inequality gold accepts an
    # interval, an interval gold does not accept the inequality.
    assert got[1] == [0, 0]
    assert got[2] == [0, 1]
    assert got[3] == [None, None]
    assert got[4] == []


@pytest.mark.parametrize("seed", range(40))
def test_pruned_classes_equal_the_definition_when_plausible_only_adds(seed: int) -> None:
    from divtui.engine.answer_classes import answer_classes_pruned

    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(0, 40))
    answers = [
        None
        if rng.random() < 0.15
        else str(int(rng.integers(-6, 7))) + " " * int(rng.integers(0, 2))
        for _ in range(n)
    ]
    extra = {
        (a, b) for a in map(str, range(-6, 7)) for b in map(str, range(-6, 7)) if rng.random() < 0.3
    }
    ruled_out: list[tuple[str, str]] = []

    def plausible(r: str, a: str) -> bool:
        ok = _near(r, a) or (_strip(r), _strip(a)) in extra
        if not ok:
            ruled_out.append((r, a))
        return ok

    def first_equal(pairs):
        assert all(plausible(r, a) for r, a in pairs)
        return next((i for i, (r, a) in enumerate(pairs) if _near(r, a)), None)

    got = answer_classes_pruned(answers, first_equal, plausible, normalize=_strip)
    assert got == _reference(answers, _near)
    assert not any(_near(r, a) for r, a in ruled_out)
