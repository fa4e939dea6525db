"""Embeddings factory, the int8 ONNX backend against fp32, and the cache wrapper."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from loaders.embedding_cache import CachedEmbeddings, InProcessCache
from loaders.embeddings import (
    EMBEDDING_PROVIDERS,
    MODEL_CATALOG,
    NormalizedEmbeddings,
    embedding_dimension,
    list_models,
    make_embeddings,
    max_input_tokens,
    model_name,
)
from loaders.errors import InvalidInput
from loaders.onnx_embeddings import QuantizedEmbeddings, ensure_quantized
from loaders.settings import Settings

SPEC = "huggingface/all-MiniLM-L6-v2"
SENTENCES = [
    "How do I reset my password?",
    "I forgot my password and cannot log in.",
    "What is your refund policy for annual plans?",
    "Can I get my money back after cancelling?",
    "The mobile app crashes when I upload a photo.",
]


class Counting(Embeddings):
    """Deterministic tiny model that records what it was asked to embed."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [[float(len(t)), 1.0] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls.append([text])
        return [float(len(text)), 2.0]


# --- factory, catalog, helpers (no model loading) ------------------------------------------


def test_unknown_provider_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as err:
        make_embeddings("cohere/embed-v3", Settings())
    assert err.value.code == "UNKNOWN_EMBEDDING_PROVIDER"
    assert all(p in err.value.message for p in EMBEDDING_PROVIDERS)


