"""Reward-model scoring: RLHFlow-style outcome reward models and sequence-classification models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from divtui.store import insert, transaction
from divtui.store import runs as gq

from .prompts import classifier_messages, orm_messages
from .specs import ScoreSpec

Progress = Callable[[int, int, str], None]


class ScorerError(ValueError):
    """A scorer that cannot be used as asked; str() is one line."""


@dataclass
class Scored:
    """Scores of a batch of rows, and (when asked) one final hidden state per row."""

    values: np.ndarray
    hidden: np.ndarray | None = None


@dataclass
class RewardModel:
    """A loaded reward model: its kind, name, and a function scoring (question, solution) pairs."""

    kind: str
    model: str
    score: Callable[[list[str], list[str], bool], Scored]
    info: dict[str, Any]


def parse_scorer(spec: str) -> tuple[str, str]:
    """Split ``orm:MODEL`` / ``classifier:MODEL`` into (kind, model); other kinds are refused."""
    kind, sep, model = spec.partition(":")
    if not sep or not model:
        raise ScorerError(
            f"scorer {spec!r}: expected KIND:MODEL, e.g. orm:RLHFlow/Llama3.1-8B-ORM-Mistral-Data"
        )
    if kind not in ("orm", "classifier"):
        raise ScorerError(f"scorer {spec!r}: unknown scorer kind {kind!r} (known: orm, classifier)")
    return kind, model


def _device_dtype(device: str | None, dtype: str | None) -> tuple[str, Any]:
    """Resolve device and torch dtype the same way the generation backend does."""
    from .backend_transformers import resolve_device, resolve_dtype

    dev = resolve_device(device)
    return dev, resolve_dtype(dtype, dev)


def plus_minus_ids(tokenizer: Any) -> tuple[int, int]:
    """Token ids of ``+`` and ``-`` as RLHFlow reads them (the last id of encoding each)."""
    plus = tokenizer.encode("+", add_special_tokens=False)
    minus = tokenizer.encode("-", add_special_tokens=False)
    if not plus or not minus:
        raise ScorerError("the ORM tokenizer cannot encode '+' and '-'")
    return int(plus[-1]), int(minus[-1])


def orm_input_ids(tokenizer: Any, question: str, solution: str, plus: int) -> tuple[list[int], int]:
    """Token ids of the ORM conversation and the index of the position that predicts ``+``.

    The assistant's ``+`` is the last ``+`` token of the sequence (only template tokens follow
    it), so the position predicting it is one before; found per row, never a fixed offset.
    """
    ids = tokenizer.apply_chat_template(orm_messages(question, solution), tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):
        ids = ids["input_ids"]
    ids = [int(i) for i in ids]
    where = [i for i, t in enumerate(ids) if t == plus]
    if not where or where[-1] == 0:
        raise ScorerError("the ORM chat template does not keep the assistant '+' as one token")
    return ids, where[-1] - 1


def right_pad(rows: list[list[int]], pad: int) -> tuple[Any, Any]:
    """Right-padded input ids and attention mask tensors (positions stay 0.. for every row)."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def load_orm(
    model_name: str, *, device: str | None = None, dtype: str | None = None
) -> RewardModel:
    """Load an RLHFlow-style ORM: P(+) over {+, -} at the position that predicts the ``+``."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev, torch_dtype = _device_dtype(device, dtype)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    if not getattr(tokenizer, "chat_template", None):
        raise ScorerError(f"orm:{model_name}: the tokenizer has no chat template")
    # transformers wraps PreTrainedModel.to in functools.wraps(nn.Module.to), whose type
    # takes the device for ``self``
    model = AutoModelForCausalLM.from_pretrained(model_name, dtype=torch_dtype).to(dev).eval()  # type: ignore[arg-type]
    plus, minus = plus_minus_ids(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    head = model.get_output_embeddings()

    def score(questions: list[str], solutions: list[str], hidden: bool) -> Scored:
        """P(+) per row of one right-padded batch, read at each row's own position."""
        built = [
            orm_input_ids(tokenizer, q, s, plus) for q, s in zip(questions, solutions, strict=True)
        ]
        ids, mask = right_pad([b[0] for b in built], pad)
        pos = torch.tensor([b[1] for b in built])
        with torch.inference_mode():
            out = model.base_model(input_ids=ids.to(dev), attention_mask=mask.to(dev))
            h = out.last_hidden_state[torch.arange(len(built)), pos.to(dev)]
            pair = head(h)[:, [plus, minus]].float()
        values = torch.softmax(pair, dim=-1)[:, 0].double().cpu().numpy()
        states = h.float().cpu().numpy() if hidden else None
        return Scored(values, states)

    info = {"device": dev, "dtype": str(torch_dtype), "transformers": transformers.__version__}
    return RewardModel("orm", model_name, score, info)


