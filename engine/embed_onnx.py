"""ONNX Runtime in place of torch for a SentenceTransformer's transformer, exported locally.

sentence-transformers' own ``backend="onnx"``/``"openvino"`` go through optimum, whose releases
pin transformers below the 5.x that sentence-transformers 6 needs, so they cannot be installed
beside it. This module does the same job with ``torch.onnx.export`` and onnxruntime alone: the
model's first module (the transformer) is exported once to ONNX (cached by a hash of its
weights), optionally quantized to int8 (onnxruntime's dynamic quantization, per channel), and run
by an ONNX Runtime session; tokenization, pooling and normalisation stay sentence-transformers'
own modules, so only the encoder's arithmetic changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

ONNX_BACKENDS = ("onnx", "onnx-int8")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_dir() -> Path:
    """Where exported models are kept: ``$DIVTUI_CACHE/onnx`` or ``~/.cache/divtui/onnx``."""
    root = os.environ.get("DIVTUI_CACHE") or Path.home() / ".cache" / "divtui"
    return Path(root) / "onnx"


def _fingerprint(encoder: Any) -> str:
    """A hash of the encoder's class, weights and the onnxruntime version (the cache key)."""
    import onnxruntime
    import torch

    h = hashlib.sha256(
        f"{type(encoder).__name__}|{torch.__version__}|{onnxruntime.__version__}".encode()
    )
    for name, tensor in sorted(encoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def _export(st_model: Any, path: Path) -> None:
    """Export the SentenceTransformer's transformer to ``path`` (atomically)."""
    import torch

    encoder = st_model[0].model
    sample = st_model.tokenizer(
        ["a short text", "a somewhat longer text here"], padding=True, return_tensors="pt"
    )
    names = [k for k in INPUTS if k in sample]

    class Encoder(torch.nn.Module):
        """The encoder called with keywords, returning its last hidden state."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, *args: Any) -> Any:
            return self.encoder(**dict(zip(names, args, strict=True))).last_hidden_state

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        out = Path(tmp) / path.name
        torch.onnx.export(
            Encoder().eval(),
            tuple(sample[k] for k in names),
            str(out),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={k: {0: "batch", 1: "tokens"} for k in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
        os.replace(out, path)


def _quantize(source: Path, path: Path) -> None:
    """int8 dynamic quantization (weights per channel) of ``source`` into ``path``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the model goes to the root logger
    try:
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            out = Path(tmp) / path.name
            quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8, per_channel=True)
            os.replace(out, path)
    finally:
        root.setLevel(level)


def onnx_file(st_model: Any, backend: str) -> Path:
    """The cached ONNX file of the model's transformer for ``backend``, exported if missing."""
    folder = cache_dir() / _fingerprint(st_model[0].model)
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        _export(st_model, fp32)
    if backend == "onnx":
        return fp32
    int8 = folder / "model-int8.onnx"
    if not int8.exists():
        _quantize(fp32, int8)
    return int8


def use_onnx(st_model: Any, backend: str) -> None:
    """Swap the SentenceTransformer's transformer for an ONNX Runtime session (in place)."""
    import onnxruntime as ort
    import torch

    if backend not in ONNX_BACKENDS:
        raise ValueError(f"backend {backend!r}: not one of {', '.join(ONNX_BACKENDS)}")
    path = onnx_file(st_model, backend)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    encoder = st_model[0].model

    class OrtEncoder(torch.nn.Module):
        """Stands in for the transformer: same inputs, ``last_hidden_state`` from ONNX Runtime."""

        def __init__(self) -> None:
            super().__init__()
            self.config = encoder.config
            self.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)

        def forward(self, **features: Any) -> dict[str, Any]:
            feed = {k: features[k].cpu().numpy() for k in names}
            (hidden,) = session.run(["last_hidden_state"], feed)
            return {"last_hidden_state": torch.from_numpy(hidden)}

    st_model[0].model = OrtEncoder()
