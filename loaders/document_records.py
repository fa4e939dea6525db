"""A document's MongoDB record and chunk metadata, and the way back from a stored record.

``KnowledgeBase`` writes these shapes; ``PUT .../documents/{id}`` reads a record back into the
options and parsed sections it was ingested with.
"""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document

from loaders.ingest_options import IngestOptions
from loaders.parsers import ParsedDocument
from loaders.records import utcnow


def chunk_base_metadata(
    opts: IngestOptions, doc_id: str, title: str, created_at: str
) -> dict[str, Any]:
    """The seed's vector metadata shared by every chunk of a document (deterministic)."""
    return {
        "document_id": doc_id,
        "document_title": title,
        "title": title,
        "document_type": opts.document_type,
        "category": opts.category,
        "tags": list(opts.tags),
        "language": opts.language,
        "author": opts.author,
        "version": opts.version,
        "priority": opts.priority,
        "source": opts.filename,
        "created_at": created_at,
    }


def document_record(
    parsed: ParsedDocument,
    opts: IngestOptions,
    doc_id: str,
    title: str,
    fingerprint: str,
    vector_ids: list[str],
    model: str,
) -> dict[str, Any]:
    """The seed's ``knowledge_base_documents`` shape for one indexed document."""
    now = utcnow()
    return {
        "document_id": doc_id,
        "title": title,
        "description": opts.description,
        "document_type": opts.document_type,
        "category": opts.category,
        "tags": list(opts.tags),
        "content": {
            "processed": parsed.text,
            "format": parsed.format,
            "sections": [
                {"text": s.page_content, "metadata": _plain(s.metadata)} for s in parsed.sections
            ],
        },
        "source": {
            "type": opts.source_type,
            "file_name": opts.filename,
            "uploaded_by": opts.uploaded_by,
            "content_hash": fingerprint,
        },
        "metadata": {
            "author": opts.author,
            "version": opts.version,
            "language": opts.language,
            "priority": opts.priority,
            "status": "published",
            "word_count": parsed.word_count,
            "read_time_minutes": max(1, round(parsed.word_count / 200)),
        },
        "indexing": {
            "indexed": True,
            "indexed_at": now,
            "total_chunks": len(vector_ids),
            "chunk_strategy": opts.chunking_strategy,
            "chunk_size": opts.chunk_size,
            "chunk_overlap": opts.chunk_overlap,
            "embedding_model": model,
            "vector_ids": vector_ids,
        },
        "published_at": now,
    }


def options_from_record(record: dict[str, Any], changes: dict[str, Any]) -> IngestOptions:
    """Rebuild the ingest options of a stored document, with a ``PUT``'s changes applied."""
    md = {**record.get("metadata", {}), **(changes.get("metadata") or {})}
    idx = record.get("indexing", {})
    opts = IngestOptions(
        filename=record["source"]["file_name"],
        document_type=changes.get("document_type") or record["document_type"],
        title=changes.get("title") or record["title"],
        description=str(changes.get("description") or record.get("description") or ""),
        category=changes.get("category") or record["category"],
        tags=changes["tags"] if changes.get("tags") is not None else record.get("tags", []),
        author=md.get("author", ""),
        version=md.get("version", "1.0"),
        language=md.get("language", "en"),
        priority=md.get("priority", "medium"),
        chunking_strategy=idx.get("chunk_strategy", "structure"),
        chunk_size=idx.get("chunk_size", 200),
        chunk_overlap=idx.get("chunk_overlap", 30),
        document_id=record["document_id"],
        source_type=record["source"].get("type", "upload"),
        uploaded_by=record["source"].get("uploaded_by"),
    )
    return opts


def parsed_from_record(record: dict[str, Any]) -> ParsedDocument:
    content = record["content"]
    sections = [
        Document(page_content=s["text"], metadata=s["metadata"])
        for s in content.get("sections", [])
    ]
    return ParsedDocument(
        format=content.get("format", "text"),
        title=record["title"],
        sections=sections,
        text=content.get("processed", ""),
        word_count=record.get("metadata", {}).get("word_count", 0),
    )


def markdown_name(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0]
    return f"{stem}.md"


def _plain(md: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in md.items() if isinstance(v, str | int | float | bool | list)}
