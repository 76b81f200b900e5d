"""Agreement of divtui's extraction and grading with the labels of two public sample files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from divtui.engine.extract import extract_answer
from divtui.engine.grading import CORRECT, verifier

pytestmark = pytest.mark.shared_data

GSM8K_SYSTEMS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def _records(path: Path) -> list[dict]:
    """The file's JSON lines."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _agreement(golds: list[str], texts: list[str], labels: list[bool]) -> tuple[float, list]:
    """Share of samples where divtui's grade equals the file's label, and the disagreements."""
    answers = [extract_answer(t) for t in texts]
    with verifier(workers=2, timeout=5.0) as v:
        statuses = v.grade(golds, answers)
    ours = [s == CORRECT for s in statuses]
    diffs = [
        (i, golds[i], answers[i], labels[i]) for i in range(len(ours)) if ours[i] != bool(labels[i])
    ]
    return 1 - len(diffs) / len(ours), diffs


def test_qwen25_math_cot_agrees_with_its_score_labels(shared_data: Path) -> None:
    golds, texts, labels = [], [], []
    for r in _records(shared_data / "qwen25math_math_cot_100.jsonl"):
        for text, label in zip(r["code"], r["score"], strict=True):
            golds.append(r["gt"])
            texts.append(text)
            labels.append(label)
    assert len(texts) == 800
    share, diffs = _agreement(golds, texts, labels)
    assert share >= 0.995, diffs


def test_gsm8k_example_solutions_agree_with_is_correct(shared_data: Path) -> None:
    golds, texts, labels = [], [], []
    for r in _records(shared_data / "gsm8k_example_model_solutions.jsonl"):
        gold = r["ground_truth"].rsplit("A:", 1)[1].strip()
        for system in GSM8K_SYSTEMS:
            golds.append(gold)
            texts.append(r[system]["solution"])
            labels.append(r[system]["is_correct"])
    assert len(texts) == 1319 * 4
    share, diffs = _agreement(golds, texts, labels)
    assert share >= 0.995, diffs[:20]


def test_qwen25_math_classes_follow_the_files_own_answers(shared_data: Path) -> None:
    """Samples whose extracted `pred` strings are identical land in one class."""
    pools, preds = [], []
    for r in _records(shared_data / "qwen25math_math_cot_100.jsonl"):
        pools.append([extract_answer(t) for t in r["code"]])
        preds.append(r["pred"])
    with verifier(workers=2, timeout=5.0) as v:
        classes = v.classes(pools)
    pairs = same = 0
    for cls, pred in zip(classes, preds, strict=True):
        for i in range(len(pred)):
            for j in range(i):
                if pred[i] == pred[j] and pred[i]:
                    pairs += 1
                    same += cls[i] is not None and cls[i] == cls[j]
    assert pairs > 2000
    assert same / pairs >= 0.995
