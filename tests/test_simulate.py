"""The simulated study: determinism, exact golds, and the trends the demo relies on."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divtui.engine import simulate as sim
from divtui.engine.extract import extract_answer

FORMULAS = {
    "rate": lambda p: p["r"] * p["h"] * p["d"],
    "purchase": lambda p: p["bill"] - (p["a"] * p["p"] + p["b"] * p["c"]),
    "ages": lambda p: p["z"] - p["y"] - p["x"],
    "fraction": lambda p: p["n"] - p["n"] * p["a"] / p["b"] + p["m"],
    "conversion": lambda p: p["m"] * 100 / p["c"],
    "speed": lambda p: p["v"] * p["t"] + p["w"] * p["s"],
    "discount": lambda p: p["p"] - p["p"] * p["d"] / 100,
    "sharing": lambda p: p["c"] * p["k"] / p["n"],
    "savings": lambda p: p["a"] * p["w"] - p["s"],
}


@pytest.fixture(scope="module")
def study() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The full default study (40 problems x 4 temperatures x 32 samples)."""
    return sim.simulate_study()


def pairwise_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUC by the plain pairwise loop: P(score of a positive > score of a negative), ties half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = 0.0
    for a in pos:
        for b in neg:
            wins += 1.0 if a > b else (0.5 if a == b else 0.0)
    return wins / (len(pos) * len(neg))


def distinct_n_loop(texts: list[str], n: int = 3) -> float:
    """Distinct whitespace n-grams over all n-grams, counted with a plain loop."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        words = text.split()
        for i in range(len(words) - n + 1):
            seen.add(tuple(words[i : i + n]))
            total += 1
    return len(seen) / total


def test_shape_and_ids(study: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    problems, samples = study
    assert len(problems) == 40 and problems.problem_id.is_unique
    assert len(samples) == 40 * 4 * 32
    assert set(samples.temperature) == set(sim.TEMPERATURES)
    keys = samples[["problem_id", "temperature", "idx"]]
    assert not keys.duplicated().any()
    assert set(problems.subject) == set(sim.TEMPLATES)


def test_deterministic_for_a_seed_and_different_across_seeds(
    study: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    problems, samples = sim.simulate_study()
    pd.testing.assert_frame_equal(problems, study[0])
    pd.testing.assert_frame_equal(samples, study[1])
    other = sim.simulate_study(n_problems=5, n_samples=8, seed=1)[1]
    mine = sim.simulate_study(n_problems=5, n_samples=8, seed=0)[1]
    assert (other.text != mine.text).mean() > 0.5


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 30))
def test_gold_equals_an_independent_formula(seed: int, n: int) -> None:
    for p in sim.make_problems(n, seed):
        params = {k: Fraction(v) for k, v in p.params.items()}
        assert p.gold == FORMULAS[p.template](params)
        assert p.gold > 0 and p.gold.denominator == 1
        for name in p.visible:
            assert sim.fmt(params[name]) in p.question


@settings(max_examples=200, deadline=None)
@given(num=st.integers(-(10**6), 10**6), den=st.integers(1, 10**4))
def test_fmt_round_trips(num: int, den: int) -> None:
    x = Fraction(num, den)
    s = sim.fmt(x)
    if s.lstrip("-").startswith("\\frac"):
        inner = s.lstrip("-")[len("\\frac{") : -1].split("}{")
        back = Fraction(int(inner[0]), int(inner[1])) * (-1 if s.startswith("-") else 1)
    else:
        back = Fraction(s)
    assert back == x


@pytest.mark.parametrize("seed", range(4))
def test_choose_draws_tempered_and_reports_untempered_logprob(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = np.sort(rng.normal(0, 1.5, size=int(rng.integers(2, 6))))[::-1]
    options = tuple((f"o{i}", float(v)) for i, v in enumerate(logits))
    t = float(rng.choice([0.3, 0.7, 1.0]))
    draws = [sim.choose(rng, options, t) for _ in range(6000)]
    freq = np.array([sum(d[0] == f"o{i}" for d in draws) for i in range(len(options))]) / 6000
    tempered = np.exp(logits / t) / np.exp(logits / t).sum()
    np.testing.assert_allclose(freq, tempered, atol=0.025)
    raw = logits - np.log(np.exp(logits).sum())
    for name, lp in draws[:50]:
        assert lp == pytest.approx(raw[int(name[1:])])


def test_simulated_correctness_matches_math_verify(
    study: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    from math_verify import parse, verify

    problems, samples = study
    gold = dict(zip(problems.problem_id, problems.gold_answer, strict=True))
    rows = samples.groupby("correct", group_keys=False).sample(200, random_state=0)
    rows = pd.concat([rows, samples[samples.answer.isna()]])
    for r in rows.itertuples():
        answer = extract_answer(r.text)
        assert answer == (None if pd.isna(r.answer) else r.answer)
        if answer is None:
            assert not r.correct
            continue
        g = parse("$" + gold[r.problem_id] + "$", parsing_timeout=None)
        a = parse("$" + answer + "$", parsing_timeout=None)
        assert verify(g, a, timeout_seconds=None) == r.correct, (r.text, gold[r.problem_id])


def test_accuracy_falls_with_temperature(study: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    acc = study[1].groupby("temperature").correct.mean()
    assert list(acc.index) == sorted(sim.TEMPERATURES)
    assert np.all(np.diff(acc.to_numpy()) < 0), acc
    assert 0.6 < acc.iloc[0] < 0.9 and 0.35 < acc.iloc[-1] < 0.65
    for seed in (1, 2):
        s = sim.simulate_study(n_problems=18, seed=seed, temperatures=(0.3, 1.0))[1]
        a = s.groupby("temperature").correct.mean()
        assert a[0.3] > a[1.0]


def test_logprob_tracks_correctness_and_temperature(
    study: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    s = study[1]
    by_t = s.groupby("temperature").mean_logprob.mean().to_numpy()
    assert np.all(np.diff(by_t) < 0)
    assert s[s.correct].mean_logprob.mean() > s[~s.correct].mean_logprob.mean()
    assert np.allclose(s.mean_logprob * s.n_tokens, s.sum_logprob)
    assert (s.mean_logprob < 0).all()
    assert 0.1 < np.corrcoef(s.mean_logprob, s.correct)[0, 1] < 0.7


def test_reward_auc_is_plausible(study: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    s = study[1].sample(1500, random_state=1)
    auc = pairwise_auc(s.reward.to_numpy(), s.correct.to_numpy())
    assert 0.7 < auc < 0.9
    assert study[1].reward.between(0, 1).all()


def test_lexical_diversity_rises_with_temperature(
    study: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    s = study[1]
    per_t = []
    for t in sorted(sim.TEMPERATURES):
        pools = s[s.temperature == t].groupby("problem_id").text
        per_t.append(np.mean([distinct_n_loop(list(texts)) for _, texts in pools]))
    assert np.all(np.diff(per_t) > 0), per_t


def test_missing_answers_and_truncation_only_at_high_temperature(
    study: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    s = study[1]
    none_rate = s.answer.isna().groupby(s.temperature).mean()
    assert none_rate[1.0] > none_rate[0.3] and none_rate[1.0] < 0.1
    assert set(s.finish_reason) <= {"stop", "length"}
    assert s[s.finish_reason == "length"].answer.isna().all()
    assert (s.text.str.contains("The final answer is")).any()
    meta = json.loads(study[0].meta.iloc[0])
    assert {"difficulty", "typical_mistake", "steps", "params"} <= set(meta)