@pytest.mark.parametrize(
    ("spec", "overrides", "code"),
    [
        (SPEC, {"embedding_backend": "gpu"}, "UNKNOWN_EMBEDDING_BACKEND"),
        ("huggingface/bge-large", {}, "EMBEDDING_MODEL_NOT_AVAILABLE"),
        ("huggingface/", {}, "INVALID_EMBEDDING_MODEL"),
        (SPEC, {"hf_model_path": Path("/nonexistent/model")}, "MODEL_DIR_NOT_FOUND"),
    ],
)
def test_factory_rejects_bad_specs_before_loading(
    spec: str, overrides: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        make_embeddings(spec, Settings(**overrides))
    assert err.value.code == code


def test_limits_and_catalog() -> None:
    assert max_input_tokens(SPEC) == 256
    assert max_input_tokens("azure_openai/my-deployment") == 8191
    assert max_input_tokens("bedrock/amazon.titan-embed-text-v2:0") == 8192
    keys = {"model_id", "provider", "type", "dimension", "max_sequence_length", "language"}
    assert all(
        keys <= set(m) and {"speed", "accuracy"} <= set(m["performance"]) for m in MODEL_CATALOG
    )


def test_list_models_marks_active_and_available() -> None:
    models = {m["spec"]: m for m in list_models(Settings(azure_openai_key=None))}
    assert models[SPEC]["active"] and models[SPEC]["available"]
    assert not models["azure_openai/text-embedding-ada-002"]["available"]
    azure = Settings(
        embedding_model="azure-openai/text-embedding-3-small",
        azure_openai_key="k",
        azure_openai_endpoint="http://127.0.0.1:1",
    )
    active = [m["spec"] for m in list_models(azure) if m["active"]]
    assert active == ["azure_openai/text-embedding-3-small"]


def test_normalized_wrapper_and_helpers() -> None:
    emb = NormalizedEmbeddings(Counting(), model_name="counting")
    assert np.linalg.norm(emb.embed_query("abc")) == pytest.approx(1.0)
    assert [np.linalg.norm(v) for v in emb.embed_documents(["a", "bbbb"])] == pytest.approx([1, 1])
    cached = CachedEmbeddings(emb, InProcessCache(), "x")
    assert model_name(cached) == "counting"
    assert embedding_dimension(cached) == 2  # unknown model: measured with one probe


# --- cache wrapper -----------------------------------------------------------------------------


def test_cached_embeddings_call_the_model_only_for_misses() -> None:
    model = Counting()
    emb = CachedEmbeddings(model, InProcessCache(), "m")
    first = emb.embed_documents(["a", "bb", "a"])
    second = emb.embed_documents(["bb", "ccc", "a"])
    assert model.calls == [["a", "bb"], ["ccc"]]  # duplicates and hits never reach the model
    assert second[0] == first[1] and second[2] == first[0]
    assert emb.embed_query("ccc") == second[1] and len(model.calls) == 2
    assert emb.embed_query("dddd") == [4.0, 2.0] and model.calls[-1] == ["dddd"]
    assert (
        CachedEmbeddings(model, emb.cache, "other").embed_documents(["a"]) and len(model.calls) == 4
    )


def test_in_process_cache_evicts_least_recently_used() -> None:
    cache = InProcessCache(max_items=2)
    cache.set_many("m", ["a", "b"], [[1.0], [2.0]])
    assert cache.get_many("m", ["a"]) == [[1.0]]  # touch "a": "b" is now the oldest
    cache.set_many("m", ["c"], [[3.0]])
    assert cache.get_many("m", ["a", "b", "c"]) == [[1.0], None, [3.0]]
    assert len(cache) == 2


# --- the local model: int8 ONNX vs fp32 (loaded once per module) -------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def fast(data_dir: Path) -> Embeddings:
    return make_embeddings(SPEC, Settings(data_dir=data_dir, embedding_backend="auto"))


@pytest.fixture(scope="module")
def fp32(data_dir: Path) -> Embeddings:
    return make_embeddings(SPEC, Settings(data_dir=data_dir, embedding_backend="torch"))


def cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    return (np.asarray(a) * np.asarray(b)).sum(axis=1)


@pytest.mark.slow
def test_auto_picks_int8_after_a_passing_quality_check(fast: Embeddings, data_dir: Path) -> None:
    assert isinstance(fast, QuantizedEmbeddings)
    [report] = list((data_dir / "models").glob("*/quality.json"))
    quality = json.loads(report.read_text())
    assert quality["passed"] and quality["mean_cosine"] >= 0.99
    assert quality["top1_agreement"] >= 0.95
    assert embedding_dimension(fast) == 384 and model_name(fast) == "all-MiniLM-L6-v2"


@pytest.mark.slow
def test_int8_agrees_with_fp32_and_ranks_related_first(fast: Embeddings, fp32: Embeddings) -> None:
    assert getattr(fp32, "backend", "") == "torch"
    a, b = fp32.embed_documents(SENTENCES), fast.embed_documents(SENTENCES)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert cosines(a, b).min() > 0.99
    q = np.asarray(fast.embed_query("I can't remember my password"))
    scores = np.asarray(b) @ q
    assert scores[:2].min() > scores[2:].max()
    assert fast.embed_query(SENTENCES[2]) == pytest.approx(b[2], abs=1e-5)


@pytest.mark.slow
def test_over_long_text_is_truncated_at_256_word_pieces(fast: Embeddings) -> None:
    long_text = " ".join(f"invoice{i % 50} refund" for i in range(3000))
    vec, longer = fast.embed_documents([long_text, long_text + " completely different tail"])
    assert len(vec) == 384 and vec == pytest.approx(longer, abs=1e-6)
    assert fast.embed_documents([]) == [] and len(fast.embed_query("")) == 384


@pytest.mark.slow
def test_int8_is_safe_for_concurrent_callers(fast: Embeddings) -> None:
    expected = fast.embed_documents(SENTENCES)
    results: list[Any] = [None] * 6
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = fast.embed_documents(SENTENCES[i % 5 :] + SENTENCES[: i % 5])
        except BaseException as exc:  # pragma: no cover - the failure we test for
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, got in enumerate(results):
        assert np.allclose(got, expected[i % 5 :] + expected[: i % 5], atol=1e-5)


@pytest.mark.slow
def test_int8_artifact_is_reused_and_failures_fall_back_to_fp32(
    fast: Embeddings,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from loaders import onnx_embeddings
    from loaders.tokens import default_model_dir

    def broken(*_: Any) -> Any:
        raise RuntimeError("export failed")

    graphs = {p: p.stat().st_mtime_ns for p in (data_dir / "models").rglob("*.onnx")}
    monkeypatch.setattr(onnx_embeddings, "_build", broken)  # any rebuild would now fail
    built = ensure_quantized(default_model_dir(), data_dir / "models")
    assert built.passed and built.path in graphs
    assert {p: p.stat().st_mtime_ns for p in graphs} == graphs
    copied = ensure_quantized(default_model_dir(), tmp_path / "other-data-dir")
    assert copied.path.read_bytes() == built.path.read_bytes() and copied.passed

    monkeypatch.setattr(onnx_embeddings, "ensure_quantized", broken)
    with caplog.at_level(logging.WARNING, logger="loaders.embeddings"):
        emb = make_embeddings(SPEC, Settings(data_dir=data_dir, embedding_backend="quantized"))
    assert getattr(emb, "backend", "") == "torch"
    assert "falling back to fp32" in caplog.text