def load_classifier(
    model_name: str, *, device: str | None = None, dtype: str | None = None
) -> RewardModel:
    """Load a sequence-classification reward model: one logit, or P(label 1) for two labels."""
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    dev, torch_dtype = _device_dtype(device, dtype)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    model = AutoModelForSequenceClassification.from_pretrained(model_name, dtype=torch_dtype)
    model = model.to(dev).eval()
    if not hasattr(model, "score"):
        raise ScorerError(
            f"classifier:{model_name}: no `score` head (expected a decoder reward model such as "
            "LlamaForSequenceClassification)"
        )
    labels = int(model.config.num_labels)
    if labels not in (1, 2):
        raise ScorerError(f"classifier:{model_name}: {labels} labels; expected 1 or 2")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def encode(question: str, solution: str) -> list[int]:
        """Token ids of the question and solution, through the chat template when there is one."""
        if getattr(tokenizer, "chat_template", None):
            # token ids, or a BatchEncoding holding them: transformers types the result as the
            # union of every mode's (text, ids, batches), whatever the arguments
            ids: Any = tokenizer.apply_chat_template(classifier_messages(question, solution))
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):
                ids = ids["input_ids"]
            return [int(i) for i in ids]
        return tokenizer(question + "\n\n" + solution).input_ids

    def score(questions: list[str], solutions: list[str], hidden: bool) -> Scored:
        """The reward of each row of one right-padded batch, read at each row's last token."""
        rows_ids = [encode(q, s) for q, s in zip(questions, solutions, strict=True)]
        ids, mask = right_pad(rows_ids, pad)
        last = torch.tensor([len(r) - 1 for r in rows_ids])
        with torch.inference_mode():
            out = model.base_model(input_ids=ids.to(dev), attention_mask=mask.to(dev))
            h = out.last_hidden_state[torch.arange(len(rows_ids)), last.to(dev)]
            logits = model.score(h).float()
        values = logits[:, 0] if labels == 1 else torch.softmax(logits, dim=-1)[:, 1]
        states = h.float().cpu().numpy() if hidden else None
        return Scored(values.double().cpu().numpy(), states)

    info = {"device": dev, "dtype": str(torch_dtype), "transformers": transformers.__version__}
    return RewardModel("classifier", model_name, score, info)


def load_reward_model(
    spec: str, *, device: str | None = None, dtype: str | None = None
) -> RewardModel:
    """Load the reward model a scorer name designates."""
    kind, model = parse_scorer(spec)
    if kind == "orm":
        return load_orm(model, device=device, dtype=dtype)
    return load_classifier(model, device=device, dtype=dtype)


def score_db(
    con: Any,
    spec: ScoreSpec,
    *,
    reward_model: RewardModel | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score every sample ``spec.scorer`` has not scored; each batch commits on its own.

    With ``spec.store_hidden`` the final hidden state at the read position is stored as the
    embedder ``orm-hidden:<model>`` (for pruning in the reward model's own space).
    """
    scorer, run_id, batch_size = spec.scorer, spec.run_id, spec.batch_size
    store_hidden, device, dtype = spec.store_hidden, spec.device, spec.dtype
    todo = gq.unscored_samples(con, scorer, run_id=run_id)
    stats: dict[str, Any] = {
        "scorer": scorer,
        "scored": 0,
        "skipped_no_problem": gq.samples_without_problem(con),
    }
    if not todo:
        return stats
    rm = reward_model or load_reward_model(scorer, device=device, dtype=dtype)
    embedder = f"orm-hidden:{rm.model}"
    total = len(todo)
    if progress:
        progress(0, total, "samples")
    for start in range(0, total, batch_size):
        batch = todo[start : start + batch_size]
        result = rm.score([b[1] for b in batch], [b[2] for b in batch], store_hidden)
        ids = [b[0] for b in batch]
        with transaction(con):
            if result.hidden is not None:
                vecs = [v.astype(np.float32).tolist() for v in result.hidden]
                insert(
                    con,
                    "embeddings",
                    pd.DataFrame({"sample_id": ids, "embedder": embedder, "vec": vecs}),
                )
            insert(
                con,
                "scores",
                pd.DataFrame({"sample_id": ids, "scorer": scorer, "value": result.values}),
            )
        stats["scored"] += len(batch)
        if progress:
            progress(stats["scored"], total, "samples")
    return stats
