"""Answer extraction: brace matching against a brute-force reference, and the fallback rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine.extract import extract_answer, last_boxed, normalize_answer, wrap_latex

TOKENS = ["{", "}", "a", "7", " ", "\n", "\\", "\\boxed", "\\fbox", "\\boxed ", "x{y}", "$"]


def _balanced(s: str) -> bool:
    """Every prefix opens at least as many braces as it closes, and the whole closes all."""
    depth = 0
    for ch in s:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _reference_last_boxed(text: str) -> str | None:
    """Brute force over every marker and every end: the latest-opened box that closes."""
    best: tuple[int, str] | None = None
    for i in range(len(text)):
        for marker in ("\\boxed", "\\fbox"):
            if text[i : i + len(marker)] != marker:
                continue
            j = i + len(marker)
            while j < len(text) and text[j] in " \n":
                j += 1
            if j >= len(text) or text[j] != "{":
                continue
            for end in range(j + 1, len(text)):
                if text[end] == "}" and _balanced(text[j + 1 : end]):
                    if best is None or j > best[0]:
                        best = (j, text[j + 1 : end])
                    break
    return None if best is None else best[1]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_last_boxed_matches_brute_force(text: str) -> None:
    assert last_boxed(text) == _reference_last_boxed(text)


def _balanced_text() -> st.SearchStrategy[str]:
    """Random text whose braces are balanced, with no box marker inside."""
    leaf = st.sampled_from(["a", "7", " ", "\\frac", "^", "x", ","])
    return st.recursive(
        st.lists(leaf, max_size=4).map("".join),
        lambda inner: st.lists(inner.map(lambda s: "{" + s + "}") | inner, max_size=4).map("".join),
        max_leaves=20,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab {}$.\n", max_size=20),
    _balanced_text(),
    st.text(alphabet="ab }$.\n", max_size=20),
    st.sampled_from(["\\boxed{", "\\boxed {", "\\fbox{"]),
)
def test_boxed_content_is_recovered(prefix: str, content: str, suffix: str, marker: str) -> None:
    text = prefix + marker + content + "}" + suffix
    assert last_boxed(text) == content
    assert extract_answer(text) == (content.strip() or None)


def test_last_boxed_wins_and_unclosed_box_falls_back() -> None:
    assert extract_answer("first \\boxed{1} then \\boxed{\\frac{2}{3}}.") == "\\frac{2}{3}"
    assert extract_answer("\\boxed{4} and a cut-off \\boxed{\\frac{1}{") == "4"
    assert extract_answer("nested \\boxed{\\boxed{5}}") == "5"
    assert extract_answer("set \\boxed{\\{1, 2\\}}") == "\\{1, 2\\}"


def test_final_answer_sentence() -> None:
    text = "Work.\nFinal Answer: The final answer is $\\frac{3}{4}$. I hope it is correct."
    assert extract_answer(text) == "\\frac{3}{4}"
    assert extract_answer("So the final answer is 12.") == "12"
    assert extract_answer("the final answer is 3. Then the final answer is $7$") == "7"
    assert extract_answer("The final answer is \\boxed{9}, I think") == "9"


def test_dataset_markers() -> None:
    assert extract_answer("a <<1+1=2>>2\n#### 1,234") == "1234"
    assert extract_answer("She has 13 eggs\nA: $26.") == "26"
    assert extract_answer("first line\nA: 3\nmore\nA: 1,000,000") == "1000000"
    assert extract_answer("#### 5\nA: 6") == "5"


def test_no_answer() -> None:
    for text in ("", None, "no answer here", "\\boxed{}", "\\boxed{  }", "The final answer is $"):
        assert extract_answer(text) is None


def test_untrusted_input_is_handled_in_one_pass() -> None:
    evil = "\\boxed{" * 50_000 + "x"
    assert last_boxed(evil) is None
    assert extract_answer(evil + "\nA: 3") == "3"


def test_normalize_answer_and_wrap() -> None:
    assert normalize_answer("$\\dfrac{1}{2}$") == normalize_answer("\\frac{1}{2}")
    assert normalize_answer("\\left( 1,\\, 2 \\right).") == "(1,2)"
    assert normalize_answer("12") != normalize_answer("21")
    assert wrap_latex("\\frac12") == "\\boxed{\\frac12}"
    assert wrap_latex("$x$") == "$x$"
    assert wrap_latex("\\$18") == "\\boxed{\\$18}"
