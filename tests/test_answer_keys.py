"""Answer keys against math-verify itself: a pair the keys rule out is never one it calls equal."""

from __future__ import annotations

import itertools
import logging

import pytest
from math_verify import parse, verify

from bench.hard_answers import hard_pool
from divtui.engine.answer_keys import (
    WILD,
    AnswerKeys,
    Key,
    answer_keys,
    close,
    may_equal,
    unkeyed,
)
from divtui.engine.extract import wrap_latex

logging.getLogger("math_verify").setLevel(logging.ERROR)

# Equivalent spellings side by side, so the brute force below meets many equal pairs of every
# kind, and near misses (1/3 vs 0.333333, 9% vs 9, x <= 3 vs its interval) that math-verify's
# own conventions make equal.
ANSWERS = [
    "\\frac{1}{2}", "0.5", "1/2", "\\dfrac12", "50\\%", "\\frac{2}{4}", "\\frac{1}{3}",
    "0.333333", "-\\frac{3}{4}", "-0.75", "9\\%", "9", "0.09", "10^{100}", "100^{50}", "5!",
    "120", "\\sqrt{18}", "3\\sqrt{2}", "\\frac{\\sqrt{3}}{2}", "\\cos(\\pi/6)",
    "\\sum_{k=1}^{10} k", "55", "\\sum_{n=0}^{\\infty} \\frac{1}{2^n}", "2", "\\zeta(3)",
    "2\\zeta(3)/2", "\\pi", "\\text{pi}", "e", "\\text{e}", "\\infty", "-\\infty",
    "(-\\infty, 3]", "x \\le 3", "[1,2)", "(1,2)", "1, 2", "\\{2, 1\\}", "\\{1\\}", "1",
    "(x+1)^2", "x^2+2x+1", "\\frac{x}{2}", "0.5x", "x = 5", "5", "\\text{Monday}", "Monday",
    "\\text{(A)}", "A", "a", "f(x)", "", "???", "\\{E, 1\\}", "\\{e, 1\\}", "[E, 5)", "[e, 5)", "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
]  # fmt: skip


def _parse(s: str) -> list:
    return parse(wrap_latex(s), parsing_timeout=2)


@pytest.fixture(scope="module")
def parsed() -> dict[str, list]:
    return {s: _parse(s) for s in dict.fromkeys(ANSWERS)}


def test_no_pair_that_math_verify_calls_equal_is_ruled_out(parsed: dict[str, list]) -> None:
    keys = {s: answer_keys(p) for s, p in parsed.items()}
    ruled_out = 0
    for a, b in itertools.permutations(parsed, 2):
        if may_equal(keys[a], keys[b]):
            continue
        ruled_out += 1
        assert not verify(parsed[a], parsed[b], timeout_seconds=2), (a, b)
    # the keys must rule out most pairs, or they save nothing
    assert ruled_out > 0.6 * len(parsed) * (len(parsed) - 1)


@pytest.mark.parametrize("seed", [3])
def test_hard_pools_keys_agree_with_math_verify(seed: int) -> None:
    strings = sorted(set(hard_pool(seed, samples=14, distinct=14)[0]))
    parsed = {s: _parse(s) for s in strings}
    keys = {s: answer_keys(p) for s, p in parsed.items()}
    for a, b in itertools.permutations(strings, 2):
        if not may_equal(keys[a], keys[b]):
            assert not verify(parsed[a], parsed[b], timeout_seconds=2), (a, b)
        elif verify(parsed[a], parsed[b], timeout_seconds=2):
            assert may_equal(keys[a], keys[b])


def test_equal_forms_share_keys(parsed: dict[str, list]) -> None:
    keys = {s: answer_keys(p) for s, p in parsed.items()}
    for a, b in [
        ("\\frac{1}{2}", "0.5"),
        ("0.5", "50\\%"),
        ("9\\%", "9"),
        ("\\sqrt{18}", "3\\sqrt{2}"),
        ("\\frac{\\sqrt{3}}{2}", "\\cos(\\pi/6)"),
        ("x \\le 3", "(-\\infty, 3]"),
        ("\\zeta(3)", "2\\zeta(3)/2"),
        ("(x+1)^2", "x^2+2x+1"),
        ("(1,2)", "1, 2"),
        ("1, 2", "\\{2, 1\\}"),
        ("\\text{Monday}", "Monday"),
        ("\\text{e}", "e"),
    ]:
        assert may_equal(keys[a], keys[b]), (a, b)
    for a, b in [("\\frac{1}{2}", "\\frac{1}{3}"), ("[1,2)", "(1,2)"), ("(x+1)^2", "\\frac{x}{2}")]:
        assert not may_equal(keys[a], keys[b]), (a, b)


def test_wild_and_unknown_keys_rule_out_nothing(parsed: dict[str, list]) -> None:
    keys = {s: answer_keys(p) for s, p in parsed.items()}
    unknown = AnswerKeys(frozenset(), (), known=False)
    wild = AnswerKeys(frozenset(), (Key(WILD),))
    for k in keys.values():
        assert may_equal(unknown, k) and may_equal(k, unknown)
        assert may_equal(wild, k) == bool(k.keys) and may_equal(k, wild) == bool(k.keys)
    assert not keys["x = 5"].keyed and keys["x = 5"].keys[0].kind == WILD
    assert unkeyed(parsed["(1,2)"]).strings == keys["(1,2)"].strings
    assert keys[""] == AnswerKeys(frozenset(), ())


def test_close_is_relative_above_one_and_exact_at_infinity() -> None:
    import mpmath

    assert close(mpmath.mpc(1e20), mpmath.mpc(1e20 * (1 + 1e-6)))
    assert not close(mpmath.mpc(1e20), mpmath.mpc(1e20 * (1 + 1e-4)))
    assert close(mpmath.mpc(0), mpmath.mpc(1e-6)) and not close(mpmath.mpc(0), mpmath.mpc(1e-4))
    assert close(mpmath.mpc(mpmath.inf), mpmath.mpc(mpmath.inf))
    assert not close(mpmath.mpc(mpmath.inf), mpmath.mpc(-mpmath.inf))
    assert not close(mpmath.mpc(mpmath.inf), mpmath.mpc(1e300))
