"""Sampling with Hugging Face transformers ``generate``: n samples per prompt with raw token log-probs."""

from __future__ import annotations

from typing import Any

from divtui.store import stable_id

from .generate import Backend, Completion


def resolve_device(device: str | None) -> str:
    """``cuda`` when a GPU is present and no device was named, else ``cpu`` (or the named one)."""
    import torch

    if device and device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str | None, device: str) -> Any:
    """The torch dtype named by ``dtype``; ``auto`` is bfloat16 on CUDA and float32 on CPU."""
    import torch

    if not dtype or dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        value = getattr(torch, dtype)
    except AttributeError:
        raise ValueError(f"unknown dtype {dtype!r} (use float32, bfloat16 or float16)") from None
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r} (use float32, bfloat16 or float16)")
    return value


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Token ids that end a sample: the model's generation config, else the tokenizer's eos."""
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the model defines no end-of-sequence token")
    return [int(e) for e in (eos if isinstance(eos, list | tuple) else [eos])]


def load(
    model_name: str, *, device: str | None = None, dtype: str | None = None, batch_size: int = 64
) -> Backend:
    """Load ``model_name`` (hub id or folder) once; return a Backend that samples with it."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    # transformers wraps PreTrainedModel.to in functools.wraps(nn.Module.to), whose type
    # takes the device for ``self``
    model = AutoModelForCausalLM.from_pretrained(model_name, dtype=torch_dtype).to(dev).eval()  # type: ignore[arg-type]
    eos = eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]

    def sample(
        prompts: list[str], seeds: list[int], temperature: float, n: int, max_tokens: int
    ) -> list[list[Completion]]:
        """n completions of each prompt, each prompt seeded by its own seed."""
        return [
            sample_prompt(model, tokenizer, p, s, temperature, n, max_tokens, eos, pad, batch_size)
            for p, s in zip(prompts, seeds, strict=True)
        ]

    info = {
        "device": dev,
        "dtype": str(torch_dtype).removeprefix("torch."),
        "batch_size": batch_size,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "eos_token_ids": eos,
    }
    return Backend("transformers", tokenizer, sample, info)


def chunk_seed(seed: int, chunk: int) -> int:
    """The torch seed of the ``chunk``-th generate call of one pool (non-negative, 63-bit)."""
    return stable_id("chunk", int(seed), int(chunk)) & 0x7FFF_FFFF_FFFF_FFFF


def sample_prompt(
    model: Any,
    tokenizer: Any,
    prompt: str,
    seed: int,
    temperature: float,
    n: int,
    max_tokens: int,
    eos: list[int],
    pad: int,
    batch_size: int,
) -> list[Completion]:
    """n completions of one prompt, generated ``batch_size`` at a time under per-chunk seeds."""
    import torch
    from transformers import GenerationConfig

    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    ids = ids.to(model.device)
    greedy = temperature <= 0
    config = GenerationConfig(
        do_sample=not greedy,
        temperature=None if greedy else float(temperature),
        top_k=None if greedy else 0,
        top_p=None if greedy else 1.0,
        max_new_tokens=int(max_tokens),
        eos_token_id=eos,
        pad_token_id=pad,
        return_dict_in_generate=True,
        output_logits=True,
    )
    out: list[Completion] = []
    for chunk, start in enumerate(range(0, n, batch_size)):
        rows = min(batch_size, n - start)
        torch.manual_seed(chunk_seed(seed, chunk))
        with torch.inference_mode():
            result = model.generate(
                input_ids=ids.expand(rows, -1),
                attention_mask=torch.ones(rows, ids.shape[1], dtype=torch.long, device=ids.device),
                generation_config=config,
            )
        out += completions(result, ids.shape[1], tokenizer, eos)
    return out


def completions(result: Any, prompt_len: int, tokenizer: Any, eos: list[int]) -> list[Completion]:
    """Completions from a generate result: tokens up to and including EOS, raw-logit log-probs."""
    import torch

    generated = result.sequences[:, prompt_len:]
    steps = len(result.logits)
    chosen = torch.empty(generated.shape[0], steps, dtype=torch.float64)
    for t, logits in enumerate(result.logits):
        logp = torch.log_softmax(logits.float(), dim=-1)
        chosen[:, t] = logp.gather(1, generated[:, t : t + 1]).squeeze(1).double().cpu()
    gen = generated.cpu().tolist()
    is_eos = torch.isin(generated.cpu(), torch.tensor(eos))
    out = []
    for i, tokens in enumerate(gen):
        hits = torch.nonzero(is_eos[i]).flatten()
        stop = len(hits) > 0
        length = int(hits[0]) + 1 if stop else steps
        body = tokens[: length - 1] if stop else tokens[:length]
        out.append(
            Completion(
                text=tokenizer.decode(body, skip_special_tokens=True),
                token_ids=tokens[:length],
                token_logprobs=chosen[i, :length].tolist(),
                finish_reason="stop" if stop else "length",
            )
        )
    return out
