"""Cheap keys of math-verify parses, and a test that rules out pairs math-verify cannot call equal.

``verify(gold, pred)`` is expensive (sympy ``simplify`` on every unequal pair) but it says
"equal" only along a few paths. :func:`answer_keys` reduces a parse to what those paths look at,
and :func:`may_equal` is False only where every path is known to say "not equal", so grading and
the answer classes skip those comparisons and still get math-verify's own verdicts.

The paths of math-verify 0.9 ``verify`` (``grader.py``) for a gold list ``G`` and a target list
``T``: it is True iff some pair ``(g, t)`` in ``G x T`` compares equal, where two strings compare
equal iff they are equal after ``strip()`` and not empty, a string and a sympy object never do,
and two sympy objects go through ``sympy_expr_eq``. For the objects given a key here (no
relation, matrix or set other than ``FiniteSet``, ``Tuple``, ``Interval``) that function is True
only if one of these holds:

1. ``g == t`` structurally (then their values and texts are the same);
2. either is a ``Symbol`` and no set is involved: ``sympy_compare_symbols``, which compares
   lower-cased names, a name with the concatenated names of a product of symbols, ``e`` with
   ``E``, or ``str(g) == str(t)``: each needs one of :attr:`Key.texts` in common;
3. a ``Set`` or ``Tuple`` on either side (a plain value taken as a one-element set; a set
   holding a bare symbol is not keyed, as its elements are compared by (2)): equal sets,
   an empty symmetric difference, equal lengths with elements pairwise equal by (1)-(5), or an
   open interval against a pair of its endpoints: each needs every element of one side to be
   close to an element of the other, both ways; two intervals also need the same open ends;
4. ``sympy_numeric_eq``: values within ``1e-6`` after rounding to 6 places when a float is
   involved, ``doit()`` of both structurally equal, ``(g - t).evalf(chop=True) == 0``, or two
   integers equal where one is a percentage ``9\\%`` compared by its number 9;
5. ``simplify(g - t)`` is zero.

So two objects are given the same value at the same points by (1), (3)-(5), provided sympy is
sound: ``doit``, ``evalf`` and ``simplify`` do not change a value and ``evalf`` is accurate to
its precision. Values here are ``evalf`` at 15 digits, expressions with free symbols evaluated at
fixed points per symbol name (two points), undefined functions such as ``\\zeta`` replaced by a
fixed smooth function of their arguments (an identity that holds for every function holds for
that one). Two values are *close* within ``1e-5`` relative (or absolute below 1), a margin far
above rounding to 6 places and 15-digit evaluation. A percentage also carries its bare number.

Anything else (relations, matrices, other sets, expressions with sums or limits over a free
symbol, values ``evalf`` cannot give, keys that take too long) gets a wild key that may equal
everything, so those pairs are still compared.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

WILD, VALUES, SYMBOL = "wild", "values", "symbol"
POINTS = 2
TOLERANCE = 1e-5
DIGITS = 15

Vector = tuple[Any, ...]


@dataclass(frozen=True)
class Key:
    """What math-verify's equal paths can see of one sympy object of a parse."""

    kind: str
    is_set: bool = False
    interval: tuple[bool, bool] | None = None
    elements: tuple[tuple[Vector, ...], ...] = ()
    texts: frozenset[str] | None = None


@dataclass(frozen=True)
class AnswerKeys:
    """The keys of one parsed answer: its stripped strings and one key per sympy object."""

    strings: frozenset[str]
    keys: tuple[Key, ...]
    known: bool = True

    @property
    def keyed(self) -> bool:
        """Whether every sympy object of the parse got a key that rules something out."""
        return self.known and all(k.kind != WILD for k in self.keys)


WILD_KEY = Key(WILD)


def unkeyed(parsed: Sequence[Any]) -> AnswerKeys:
    """Keys that may equal anything a parse with ``parsed``'s strings may equal."""
    return AnswerKeys(_strings(parsed), tuple(WILD_KEY for p in parsed if not isinstance(p, str)))


