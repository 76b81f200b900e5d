"""Pairwise BLEU of a pool equals sacrebleu's own sentence_bleu for every pair."""

from __future__ import annotations

import numpy as np
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.metrics.bleu import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from divtui.engine.bleu import bleu_from_stats, tokenize_13a
from divtui.engine.bleu_pairs import pairwise_bleu

ALPHABET = "ab1 9.,-\n&;<>{}[]()$\\^_`|~!\"#%*+:=?@/'"
WORDS = ["a", "b", "the", "x", "=", "1", "2.5", "3,000", "-4", "(x+1)", "\\frac{1}{2}", "a.", ",b"]

texts = st.one_of(
    st.text(alphabet=ALPHABET, max_size=40),
    st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(["a", "a", "b"]), max_size=12).map(" ".join),
    st.sampled_from(["", " ", "a", "a a a a a a", "&amp; <skipped> x-\ny"]),
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET + "xyz0<skipped>&amp;&quot;", max_size=60))
def test_tokenizer_equals_sacrebleu_13a(text: str) -> None:
    assert tokenize_13a(text) == Tokenizer13a()(text.rstrip()).split()


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, min_size=1, max_size=9))
def test_pairwise_bleu_equals_sentence_bleu_for_every_pair(pool: list[str]) -> None:
    got = pairwise_bleu(pool)
    want = np.array([[sacrebleu.sentence_bleu(h, [r]).score for r in pool] for h in pool])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_pairwise_bleu_on_long_random_solutions() -> None:
    rng = np.random.default_rng(7)
    vocab = np.array([f"w{i}" for i in range(60)] + ["=", "+", "$x$", "the", "2.", "3,", "-1"])
    pool = [" ".join(rng.choice(vocab, size=rng.integers(0, 200))) for _ in range(12)]
    got = pairwise_bleu(pool)
    want = np.array([[sacrebleu.sentence_bleu(h, [r]).score for r in pool] for h in pool])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=4, max_size=4),
    st.integers(0, 45),
    st.integers(0, 45),
)
def test_vectorised_formula_equals_compute_bleu(
    extra: list[int], sys_len: int, ref_len: int
) -> None:
    total = [max(sys_len - n, 0) for n in range(4)]
    correct = [min(e, t) for e, t in zip(extra, total, strict=True)]
    want = BLEU.compute_bleu(
        list(correct), list(total), sys_len, ref_len, smooth_method="exp", effective_order=True
    ).score
    got = bleu_from_stats(np.array(correct), np.array(total), np.array(sys_len), np.array(ref_len))
    np.testing.assert_allclose(float(got), want, rtol=1e-12, atol=1e-12)
