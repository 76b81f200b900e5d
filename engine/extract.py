"""Final-answer extraction from a sampled solution: boxed, "final answer is", then markers.

Model output is untrusted text, so every rule here runs in linear time (one pass for braces,
anchored or line-bounded regexes for the rest) and never evaluates anything.
"""

from __future__ import annotations

import collections
import re

_BOX_MARKER = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL_ANSWER = re.compile(r"final answer is[ \t:]*", re.IGNORECASE)
_HOPE = re.compile(r"\s*\.?\s*I hope it is correct\.?\s*$", re.IGNORECASE)
_HASHES = re.compile(r"####[ \t]*")
_A_LINE = re.compile(r"(?m)^[ \t]*A:[ \t]*([^\n]*)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DOLLAR = re.compile(r"(?<!\\)\$")
_SPACING = re.compile(r"\\[,;:! ]|\\(?:left|right)\b|\\displaystyle\b|\s+")


def last_boxed(text: str) -> str | None:
    """Content of the last-opened ``\\boxed{...}``/``\\fbox{...}`` whose braces close, or None.

    One pass: a stack of open braces, each flagged with the marker that opened it, if any.
    """
    starts = {m.end() - 1: m.end() for m in _BOX_MARKER.finditer(text)}
    if not starts:
        return None
    stack: list[int] = []
    best: tuple[int, int] | None = None
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            opened = stack.pop()
            if opened in starts and (best is None or opened > best[0]):
                best = (opened, i)
    if best is None:
        return None
    return text[best[0] + 1 : best[1]]


def _after_last(marker: re.Pattern[str], text: str) -> str | None:
    """The rest of the line after the last match of ``marker``, or None without a match."""
    last = collections.deque(marker.finditer(text), maxlen=1)
    if not last:
        return None
    return text[last[0].end() :].split("\n", 1)[0]


def _clean_final(raw: str) -> str:
    """Strip "I hope it is correct.", surrounding ``$`` signs, spaces and a final period."""
    s = _HOPE.sub("", raw).strip()
    s = s.strip("$ \t").rstrip(".").strip("$ \t")
    return s


def _clean_marker(raw: str) -> str:
    """A dataset marker's number: drop ``$`` signs, thousands commas and a final period."""
    s = raw.replace("$", "").strip().rstrip(".").strip()
    return _THOUSANDS.sub("", s)


def extract_answer(text: str | None) -> str | None:
    """The final answer of a solution by DESIGN.md's rules, or None when it gives none.

    Order: the last closed ``\\boxed{}`` (also ``\\boxed {`` and ``\\fbox{``); else the text after
    the last "The final answer is"; else the last ``#### X``; else the last line ``A: X``.
    """
    if not text:
        return None
    boxed = last_boxed(text)
    if boxed is not None:
        boxed = boxed.strip()
        return boxed or None
    for pattern, clean in ((_FINAL_ANSWER, _clean_final), (_HASHES, _clean_marker)):
        rest = _after_last(pattern, text)
        if rest is not None:
            return clean(rest) or None
    found = _A_LINE.findall(text)
    if found:
        return _clean_marker(found[-1]) or None
    return None


def normalize_answer(answer: str) -> str:
    """A key under which two answer strings are surely equal (spacing, ``$``, ``\\dfrac``, final .)."""
    s = answer.replace("$", "").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _SPACING.sub("", s)
    return s.rstrip(".")


def wrap_latex(s: str) -> str:
    """``s`` inside a LaTeX environment math-verify extracts from (``\\boxed{}``) unless it has one."""
    if _DOLLAR.search(s) or any(tok in s for tok in ("\\(", "\\[", "\\boxed", "\\fbox")):
        return s
    return "\\boxed{" + s + "}"
