"""store.terminal: one rule that makes untrusted text safe for a terminal, and the CLI using it.

The class of unsafe characters is checked against ``unicodedata`` itself; every command that
prints names from a file or a database is run on a study full of OSC 52, OSC 0, CSI, bidi and
zero-width payloads, and nothing raw may reach stdout or stderr.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from divtui.store import terminal
from tests.test_hostile_import import cli_run
from tests.test_import_bad_input import native

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
PAYLOADS = {
    "osc52": "\x1b]52;c;cHduZWQ=\x07",
    "osc0": "\x1b]0;owned title\x1b\\",
    "csi": "\x1b[2J\x1b[31mred",
    "c1_csi": "\x9b31m",
    "bidi": "abc\u202edcba\u202c",
    "isolates": "\u2066x\u2067y\u2068z\u2069",
    "zero_width": "a\u200bb\u200cc\u200dd\u200ee\u200ff\ufeffg\u2060h",
    "bell_backspace": "ok\x07\x08\x08\x08bad",
    "tag_chars": "hi\U000e0041\U000e0042",
    "lone_surrogate": "x\ud800y",
}


def _unsafe(ch: str) -> bool:
    """The independent rule: Unicode's own categories (tab and newline aside)."""
    return unicodedata.category(ch) in UNSAFE_CATEGORIES and ch not in "\t\n"


def test_the_class_is_exactly_unicodes_control_and_format_characters() -> None:
    want = {c for c in range(sys.maxunicode + 1) if _unsafe(chr(c))}
    have = {c for c in range(sys.maxunicode + 1) if terminal.UNSAFE.match(chr(c))}
    assert want <= have
    assert have - want == {0x2065}  # unassigned, inside the U+2060-206F block of invisibles


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_payloads_become_visible_escapes(name: str) -> None:
    text = PAYLOADS[name]
    for out in (terminal.visible(text), terminal.one_line(text), terminal.markup_safe(text)):
        assert not any(_unsafe(c) for c in out), (name, out)
        assert terminal.is_safe(out)
    assert terminal.visible(terminal.visible(text)) == terminal.visible(text)
    assert "\x1b" not in terminal.visible(PAYLOADS["osc52"])
    assert terminal.visible(PAYLOADS["osc52"]) == "\\x1b]52;c;cHduZWQ=\\x07"
    assert terminal.visible(PAYLOADS["bidi"]) == "abc\\u202edcba\\u202c"
    assert terminal.one_line("a\nb\tc") == "a\\nb\\tc" and terminal.visible("a\nb\tc") == "a\nb\tc"


@given(st.text())
def test_visible_on_any_text(s: str) -> None:
    out = terminal.visible(s)
    assert not any(_unsafe(c) for c in out)
    if not any(_unsafe(c) for c in s):
        assert out == s  # safe text is left exactly as it is
    escaped = {c for c in s if _unsafe(c)}
    for c in escaped:
        assert terminal.escape_char(c) in out


@given(st.text(alphabet="[]/\\ab=#@ "))
def test_markup_safe_is_richs_own_escape(s: str) -> None:
    from rich.markup import escape

    assert terminal.markup_safe(s) == escape(terminal.one_line(s))


def test_markup_is_neutralised_for_rich() -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(record=True, width=200, color_system=None)
    console.print(terminal.markup_safe("[bold red]x[/] \x1b[31m [link=http://e]y[/link]"))
    out = console.export_text()
    assert "[bold red]x[/]" in out and "[link=http://e]y[/link]" in out
    assert Text.from_markup(terminal.markup_safe("[b]z[/b]")).plain == "[b]z[/b]"


# ---------- the CLI on a hostile study ------------------------------------------------------

SCORER = "orm:" + PAYLOADS["osc52"] + "m"
EMBEDDER = "e" + PAYLOADS["osc0"] + PAYLOADS["bidi"] + "@256"
RUN = "r" + PAYLOADS["csi"] + PAYLOADS["zero_width"]


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graded, drawn study whose scorer, embedder, run, problem and answers are hostile."""
    d = tmp_path_factory.mktemp("hostile")
    rows = []
    for i in range(12):
        r = native(i)
        r["problem_id"] = f"p{i // 3}" + PAYLOADS["isolates"]
        r["scores"] = {SCORER: (i % 5) / 5}
        r["embeddings"] = {EMBEDDER: [1.0, (i % 4) / 4, (i % 3) / 3]}
        r["text"] = f"so \\boxed{{{i % 2}{PAYLOADS['osc52']}}}"
        rows.append(r)
    path = d / "h.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = d / "h.duckdb"
    rc, out, err = cli_run("import", str(path), "--format", "jsonl", "--db", str(db), "--run", RUN)
    assert rc == 0, err
    assert terminal.is_safe(out) and terminal.is_safe(err)
    rc, out, err = cli_run("draw", "--db", str(db), "--sizes", "2", "--reps", "2", "--seed", "0")
    assert rc == 0, err
    assert terminal.is_safe(out) and terminal.is_safe(err)
    return db


@pytest.mark.parametrize(
    "args",
    [
        ["info"],
        ["info", "--json"],
        ["report"],
        ["report", "--format", "csv"],
        ["report", "--format", "csv", "--table", "scorers"],
        ["report", "--format", "json", "--table", "accuracy_by_k"],
        ["report", "--scorer", "nope" + PAYLOADS["osc52"]],
        ["report", "--run", "nope" + PAYLOADS["bidi"]],
        ["draw", "--sizes", "2", "--reps", "1", "--seed", "0", "--scorer", "x" + PAYLOADS["csi"]],
        ["export", "--format", "csv", "-o", "OUT"],
    ],
)
def test_nothing_raw_reaches_the_terminal(hostile_study: Path, args: list[str]) -> None:
    db = hostile_study
    args = [str(db.parent / "out.csv") if a == "OUT" else a for a in args]
    full = [*args, str(db)] if args[0] == "info" else [*args, "--db", str(db)]
    rc, out, err = cli_run(*full)
    assert "Traceback" not in err
    assert terminal.is_safe(out), out
    assert terminal.is_safe(err), err
    if rc != 0:
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    if args[:1] == ["info"] and "--json" not in args:
        assert terminal.one_line(SCORER) in out and terminal.one_line(EMBEDDER) in out
    if args[-1:] == ["scorers"]:
        assert terminal.visible(SCORER) in out  # the CSV cell, escaped for the terminal
    if args == ["info", "--json"]:  # JSON keeps every value exactly (as \\u escapes)
        assert json.loads(out)["scorers"][0]["scorer"] == SCORER
    if "json" in args and args[0] == "report":
        assert json.loads(out)["meta"]["runs"] == [RUN]
