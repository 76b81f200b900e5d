"""Untrusted text made safe for a terminal: one rule for the CLI, the engine and the UI.

Text from a file, a database or a remote host may hold terminal escapes (CSI, OSC 0 window
titles, OSC 52 clipboard writes), bidi overrides and isolates that display text reversed,
zero-width characters that hide text, or lone surrogates that cannot even be encoded. Every
character of Unicode's categories Cc (controls, C0 and C1), Cf (format: bidi controls,
zero-width characters, U+FEFF, tag characters), Cs (surrogates), Zl and Zp (line and paragraph
separators) is shown as a visible escape (``\\x1b``, ``\\u202e``, ``\\U000e0041``). An escape
sequence becomes inert because its introducer (ESC, or the C1 CSI/OSC) is written out.
Newline and tab are kept in multi-line text. The class is spelled out (computing it from
``unicodedata`` takes a second); ``tests/test_terminal.py`` checks it against ``unicodedata``.
"""

from __future__ import annotations

import re

# Cc, Cf, Cs, Zl, Zp as of Unicode 14 (Python 3.11), plus the unassigned U+2065 inside the
# U+2060-206F block of invisible operators and deprecated format characters.
_CLASS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\xad"
    "\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
UNSAFE = re.compile(f"[{_CLASS}]")
UNSAFE_ONE_LINE = re.compile(f"[{_CLASS}\t\n]")
_NAMES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_char(ch: str) -> str:
    """One unsafe character written out: ``\\x1b``, ``\\r``, ``\\u202e``, ``\\U000e0041``."""
    if ch in _NAMES:
        return _NAMES[ch]
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def _text(value: object) -> str:
    """``value`` as a string ('' for None)."""
    return "" if value is None else str(value)


def visible(value: object) -> str:
    """Multi-line text safe for a terminal: newlines and tabs kept, every other unsafe
    character written out as an escape."""
    return UNSAFE.sub(lambda m: escape_char(m.group()), _text(value))


def one_line(value: object, limit: int | None = None) -> str:
    """Text safe for a terminal on one line: newlines and tabs written out too, cut to
    ``limit`` characters (with ``...``) when given."""
    s = UNSAFE_ONE_LINE.sub(lambda m: escape_char(m.group()), _text(value))
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 3, 0)] + "..."
    return s


def is_safe(value: object) -> bool:
    """Whether ``value`` holds no character that ``visible`` would write out."""
    return UNSAFE.search(_text(value)) is None


_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def markup_safe(value: object) -> str:
    """One-line safe text for a string that Rich parses as markup: every ``[tag]`` escaped as
    Rich's own ``rich.markup.escape`` does (the store imports no UI library)."""
    s = _TAG.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", one_line(value))
    if s.endswith("\\") and not s.endswith("\\\\"):
        s += "\\"
    return s
