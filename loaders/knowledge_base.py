"""The ingestion pipeline: parse -> chunk -> embed + index -> record, with rollback on failure.

One ``KnowledgeBase`` serves the REST API, the background worker and the CLI, so a document
ingested any of these ways ends up identical. A document's identity is its file name (re-upload
replaces), unless the caller names a ``document_id``.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from langchain_core.documents import Document

from loaders.errors import InvalidInput, SupportbotError
from loaders.indexing import KnowledgeStore, RecordManager, delete_document_vectors, index_chunks
from loaders.parsers import ParsedDocument, load_document
from loaders.records import KnowledgeBaseRecords, utcnow
from loaders.sniff import safe_filename
from loaders.splitters import split_documents, validate_chunking
from loaders.tokens import TokenCounter

DOCUMENT_TYPES = ("faq", "sop", "module", "general")
PRIORITIES = ("high", "medium", "low")
DOC_NAMESPACE = uuid.UUID("6f1c2d4e-8a8b-4f0e-9a51-2d1b3c4d5e6f")
Stage = Literal["parsing", "chunking", "embedding", "indexing"]
Progress = Callable[[Stage, int, int], None]


@dataclass
class IngestOptions:
    """What a caller says about a document; validated before any work is queued."""

    filename: str
    document_type: str = "general"
    title: str | None = None
    description: str = ""
    category: str = "general"
    tags: list[str] = field(default_factory=list)
    author: str = ""
    version: str = "1.0"
    language: str = "en"
    priority: str = "medium"
    chunking_strategy: str = "structure"
    chunk_size: int = 200
    chunk_overlap: int = 30
    document_id: str | None = None
    source_type: str = "upload"
    uploaded_by: str | None = None

    def validated(self, *, max_tokens: int) -> IngestOptions:
        """Normalise and check every field; raises ``InvalidInput`` with a stable code."""
        self.filename = safe_filename(self.filename)
        if self.document_type not in DOCUMENT_TYPES:
            raise InvalidInput(
                f"document_type must be one of {', '.join(DOCUMENT_TYPES)}.",
                code="INVALID_DOCUMENT_TYPE",
            )
        if self.priority not in PRIORITIES:
            raise InvalidInput(
                f"priority must be one of {', '.join(PRIORITIES)}.", code="INVALID_PRIORITY"
            )
        self.tags = sorted({t.strip() for t in self.tags if t and t.strip()})
        self.category = (self.category or "general").strip()
        if self.document_id is not None:
            try:
                self.document_id = str(uuid.UUID(self.document_id))
            except ValueError as exc:
                raise InvalidInput("document_id must be a UUID.", code="INVALID_ID") from exc
        # Validate chunking now so a bad value is a 4xx, not a failed job later.
        validate_chunking(self.chunking_strategy, self.chunk_size, self.chunk_overlap, max_tokens)
        return self

    @property
    def resolved_document_id(self) -> str:
        return self.document_id or str(uuid.uuid5(DOC_NAMESPACE, self.filename.lower()))


@dataclass
class IngestResult:
    document_id: str
    status: Literal["indexed", "unchanged"]
    chunks_created: int = 0
    chunks_deleted: int = 0
    chunks_skipped: int = 0
    vector_ids: list[str] = field(default_factory=list)
    title: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class KnowledgeBase:
    """Owns documents end to end: their chunks, vectors, keyword entries and Mongo records."""

    def __init__(
        self,
        *,
        records: KnowledgeBaseRecords,
        store: KnowledgeStore,
        record_manager: RecordManager,
        counter: TokenCounter,
        embedding_model: str,
        dimension: int,
        max_tokens: int,
        min_chunk_tokens: int = 5,
        max_upload_bytes: int | None = None,
    ) -> None:
        self.records = records
        self.store = store
        self.record_manager = record_manager
        self.counter = counter
        self.embedding_model = embedding_model
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.min_chunk_tokens = min_chunk_tokens
        self.max_upload_bytes = max_upload_bytes
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def lock(self, document_id: str) -> threading.Lock:
        """One writer per document: ingestion, update and delete never interleave."""
        with self._locks_guard:
            return self._locks.setdefault(document_id, threading.Lock())

    def fingerprint(self, data: bytes, opts: IngestOptions) -> str:
        meta = {k: v for k, v in asdict(opts).items() if k not in ("uploaded_by", "source_type")}
        return hashlib.sha256(data + repr(sorted(meta.items())).encode()).hexdigest()

    def ingest(
        self, data: bytes, opts: IngestOptions, progress: Progress | None = None
    ) -> IngestResult:
        """Parse, chunk and index one file; a no-op when the same bytes and options were indexed."""
        report = progress or (lambda stage, done, total: None)
        doc_id = opts.resolved_document_id
        fp = self.fingerprint(data, opts)
        with self.lock(doc_id):
            existing = self.records.find(doc_id)
            if (
                existing
                and existing.get("source", {}).get("content_hash") == fp
                and existing.get("indexing", {}).get("indexed")
            ):
                n = existing["indexing"].get("total_chunks", 0)
                return IngestResult(doc_id, "unchanged", chunks_skipped=n, title=existing["title"])
            report("parsing", 0, 0)
            parsed = load_document(data, opts.filename, max_bytes=self.max_upload_bytes)
            created_at = existing["created_at"].isoformat() if existing else utcnow().isoformat()
            return self._index_parsed(parsed, opts, doc_id, fp, created_at, report)

    def reindex(
        self, document_id: str, changes: dict[str, Any], progress: Progress | None = None
    ) -> IngestResult:
        """Re-chunk a stored document after a metadata or content change (``PUT``)."""
        report = progress or (lambda stage, done, total: None)
        with self.lock(document_id):
            record = self.records.get(document_id)
            opts = options_from_record(record, changes).validated(max_tokens=self.max_tokens)
            if "content" in changes and changes["content"] is not None:
                parsed = load_document(
                    changes["content"].encode("utf-8"), _as_markdown_name(opts.filename)
                )
            else:
                parsed = parsed_from_record(record)
            fp = hashlib.sha256(
                repr(sorted(asdict(opts).items())).encode() + parsed.text.encode()
            ).hexdigest()
            return self._index_parsed(
                parsed, opts, document_id, fp, record["created_at"].isoformat(), report
            )

    def _index_parsed(
        self,
        parsed: ParsedDocument,
        opts: IngestOptions,
        doc_id: str,
        fingerprint: str,
        created_at: str,
        report: Progress,
    ) -> IngestResult:
        report("chunking", 0, 0)
        title = (opts.title or parsed.title or opts.filename).strip()
        chunks = self._chunk(parsed, opts, doc_id, title, created_at)
        if not chunks:
            raise SupportbotError(
                "The document has no text long enough to index.",
                code="NO_TEXT_CONTENT",
                status=422,
            )
        total = len(chunks)
        done = 0

        def on_batch(n: int) -> None:
            nonlocal done
            done += n
            report("embedding", done, total)

        previous = self.records.chunk_documents(doc_id)
        self.store.on_batch = on_batch
        try:
            report("embedding", 0, total)
            stats = index_chunks(chunks, self.store, self.record_manager)
            report("indexing", total, total)
            ids = [c.id for c in chunks if c.id]
            self.records.replace_chunks(doc_id, chunks, self.embedding_model, self.dimension)
            self.records.upsert_document(
                document_record(parsed, opts, doc_id, title, fingerprint, ids, self.embedding_model)
            )
        except BaseException:
            self._rollback(doc_id, previous, [c.id for c in chunks if c.id])
            raise
        finally:
            self.store.on_batch = None
        return IngestResult(
            doc_id,
            "indexed",
            chunks_created=stats["num_added"],
            chunks_deleted=stats["num_deleted"],
            chunks_skipped=stats["num_skipped"],
            vector_ids=ids,
            title=title,
        )

    def _chunk(
        self, parsed: ParsedDocument, opts: IngestOptions, doc_id: str, title: str, created_at: str
    ) -> list[Document]:
        base = chunk_base_metadata(opts, doc_id, title, created_at)
        sections = [
            Document(page_content=s.page_content, metadata={**s.metadata, **base})
            for s in parsed.sections
        ]
        chunks = split_documents(
            sections,
            strategy=opts.chunking_strategy,
            chunk_size=opts.chunk_size,
            chunk_overlap=opts.chunk_overlap,
            counter=self.counter,
            max_tokens=self.max_tokens,
            min_tokens=self.min_chunk_tokens,
        )
        for c in chunks:
            c.metadata = {k: v for k, v in c.metadata.items() if v is not None}
        return chunks

    def _rollback(self, doc_id: str, previous: list[Document], attempted: list[str]) -> None:
        """Put the index back as it was before this run: the previous chunks or nothing.

        Vectors written before the failure may not be in the record manager yet, so the ids
        this run tried to add are deleted explicitly.
        """
        try:
            keep = {d.id for d in previous}
            new = [i for i in attempted if i not in keep]
            if new:
                self.store.delete(new)
                self.record_manager.delete_keys(new)
            if previous:
                index_chunks(previous, self.store, self.record_manager)
            else:
                delete_document_vectors(doc_id, self.store, self.record_manager)
                self.records.delete_chunks(doc_id)
        except Exception:  # pragma: no cover - the original error matters more
            pass

    def delete(self, document_id: str) -> dict[str, int]:
        """Remove a document, its chunk records and every vector it owns."""
        with self.lock(document_id):
            self.records.get(document_id)
            vectors = delete_document_vectors(document_id, self.store, self.record_manager)
            chunks = self.records.delete_chunks(document_id)
            self.records.delete_document(document_id)
        return {"chunks_deleted": chunks, "vectors_deleted": vectors}


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


def _as_markdown_name(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0]
    return f"{stem}.md"


def _plain(md: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in md.items() if isinstance(v, str | int | float | bool | list)}