def _strings(parsed: Sequence[Any]) -> frozenset[str]:
    """The non-empty stripped strings of a parse (math-verify's string comparison)."""
    return frozenset(s.strip() for s in parsed if isinstance(s, str) and s.strip())


def answer_keys(parsed: Sequence[Any]) -> AnswerKeys:
    """Keys of a math-verify parse (its list of sympy objects and strings)."""
    return AnswerKeys(_strings(parsed), tuple(_key(p) for p in parsed if not isinstance(p, str)))


def _key(obj: Any) -> Key:
    """The key of one sympy object; wild where no rule here covers it."""
    from sympy import Expr, FiniteSet, Interval, Symbol, Tuple

    try:
        if isinstance(obj, Symbol):
            return Key(SYMBOL, texts=frozenset({obj.name.lower()}))
        if isinstance(obj, Interval):
            ends = [e for e in (_element(obj.start), _element(obj.end)) if e is not None]
            if len(ends) < 2:
                return WILD_KEY
            return Key(VALUES, True, (bool(obj.left_open), bool(obj.right_open)), tuple(ends))
        if isinstance(obj, (FiniteSet, Tuple)):
            elements = [e for e in (_element(a) for a in obj.args) if e is not None]
            if len(elements) < len(obj.args):
                return WILD_KEY
            return Key(VALUES, True, None, tuple(elements))
        if isinstance(obj, Expr):
            element = _element(obj)
            if element is None:
                return WILD_KEY
            return Key(VALUES, False, None, (element,), _texts(obj))
    except Exception:
        return WILD_KEY
    return WILD_KEY


def _texts(expr: Any) -> frozenset[str] | None:
    """Lower-cased texts ``sympy_compare_symbols`` could match against a symbol's name."""
    from sympy import E, Mul, Symbol

    try:
        texts = {str(expr).lower()}
        if expr == E:
            texts.add("e")
        if isinstance(expr, Mul) and all(a == E or isinstance(a, Symbol) for a in expr.args):
            texts.add("".join(a.name if isinstance(a, Symbol) else "e" for a in expr.args).lower())
    except Exception:
        return None
    return frozenset(texts)


def _element(expr: Any) -> tuple[Vector, ...] | None:
    """Values of an expression (and of its bare number if a percentage), or None.

    A bare symbol has none: inside a set or interval, math-verify compares it by name
    (``sympy_compare_symbols``: ``e`` equals ``E``, ``pi`` equals ``\\pi``), not by value.
    """
    from sympy import Expr, Mul, Rational, Symbol, UnevaluatedExpr
    from sympy.matrices.expressions import MatrixExpr

    if not isinstance(expr, Expr) or isinstance(expr, (MatrixExpr, Symbol)):
        return None
    variants = [expr]
    if (
        isinstance(expr, Mul)
        and len(expr.args) == 2
        and expr.args[1] == UnevaluatedExpr(Rational(1, 100))
    ):
        variants.append(expr.args[0])
    out = []
    for v in variants:
        vector = _vector(v)
        if vector is None:
            return None
        out.append(vector)
    return tuple(out)


def _has_bound_variables(expr: Any) -> bool:
    """Whether ``expr`` holds a sum, integral, limit or derivative (values over a bound symbol)."""
    from sympy import Derivative, Limit, Subs, preorder_traversal
    from sympy.concrete.expr_with_limits import ExprWithLimits

    kinds = (ExprWithLimits, Limit, Derivative, Subs)
    return any(isinstance(a, kinds) for a in preorder_traversal(expr))


def point(name: str, j: int) -> float:
    """The value given to the symbol ``name`` at evaluation point ``j``: in [0.5, 1.5)."""
    return 0.5 + zlib.crc32(f"{j}:{name}".encode()) / 2**32


