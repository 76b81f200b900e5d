"""Word-level differences between two solutions, highlighted in Rich Text without markup."""

from __future__ import annotations

import difflib
import re

from rich.text import Text

from .safe_text import safe_text

_TOKENS = re.compile(r"\s+|\S+")


def diff_texts(a: str, b: str) -> tuple[Text, Text]:
    """Both texts with words only in ``a`` (red) and only in ``b`` (green) highlighted."""
    ta, tb = _TOKENS.findall(a or ""), _TOKENS.findall(b or "")
    left, right = Text(), Text()
    sm = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        sa, sb = "".join(ta[i1:i2]), "".join(tb[j1:j2])
        if op == "equal":
            left.append_text(safe_text(sa))
            right.append_text(safe_text(sb))
        else:
            left.append_text(safe_text(sa, style="bold white on dark_red"))
            right.append_text(safe_text(sb, style="bold white on dark_green"))
    return left, right
