"""Tiny Llama-architecture models built for real in tests: a BPE tokenizer trained here, saved to disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
SPECIALS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|pad|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
]
CORPUS = [
    "What is 2 + 3? We add: 2 + 3 = 5. The final answer is \\boxed{5}.",
    "Compute 12 - 7. Subtract step by step: 12 - 7 = 5, so \\boxed{5}.",
    "Find x if 3x + 4 = 19. Then 3x = 15 and x = 5. \\boxed{5}",
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "The area of a square of side 4 is 4 * 4 = 16. Answer: \\boxed{16}",
    "Natalia sold 48 clips in April and half as many in May: 48 + 24 = 72. #### 72",
    "If a train travels 60 miles per hour for 2 hours, it covers 120 miles.",
    "Let f(x) = x^2 - 1. Then f(3) = 9 - 1 = 8, and the answer is \\boxed{8}.",
]


def device_for_tests() -> str:
    """The device the model tests run on: $DIVTUI_TEST_DEVICE (default cpu)."""
    return os.environ.get("DIVTUI_TEST_DEVICE", "cpu")


def dtype_for_tests() -> str:
    """The dtype the model tests run in: $DIVTUI_TEST_DTYPE (default float32)."""
    return os.environ.get("DIVTUI_TEST_DTYPE", "float32")


def logprob_tolerance() -> float:
    """Per-token absolute tolerance for comparing log-probs: tight in float32, loose in 16-bit."""
    return 1e-4 if dtype_for_tests() == "float32" else 0.1


def train_tokenizer(folder: Path) -> Any:
    """Train a byte-level BPE tokenizer on a small math corpus; save it with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|pad|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return fast


def _config(tokenizer: Any, **extra: Any) -> Any:
    """A 2-layer, 32-wide Llama config over ``tokenizer``'s vocabulary."""
    from transformers import LlamaConfig

    sizes = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 1024,
    }
    sizes.update(extra)
    return LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        **sizes,
    )


def build_causal_lm(
    folder: Path, *, seed: int = 0, eos_logit: float | None = 3.0, **sizes: Any
) -> Path:
    """Save a tiny random LlamaForCausalLM (and its tokenizer) to ``folder``; returns the folder.

    ``eos_logit`` makes the end-of-turn token likely enough that some samples stop before the
    token limit: every embedding gets a large constant first coordinate, which survives the final
    RMSNorm (as about sqrt(hidden size)), and only the EOS row of the output layer reads it, so
    the EOS logit is about ``eos_logit`` at every step while the other logits stay random.
    """
    import torch
    from transformers import LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(folder)
    torch.manual_seed(seed)
    config = _config(tokenizer, **{"initializer_range": 0.2, **sizes})
    model = LlamaForCausalLM(config)
    if eos_logit is not None:
        with torch.no_grad():
            model.model.embed_tokens.weight[:, 0] = 20.0
            model.lm_head.weight[:, 0] = 0.0
            model.lm_head.weight[tokenizer.eos_token_id, 0] = eos_logit / config.hidden_size**0.5
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    return folder


VLLM_SIZES = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
}


def build_vllm_lm(folder: Path, *, seed: int = 0, eos_logit: float | None = 3.0) -> Path:
    """A tiny Llama that vLLM's GPU attention kernels accept (head_dim 64; 8 hangs FlashAttention 3).

    Weights at Llama's usual scale (std 0.02), so the layers leave the EOS bias of
    ``build_causal_lm`` intact at this width and some samples stop before the token limit.
    """
    return build_causal_lm(
        folder, seed=seed, eos_logit=eos_logit, initializer_range=0.02, **VLLM_SIZES
    )


def build_classifier(folder: Path, *, seed: int = 0, num_labels: int = 1) -> Path:
    """Save a tiny random LlamaForSequenceClassification (and its tokenizer) to ``folder``."""
    import torch
    from transformers import LlamaForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(folder)
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(
        _config(tokenizer, initializer_range=0.5, num_labels=num_labels)
    )
    model.save_pretrained(folder)
    return folder
