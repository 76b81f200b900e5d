"""Model output as inert Rich Text: markup and escape sequences are shown, never interpreted."""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NAMES = {"\x1b": "\\x1b", "\x07": "\\x07", "\x08": "\\x08", "\r": "\\r", "\x7f": "\\x7f"}


def visible(ch: str) -> str:
    """A control character written out as its escape, e.g. ESC as ``\\x1b``."""
    return _NAMES.get(ch, f"\\x{ord(ch):02x}")


def safe_text(value: object, style: str = "") -> Text:
    """``value`` as Text with every control character (except newline and tab) made visible.

    Text(...) never parses Rich markup, so ``[bold]`` stays literal; escapes are drawn dimmed.
    """
    s = "" if value is None else str(value)
    text = Text(style=style, no_wrap=False)
    pos = 0
    for m in _CONTROL.finditer(s):
        text.append(s[pos : m.start()])
        text.append(visible(m.group()), style="dim reverse")
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
    """A table cell as a plain string: one line, control characters written out, cut to width."""
    s = "" if value is None else " ".join(str(value).split())
    s = _CONTROL.sub(lambda m: visible(m.group()), s)
    if width is not None and len(s) > width:
        s = s[: width - 1] + "…"
    return s
