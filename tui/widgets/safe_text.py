"""Model output as inert Rich Text: markup and escape sequences are shown, never interpreted.

The rule of what is unsafe is the store's (``divtui.store.terminal``), shared with the CLI:
controls, escape introducers, bidi overrides and isolates, zero-width characters and the rest
of Unicode's format characters appear as dimmed visible escapes such as ``\\x1b`` or ``\\u202e``.
"""

from __future__ import annotations

from rich.text import Text

from divtui.store.terminal import UNSAFE, escape_char
from divtui.store.terminal import one_line as _one_line


def visible(ch: str) -> str:
    """An unsafe character written out as its escape, e.g. ESC as ``\\x1b``."""
    return escape_char(ch)


def safe_text(value: object, style: str = "") -> Text:
    """``value`` as Text with every unsafe character (except newline and tab) made visible.

    Text(...) never parses Rich markup, so ``[bold]`` stays literal; escapes are drawn dimmed.
    """
    s = "" if value is None else str(value)
    text = Text(style=style, no_wrap=False)
    pos = 0
    for m in UNSAFE.finditer(s):
        text.append(s[pos : m.start()])
        text.append(escape_char(m.group()), style="dim reverse")
        pos = m.end()
    text.append(s[pos:])
    text.expand_tabs(4)
    return text


def one_line(value: object, width: int = 60) -> Text:
    """A single-line preview (newlines shown as spaces) cut to ``width`` characters."""
    s = "" if value is None else " ".join(str(value).split())
    if len(s) > width:
        s = s[: width - 1] + "…"
    return safe_text(s)


def plain_cell(value: object, width: int | None = None) -> str:
    """A table cell as a plain string: one line, unsafe characters written out, cut to width."""
    s = _one_line(" ".join(("" if value is None else str(value)).split()))
    if width is not None and len(s) > width:
        s = s[: width - 1] + "…"
    return s
