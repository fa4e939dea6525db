"""Idempotent indexing: LangChain's ``index()`` over a dense store plus the BM25 keyword index.

Re-ingesting an unchanged document is a no-op, an updated document replaces its old chunks and a
deleted one takes its vectors with it, because the record manager (in MongoDB) remembers which
chunk ids each document owns. Vectors are only ever deleted by id, never by metadata filter
(serverless Pinecone cannot).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.indexing import index
from langchain_core.vectorstores import VectorStore
from langchain_mongodb.indexes import MongoDBRecordManager
from pymongo import ASCENDING, UpdateOne
from pymongo.collection import Collection

from loaders.keyword_index import KeywordIndex

RECORD_COLLECTION = "kb_record_manager"
CHUNK_NAMESPACE = uuid.UUID("1b0c6a52-4a7e-4d6e-8f0b-0e5c2f9d7a31")


class RecordManager(MongoDBRecordManager):
    """``MongoDBRecordManager`` that works on any MongoDB-compatible server and in bulk.

    The upstream ``get_time`` reads ``hostInfo.system.currentTime``, which nx-27017 lacks
    (KeyError, not OperationFailure), so we fall back to this host's clock. ``update`` is one
    bulk write instead of a round trip (plus a clock read) per key.
    """

    def __init__(self, collection: Collection[Any]) -> None:
        super().__init__(collection)

    def create_schema(self) -> None:
        self._collection.create_index([("namespace", ASCENDING), ("key", ASCENDING)], unique=True)
        self._collection.create_index([("namespace", ASCENDING), ("group_id", ASCENDING)])

    def get_time(self) -> float:
        try:
            return super().get_time()
        except (KeyError, TypeError, AttributeError):
            return time.time()

    def update(
        self,
        keys: Sequence[str],
        *,
        group_ids: Sequence[str | None] | None = None,
        time_at_least: float | None = None,
    ) -> None:
        if group_ids is None:
            group_ids = [None] * len(keys)
        if len(keys) != len(group_ids):
            raise ValueError("Number of keys does not match number of group_ids")
        if not keys:
            return
        now = max(self.get_time(), time_at_least or 0.0)
        ops = []
        for key, group_id in zip(keys, group_ids, strict=True):
            fields: dict[str, Any] = {"updated_at": now}
            if group_id is not None:
                fields["group_id"] = group_id
            ops.append(
                UpdateOne({"namespace": self.namespace, "key": key}, {"$set": fields}, upsert=True)
            )
        self._collection.bulk_write(ops, ordered=False)

    def keys_for(self, document_id: str) -> list[str]:
        """Chunk ids currently owned by one document."""
        return self.list_keys(group_ids=[document_id])


class KnowledgeStore(VectorStore):
    """A dense vector store and the BM25 keyword index written and deleted together.

    ``index()`` sees one store, so both indexes always hold the same chunk ids.
    """

    def __init__(
        self,
        dense: VectorStore,
        keyword: KeywordIndex,
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.dense = dense
        self.keyword = keyword
        self.on_batch = on_batch

    @property
    def embeddings(self) -> Embeddings | None:
        return self.dense.embeddings

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        ids = kwargs.get("ids") or [d.id for d in documents]
        if any(i is None for i in ids):
            raise ValueError("KnowledgeStore needs an id for every chunk")
        docs = [
            Document(id=i, page_content=d.page_content, metadata=d.metadata)
            for i, d in zip(ids, documents, strict=True)
        ]
        self.dense.add_documents(docs, ids=list(ids))
        self.keyword.add(list(ids), [d.page_content for d in docs], [d.metadata for d in docs])
        if self.on_batch:
            self.on_batch(len(docs))
        return list(ids)

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        metadatas = metadatas or [{} for _ in texts]
        docs = [Document(page_content=t, metadata=m) for t, m in zip(texts, metadatas, strict=True)]
        return self.add_documents(docs, ids=ids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        if not ids:
            return True
        self.dense.delete(ids=list(ids))
        self.keyword.delete(list(ids))
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return self.keyword.get(list(ids))

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return self.dense.similarity_search(query, k=k, **kwargs)

    @classmethod
    def from_texts(cls, *args: Any, **kwargs: Any) -> KnowledgeStore:
        raise NotImplementedError("Build a KnowledgeStore from a dense store and a KeywordIndex.")


def chunk_id(chunk: Document) -> str:
    """A UUID derived from a chunk's text and metadata: the same chunk always gets the same id."""
    payload = json.dumps(
        {"content": chunk.page_content, "metadata": chunk.metadata}, sort_keys=True, default=str
    )
    return str(uuid.uuid5(CHUNK_NAMESPACE, hashlib.sha256(payload.encode()).hexdigest()))


def assign_ids(chunks: list[Document]) -> list[Document]:
    """Give every chunk its content-derived id (the vector id, chunk_id and record key)."""
    for chunk in chunks:
        chunk.id = chunk_id(chunk)
    return chunks


def index_chunks(
    chunks: list[Document],
    store: KnowledgeStore,
    record_manager: RecordManager,
    *,
    batch_size: int = 64,
) -> dict[str, int]:
    """Index one document's chunks; old chunks of the same ``document_id`` are removed.

    ``scoped_full`` cleanup runs once after all batches, so chunks of a long document that span
    batches are never deleted and re-added within one run. Chunk ids are assigned here and
    used as ``index()``'s keys, so callers know every vector id.
    """
    assign_ids(chunks)
    result = index(
        chunks,
        record_manager,
        store,
        cleanup="scoped_full",
        source_id_key="document_id",
        batch_size=batch_size,
        key_encoder=_own_id,
    )
    return {k: int(v) for k, v in result.items()}  # type: ignore[call-overload]


def _own_id(doc: Document) -> str:
    return str(doc.id)


def delete_document_vectors(
    document_id: str, store: KnowledgeStore, record_manager: RecordManager
) -> int:
    """Delete every vector a document owns, by id; returns how many were deleted."""
    keys = record_manager.keys_for(document_id)
    if keys:
        store.delete(keys)
        record_manager.delete_keys(keys)
    return len(keys)
