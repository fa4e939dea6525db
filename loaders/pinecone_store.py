"""Pinecone vector store: finding or creating the index, metadata Pinecone accepts, id-only deletes.

Production talks to Pinecone through langchain-pinecone's ``PineconeVectorStore``. This module adds
what our data needs on top of it: metadata sanitised the way Pinecone requires, search filters in
our normal form (``loaders.filters``), scores that are plain cosine similarity (as on the local
store, so a relevance threshold means the same on both), and deletion by id only, because
serverless indexes cannot delete by metadata.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_pinecone import PineconeVectorStore
from pinecone import Pinecone, ServerlessSpec
from pinecone.exceptions import NotFoundException, PineconeApiException, PineconeException
from urllib3.exceptions import HTTPError

from loaders.errors import InvalidInput, ServiceUnavailable
from loaders.filters import FILTER_FIELDS, normalize_filter, to_pinecone
from loaders.settings import Settings

TEXT_KEY = "content"
METRIC = "cosine"
CREATE_TIMEOUT_S = 300
_FETCH_BATCH = 100  # ids travel in the query string; keep URLs short
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def sanitize_metadata(md: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata Pinecone accepts: strings, numbers, booleans and lists of strings.

    Pinecone answers 400 to nulls and nested objects, so ``None`` is dropped, mappings become
    JSON strings, list items become strings and dates become ISO strings. Returns a new dict.
    """
    out: dict[str, Any] = {}
    for key, value in md.items():
        clean = _clean_value(value)
        if clean is not None:
            out[str(key)] = clean
    return out


def _clean_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, list | tuple | set | frozenset):
        items = [_list_item(v) for v in value if v is not None]
        return sorted(items) if isinstance(value, set | frozenset) else items
    return str(value)


def _list_item(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple | bool | int | float):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def restore_metadata(md: Mapping[str, Any]) -> dict[str, Any]:
    """Pinecone returns every number as a float; whole numbers (chunk_index...) become ints."""
    return {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in md.items()}


