"""Chat-template prompts for sampling and for outcome reward models, with the default system prompt."""

from __future__ import annotations

from typing import Any

DEFAULT_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."


class PromptError(ValueError):
    """A tokenizer cannot render the prompt (no chat template, or a template that fails)."""


def sampling_messages(question: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The conversation sent to the generator: an optional system turn, then the question."""
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": question})
    return messages


def render_prompt(tokenizer: Any, question: str, system_prompt: str | None) -> str:
    """The generator's prompt text: the chat template applied with the assistant turn opened."""
    if not getattr(tokenizer, "chat_template", None):
        raise PromptError("the model's tokenizer has no chat template; use an instruct/chat model")
    try:
        return tokenizer.apply_chat_template(
            sampling_messages(question, system_prompt), tokenize=False, add_generation_prompt=True
        )
    except Exception as e:  # a template may raise on a role it does not support
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise PromptError(f"the model's chat template failed: {first}") from None


def orm_messages(question: str, solution: str) -> list[dict[str, str]]:
    """RLHFlow ORM conversation: one user turn ``question + " " + solution``, assistant ``+``."""
    return [
        {"role": "user", "content": question + " " + solution},
        {"role": "assistant", "content": "+"},
    ]


def classifier_messages(question: str, solution: str) -> list[dict[str, str]]:
    """Sequence-classification reward model conversation: the question, then the solution."""
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": solution},
    ]
