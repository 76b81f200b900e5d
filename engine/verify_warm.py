"""Loaded by the grading forkserver: math-verify run once on typical answers before any fork.

Every worker process forks from the forkserver, so it starts with what this fills in: ANTLR's
prediction cache for latex2sympy's grammar (the first parse of a kind of expression costs
hundreds of milliseconds, later ones about one) and the modules sympy imports lazily on a first
series evaluation or ``simplify`` (scipy.special, sympy.physics, several seconds). A worker
replaced after a timeout starts warm too. Importing this module anywhere else just costs that
time once; nothing depends on it for results.
"""

from __future__ import annotations

import logging

WARM_ANSWERS = (
    "5",
    "-\\frac{3}{4}",
    "0.25",
    "2\\sqrt{3}",
    "\\frac{\\sqrt{2}}{2}",
    "\\sum_{n=1}^{\\infty} \\frac{1}{n^2}",
    "\\frac{\\pi^2}{6}",
    "[1, 2)",
    "(-\\infty, 3]",
    "\\{1, 2\\}",
    "x^2+2x+1",
    "(x+1)^2",
    "x = 2",
    "\\text{yes}",
    "50\\%",
)


def warm() -> None:
    """Parse, key and compare each warm-up answer with the next (math-verify's slow first calls)."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    from math_verify import parse, verify

    from .answer_keys import answer_keys
    from .extract import wrap_latex

    parsed = [parse(wrap_latex(s), parsing_timeout=None) for s in WARM_ANSWERS]
    for p in parsed:
        answer_keys(p)
    for a, b in zip(parsed, parsed[1:], strict=False):
        verify(a, b, timeout_seconds=None)


warm()
