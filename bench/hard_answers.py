"""Synthetic hard answer pools for grading: fractions, radicals, sums, intervals, expressions.

Each value is written in several equivalent LaTeX forms (``\\frac{1}{2}``, ``0.5``, ``1/2``,
``\\dfrac12``), so a pool has many distinct strings, classes of several strings, and the
expensive comparisons of today's answer-class step (unequal sums and radicals go through sympy's
``simplify``). Used by ``bench/grade.py`` and the grading tests.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def _fraction(rng: np.random.Generator) -> list[str]:
    """Equivalent spellings of a random rational p/q."""
    q = int(rng.choice([2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 25]))
    p = int(rng.integers(-30, 31))
    x = Fraction(p, q)
    p, q = x.numerator, x.denominator
    sign = "-" if p < 0 else ""
    if q == 1:
        return [str(p), f"{p}.0", f"\\frac{{{2 * p}}}{{2}}"]
    forms = [f"{sign}\\frac{{{abs(p)}}}{{{q}}}", f"{p}/{q}", f"\\frac{{{p}}}{{{q}}}"]
    if 10**6 % q == 0:
        forms.append(f"{p / q:g}")
    return forms


def _radical(rng: np.random.Generator) -> list[str]:
    """Equivalent spellings of a * sqrt(b) (b square-free) and of its reciprocal-style forms."""
    a = int(rng.integers(1, 7))
    b = int(rng.choice([2, 3, 5, 6, 7, 10, 11, 13]))
    c = int(rng.integers(1, 5))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return [
            f"{a}\\sqrt{{{b}}}" if a > 1 else f"\\sqrt{{{b}}}",
            f"\\sqrt{{{a * a * b}}}",
            f"{a} \\cdot {b}^{{1/2}}",
        ]
    if kind == 1:
        return [f"\\frac{{{a}\\sqrt{{{b}}}}}{{{c}}}", f"\\frac{{\\sqrt{{{a * a * b}}}}}{{{c}}}"]
    return [f"\\frac{{{a}}}{{\\sqrt{{{b}}}}}", f"\\frac{{{a}\\sqrt{{{b}}}}}{{{b}}}"]


def _sum(rng: np.random.Generator) -> list[str]:
    """A series or finite sum with its closed forms."""
    kind = int(rng.integers(0, 5))
    if kind == 0:
        k = int(rng.choice([2, 4]))
        closed = "\\frac{\\pi^2}{6}" if k == 2 else "\\frac{\\pi^4}{90}"
        return [f"\\sum_{{n=1}}^{{\\infty}} \\frac{{1}}{{n^{k}}}", closed]
    if kind == 1:
        k = int(rng.choice([3, 5]))
        return [
            f"\\sum_{{n=1}}^{{\\infty}} \\frac{{1}}{{n^{k}}}",
            f"\\sum_{{m=1}}^\\infty m^{{-{k}}}",
        ]
    if kind == 2:
        n = int(rng.integers(5, 40))
        return [f"\\sum_{{k=1}}^{{{n}}} k", str(n * (n + 1) // 2), f"\\frac{{{n}({n}+1)}}{{2}}"]
    if kind == 3:
        n = int(rng.integers(3, 15))
        return [f"\\sum_{{k=1}}^{{{n}}} k^2", str(n * (n + 1) * (2 * n + 1) // 6)]
    r = int(rng.choice([2, 3, 4, 5]))
    return [f"\\sum_{{n=0}}^{{\\infty}} \\frac{{1}}{{{r}^n}}", f"\\frac{{{r}}}{{{r - 1}}}"]


def _interval(rng: np.random.Generator) -> list[str]:
    """An interval with its spellings (fraction or decimal endpoints, spacing)."""
    a = Fraction(int(rng.integers(-8, 8)), int(rng.choice([1, 2, 4])))
    b = a + Fraction(int(rng.integers(1, 9)), int(rng.choice([1, 2])))
    left, right = ("[", "(")[int(rng.integers(0, 2))], ("]", ")")[int(rng.integers(0, 2))]

    def num(x: Fraction, dec: bool) -> str:
        if x.denominator == 1:
            return str(x.numerator)
        return f"{float(x):g}" if dec else f"\\frac{{{x.numerator}}}{{{x.denominator}}}"

    if rng.random() < 0.25:
        return [f"(-\\infty, {num(b, False)}{right}", f"(-\\infty,{num(b, True)}{right}"]
    return [
        f"{left}{num(a, False)}, {num(b, False)}{right}",
        f"{left}{num(a, True)},{num(b, True)}{right}",
    ]


def _expression(rng: np.random.Generator) -> list[str]:
    """A polynomial in x written expanded and factored."""
    r, s = int(rng.integers(-5, 6)), int(rng.integers(-5, 6))
    kind = int(rng.integers(0, 3))

    def lin(c: int) -> str:
        return "x" if c == 0 else f"x{c:+d}"

    if kind == 0:
        b, c = -(r + s), r * s
        expanded = "x^2" + (f"{b:+d}x" if b else "") + (f"{c:+d}" if c else "")
        return [expanded, f"({lin(-r)})({lin(-s)})"]
    if kind == 1:
        return [f"({lin(r)})^2", "x^2" + (f"{2 * r:+d}x{r * r:+d}" if r else "")]
    k = int(rng.integers(2, 6))
    return [
        f"{k}({lin(r)})" if r else f"{k}x",
        f"{k}x{k * r:+d}" if r else f"{k}x",
        f"\\frac{{{2 * k}x+{2 * k * r}}}{{2}}",
    ]


KINDS = (_fraction, _radical, _sum, _interval, _expression)


def hard_pool(seed: int, samples: int = 256, distinct: int = 150) -> tuple[list[str], str]:
    """``samples`` answer strings in draw order with ``distinct`` distinct strings, and a gold.

    Values are drawn from the five kinds; each value contributes one or more of its equivalent
    spellings, until ``distinct`` strings are collected; every string appears at least once and
    the rest of the pool repeats strings (popular ones more often), in random order.
    """
    rng = np.random.default_rng(seed)
    strings: list[str] = []
    seen: set[str] = set()
    while len(strings) < distinct:
        forms = KINDS[int(rng.integers(0, len(KINDS)))](rng)
        take = forms[: int(rng.integers(1, len(forms) + 1))]
        for s in take:
            if s not in seen and len(strings) < distinct:
                seen.add(s)
                strings.append(s)
    weights = 1.0 / np.arange(1, distinct + 1)
    extra = rng.choice(distinct, size=samples - distinct, p=weights / weights.sum())
    order = list(range(distinct)) + [int(i) for i in extra]
    rng.shuffle(order)
    pool = [strings[i] for i in order]
    return pool, strings[int(rng.integers(0, min(distinct, 10)))]