@cache
def _stand_in(name: str, arity: int) -> Any:
    """A fixed smooth function standing in for the undefined function ``name`` of ``arity``."""
    from sympy import Float, sin
    from sympy.utilities.lambdify import implemented_function

    seed = zlib.crc32(name.encode())
    rates = [1 + ((seed >> (4 * i)) & 15) / 16 for i in range(arity + 1)]

    def value(*args: Any) -> Any:
        return Float(2) + sum(sin(rates[i] * x + rates[-1]) for i, x in enumerate(args))

    return implemented_function(name, value)


def _vector(expr: Any) -> Vector | None:
    """``expr``'s value at each of the :data:`POINTS` points, or None where it has none."""
    from sympy import Float
    from sympy.core.function import AppliedUndef

    symbols = sorted(expr.free_symbols, key=str)
    if symbols and _has_bound_variables(expr):
        return None
    if expr.has(AppliedUndef):
        expr = expr.replace(
            lambda a: isinstance(a, AppliedUndef),
            lambda a: _stand_in(a.func.__name__, len(a.args))(*a.args),
        )
    if not symbols:
        value = _number(expr.evalf(DIGITS))
        if value is None:
            value = _number(expr.doit().evalf(DIGITS))
        return None if value is None else (value,) * POINTS
    out = []
    for j in range(POINTS):
        subs = {s: Float(point(s.name, j), DIGITS + 5) for s in symbols}
        value = _number(expr.evalf(DIGITS, subs=subs))
        if value is None:
            return None
        out.append(value)
    return tuple(out)


def _number(value: Any) -> Any:
    """An evalf result as an mpmath complex (infinities kept), or None if it is not a number."""
    import mpmath

    if not getattr(value, "is_number", False) or value.free_symbols:
        return None
    try:
        out = mpmath.mpc(*(_real(part) for part in value.as_real_imag()))
    except (AttributeError, TypeError, ValueError):
        return None
    return None if mpmath.isnan(out) else out


def _real(part: Any) -> Any:
    """A real sympy number (possibly infinite) as an mpmath float."""
    import mpmath
    from sympy import Float, oo

    if part == oo:
        return mpmath.inf
    if part == -oo:
        return -mpmath.inf
    return mpmath.mpf(Float(part.evalf(DIGITS), DIGITS)._mpf_)


def close(u: Any, w: Any) -> bool:
    """Whether two values are within :data:`TOLERANCE` relative (absolute below 1)."""
    import mpmath

    if mpmath.isinf(u) or mpmath.isinf(w):
        return bool(u == w)
    return bool(abs(u - w) <= TOLERANCE * max(1, abs(u), abs(w)))


def _element_close(a: tuple[Vector, ...], b: tuple[Vector, ...]) -> bool:
    """Whether some variant of ``a`` is close to some variant of ``b`` at every point."""
    return any(all(close(x, y) for x, y in zip(va, vb, strict=True)) for va in a for vb in b)


def _covered(a: tuple[tuple[Vector, ...], ...], b: tuple[tuple[Vector, ...], ...]) -> bool:
    """Whether every element of ``a`` is close to some element of ``b``."""
    return all(any(_element_close(x, y) for y in b) for x in a)


def _key_may_equal(a: Key, b: Key) -> bool:
    """False only where ``sympy_expr_eq`` cannot be True for objects with these keys."""
    if a.kind == WILD or b.kind == WILD:
        return True
    if a.kind == SYMBOL or b.kind == SYMBOL:
        if a.is_set or b.is_set:
            return True
        return a.texts is None or b.texts is None or bool(a.texts & b.texts)
    if a.interval is not None and b.interval is not None and a.interval != b.interval:
        return False
    return _covered(a.elements, b.elements) and _covered(b.elements, a.elements)


def may_equal(gold: AnswerKeys, pred: AnswerKeys) -> bool:
    """False only where ``verify(gold, pred)`` is surely False (see the module docstring)."""
    if not (gold.known and pred.known) or gold.strings & pred.strings:
        return True
    return any(_key_may_equal(a, b) for a in gold.keys for b in pred.keys)
