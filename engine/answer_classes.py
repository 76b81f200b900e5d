"""Answer classes for voting: within a pool, each answer joins the first matching class.

The equivalence is injected (math-verify in a process pool for real grading, anything cheap in
tests), so this module holds only the definition and its fast path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .extract import normalize_answer

Equivalent = Callable[[str, str], bool]
FirstEqual = Callable[[Sequence[tuple[str, str]]], int | None]


def answer_classes(
    answers: Sequence[str | None],
    equivalent: Equivalent,
    *,
    normalize: Callable[[str], str] = normalize_answer,
) -> list[int | None]:
    """Class number of each answer, in order; ``None`` for a missing answer.

    In order, an answer joins the first class whose representative (its first member) ``r``
    satisfies ``equivalent(r, answer)`` (the representative plays math-verify's gold side);
    otherwise it opens the next class, so classes are numbered 0, 1, 2, ... by first appearance.
    Fast path: an answer whose ``normalize`` key was seen before joins that answer's class
    without calling ``equivalent`` (valid when ``equivalent`` only sees normalised answers).
    """

    def first_equal(pairs: Sequence[tuple[str, str]]) -> int | None:
        """The first pair ``equivalent`` calls equal, comparing in order and stopping there."""
        return next((i for i, (rep, a) in enumerate(pairs) if equivalent(rep, a)), None)

    return answer_classes_pruned(answers, first_equal, _always, normalize=normalize)


def _always(rep: str, answer: str) -> bool:
    """Every representative is a candidate (the unpruned definition)."""
    return True


def answer_classes_pruned(
    answers: Sequence[str | None],
    first_equal: FirstEqual,
    plausible: Equivalent,
    *,
    normalize: Callable[[str], str] = normalize_answer,
) -> list[int | None]:
    """:func:`answer_classes` comparing only the representatives ``plausible`` allows.

    ``first_equal(pairs)`` gives the index of the first ``(representative, answer)`` pair that
    is equal (it may compare them all at once), or None. The classes are those of
    :func:`answer_classes` with ``equivalent`` whenever ``plausible(r, a)`` is False only where
    ``equivalent(r, a)`` is: the first equal representative is then among the plausible ones,
    in the same order.
    """
    reps: list[str] = []
    by_key: dict[str, int] = {}
    out: list[int | None] = []
    for answer in answers:
        if answer is None:
            out.append(None)
            continue
        key = normalize(answer)
        cls = by_key.get(key)
        if cls is None:
            candidates = [c for c, rep in enumerate(reps) if plausible(rep, answer)]
            hit = first_equal([(reps[c], answer) for c in candidates]) if candidates else None
            cls = len(reps) if hit is None else candidates[hit]
            if cls == len(reps):
                reps.append(answer)
            by_key[key] = cls
        out.append(cls)
    return out
