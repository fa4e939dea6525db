"""MongoDB records of the knowledge base: documents and chunks collections (seed shapes).

Shapes follow the seed plan. The vector store holds what search needs; these records hold what
people and the API need (listing, status, content, per-chunk provenance) and enough to rebuild
a document's chunks exactly (``vector_metadata``), which is how a failed update is rolled back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain_core.documents import Document
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from loaders.errors import NotFound

DOCUMENTS = "knowledge_base_documents"
CHUNKS = "knowledge_base_chunks"


def utcnow() -> datetime:
    return datetime.now(UTC)


class KnowledgeBaseRecords:
    """Reads and writes the two knowledge-base collections."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.db = db
        self.documents = db[DOCUMENTS]
        self.chunks = db[CHUNKS]

    # Documents
    def get(self, document_id: str) -> dict[str, Any]:
        doc = self.documents.find_one({"document_id": document_id}, {"_id": 0})
        if doc is None:
            raise NotFound(f"No document with id '{document_id}'.", code="DOCUMENT_NOT_FOUND")
        return doc

    def find(self, document_id: str) -> dict[str, Any] | None:
        return self.documents.find_one({"document_id": document_id}, {"_id": 0})

    def list_documents(
        self,
        *,
        document_type: str | None = None,
        category: str | None = None,
        tag: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[dict[str, Any]], int]:
        query: dict[str, Any] = {}
        if document_type:
            query["document_type"] = document_type
        if category:
            query["category"] = category
        if tag:
            query["tags"] = tag
        total = self.documents.count_documents(query)
        projection = {"_id": 0, "content.raw": 0, "content.sections": 0, "indexing.vector_ids": 0}
        cursor = (
            self.documents.find(query, projection)
            .sort([("updated_at", DESCENDING), ("document_id", ASCENDING)])
            .skip((page - 1) * page_size)
            .limit(page_size)
        )
        return list(cursor), total

    def upsert_document(self, record: dict[str, Any]) -> None:
        now = utcnow()
        record = {**record, "updated_at": now}
        self.documents.update_one(
            {"document_id": record["document_id"]},
            {"$set": record, "$setOnInsert": {"created_at": now}},
            upsert=True,
        )

    def delete_document(self, document_id: str) -> int:
        return self.documents.delete_one({"document_id": document_id}).deleted_count

    # Chunks
    def replace_chunks(self, document_id: str, chunks: list[Document], model: str, dim: int) -> int:
        """Make the chunk records of one document exactly ``chunks`` (ids are vector ids)."""
        now = utcnow()
        records = [_chunk_record(c, model, dim, now) for c in chunks]
        self.chunks.delete_many({"document_id": document_id})
        if records:
            self.chunks.insert_many(records, ordered=False)
        return len(records)

    def chunk_documents(self, document_id: str) -> list[Document]:
        """The document's chunks as they were indexed (same text and metadata, same hash)."""
        cursor = self.chunks.find({"document_id": document_id}, {"_id": 0}).sort(
            "chunk_index", ASCENDING
        )
        return [
            Document(id=r["chunk_id"], page_content=r["content"], metadata=r["vector_metadata"])
            for r in cursor
        ]

    def delete_chunks(self, document_id: str) -> int:
        return self.chunks.delete_many({"document_id": document_id}).deleted_count

    def count_chunks(self, document_id: str | None = None) -> int:
        return self.chunks.count_documents({"document_id": document_id} if document_id else {})


def _chunk_record(chunk: Document, model: str, dim: int, now: datetime) -> dict[str, Any]:
    md = chunk.metadata
    return {
        "chunk_id": chunk.id,
        "document_id": md["document_id"],
        "content": chunk.page_content,
        "chunk_index": md.get("chunk_index", 0),
        "metadata": {
            "start_position": md.get("start_position"),
            "end_position": md.get("end_position"),
            "token_count": md.get("token_count"),
            "chunking_strategy": md.get("chunking_strategy"),
        },
        "embedding": {
            "model": model,
            "vector_id": chunk.id,
            "dimension": dim,
            "generated_at": now,
        },
        "context": {
            "section_title": md.get("heading_path") or "",
            "page_number": md.get("page_number"),
        },
        "vector_metadata": md,
        "created_at": now,
        "updated_at": now,
    }