def pinecone_filter(flt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Our normal-form filter (``{field: [values]}``) in Pinecone's language.

    A filter already in Pinecone's language (operators, ``$and``...) passes through unchanged.
    """
    if not flt:
        return None
    if all(k in FILTER_FIELDS and _is_str_or_strs(v) for k, v in flt.items()):
        return to_pinecone(normalize_filter(flt))
    return dict(flt)


def _is_str_or_strs(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _restored(found: list[tuple[Document, float]]) -> list[tuple[Document, float]]:
    for doc, _ in found:
        doc.metadata = restore_metadata(doc.metadata)
    return found


class SupportbotPineconeStore(PineconeVectorStore):
    """``PineconeVectorStore`` with sanitised metadata, normal-form filters and id-only deletes.

    Scores from ``similarity_search*_with_score`` are cosine similarity in [-1, 1].
    """

    @property
    def namespace(self) -> str:
        return self._namespace or ""

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> list[str]:
        clean = [sanitize_metadata(m) for m in metadatas] if metadatas is not None else None
        return super().add_texts(texts, clean, *args, **kwargs)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> list[str]:
        clean = [sanitize_metadata(m) for m in metadatas] if metadatas is not None else None
        return await super().aadd_texts(texts, clean, *args, **kwargs)

    def similarity_search_by_vector_with_score(
        self, embedding: list[float], *, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        kwargs["filter"] = pinecone_filter(kwargs.get("filter"))
        return _restored(super().similarity_search_by_vector_with_score(embedding, k=k, **kwargs))

    async def asimilarity_search_by_vector_with_score(
        self, embedding: list[float], *, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        kwargs["filter"] = pinecone_filter(kwargs.get("filter"))
        found = await super().asimilarity_search_by_vector_with_score(embedding, k=k, **kwargs)
        return _restored(found)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Stored chunks by id, in the order asked; missing ids are left out."""
        found: dict[str, Document] = {}
        for start in range(0, len(ids), _FETCH_BATCH):
            batch = list(ids[start : start + _FETCH_BATCH])
            response = self.index.fetch(ids=batch, namespace=self._namespace)
            for vid, vector in response.vectors.items():
                md = dict(vector.metadata or {})
                text = str(md.pop(self._text_key, ""))
                found[vid] = Document(id=vid, page_content=text, metadata=restore_metadata(md))
        return [found[i] for i in ids if i in found]

    def delete(
        self,
        ids: list[str] | None = None,
        delete_all: bool | None = None,
        namespace: str | None = None,
        filter: dict[Any, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Delete by ids (or a whole namespace); never by metadata filter."""
        _refuse_filter(filter)
        if ids is not None and not ids and not delete_all:
            return None
        try:
            super().delete(ids=ids, delete_all=delete_all, namespace=namespace, **kwargs)
        except NotFoundException:
            return None  # serverless answers 404 for a namespace with no vectors: nothing to do
        return None

    async def adelete(
        self,
        ids: list[str] | None = None,
        delete_all: bool | None = None,
        namespace: str | None = None,
        filter: dict[Any, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        _refuse_filter(filter)
        if ids is not None and not ids and not delete_all:
            return None
        try:
            await super().adelete(ids=ids, delete_all=delete_all, namespace=namespace, **kwargs)
        except NotFoundException:
            return None
        return None

    def count(self, namespace: str | None = None) -> int:
        """Vectors in the namespace, from ``describe_index_stats``.

        Serverless stats are eventually consistent: right after a write they can lag a little.
        """
        ns = self.namespace if namespace is None else namespace
        stats = self.index.describe_index_stats()
        summary = (stats.namespaces or {}).get(ns)
        return int(summary.vector_count) if summary is not None else 0


def _refuse_filter(flt: Mapping[str, Any] | None) -> None:
    if flt is not None:
        raise InvalidInput(
            "Pinecone serverless indexes cannot delete by metadata filter; delete by ids.",
            code="DELETE_BY_FILTER_UNSUPPORTED",
        )


def index_url(host: str) -> str:
    """The index host as a URL: plain http on loopback (Pinecone Local, emulators), else https."""
    host = host.strip().rstrip("/")
    if "://" in host:
        return host
    local = host.startswith(_LOOPBACK)
    return f"{'http' if local else 'https'}://{host}"


def make_pinecone_store(
    settings: Settings, embedding: Embeddings, *, dimension: int
) -> SupportbotPineconeStore:
    """The Pinecone store for ``settings``, refusing an index built for another model.

    With ``pinecone_host`` set we talk to that index host directly. Otherwise the control plane
    finds ``pinecone_index_name``, creating a serverless cosine index of ``dimension`` when it is
    missing. Raises ``ServiceUnavailable`` when Pinecone cannot be used.
    """
    if not settings.pinecone_api_key:
        raise ServiceUnavailable(
            "PINECONE_API_KEY is not set; set it or use VECTOR_STORE=local.",
            code="PINECONE_NOT_CONFIGURED",
        )
    name = settings.pinecone_index_name
    try:
        client = Pinecone(api_key=settings.pinecone_api_key)
        if settings.pinecone_host:
            index = client.Index(host=index_url(settings.pinecone_host))
            stats = index.describe_index_stats()
            _check_index(name, stats.dimension, getattr(stats, "metric", None), dimension)
        else:
            model = _find_or_create_index(client, settings, dimension)
            _check_index(name, model.dimension, model.metric, dimension)
            index = client.Index(host=model.host)
    except (PineconeException, HTTPError, OSError) as exc:
        raise ServiceUnavailable(
            f"Cannot use Pinecone index '{name}': {_reason(exc)}",
            code="PINECONE_UNAVAILABLE",
        ) from exc
    return SupportbotPineconeStore(
        index=index, embedding=embedding, text_key=TEXT_KEY, namespace=settings.pinecone_namespace
    )


def _find_or_create_index(client: Pinecone, settings: Settings, dimension: int) -> Any:
    name = settings.pinecone_index_name
    try:
        return client.describe_index(name)
    except NotFoundException:
        pass
    spec = ServerlessSpec(cloud=settings.pinecone_cloud, region=settings.pinecone_environment)
    try:
        return client.create_index(
            name=name, dimension=dimension, metric=METRIC, spec=spec, timeout=CREATE_TIMEOUT_S
        )
    except PineconeApiException as exc:
        if exc.status != 409:
            raise
        return client.describe_index(name)  # another process created it first


def _check_index(name: str, found_dim: Any, found_metric: Any, dimension: int) -> None:
    if found_dim is not None and int(found_dim) != dimension:
        raise ServiceUnavailable(
            f"Pinecone index '{name}' holds {found_dim}-dimensional vectors but the embedding "
            f"model makes {dimension}-dimensional ones. Vectors from two models must never share "
            "an index: set PINECONE_INDEX_NAME to another index, or re-create this one and "
            "re-ingest.",
            code="EMBEDDING_DIMENSION_MISMATCH",
            details={"index": name, "index_dimension": found_dim, "embedding_dimension": dimension},
        )
    if found_metric and str(found_metric) != METRIC:
        raise ServiceUnavailable(
            f"Pinecone index '{name}' uses the {found_metric} metric; we need {METRIC} so that "
            "relevance scores mean the same as on the local store.",
            code="PINECONE_METRIC_MISMATCH",
            details={"index": name, "metric": str(found_metric)},
        )


def _reason(exc: BaseException) -> str:
    """A short reason: SDK errors carry whole HTTP responses (headers too) in their text."""
    if isinstance(exc, PineconeApiException):
        body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else exc.body
        return f"HTTP {exc.status} {exc.reason or ''}: {str(body or '')[:300]}"
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
