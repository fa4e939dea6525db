"""The ingestion pipeline: parse -> chunk -> embed + index -> record, with rollback on failure.

One ``KnowledgeBase`` serves the REST API, the background worker and the CLI, so a document
ingested any of these ways ends up identical. A document's identity is its file name (re-upload
replaces), unless the caller names a ``document_id``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import asdict
from typing import Any

from langchain_core.documents import Document

from loaders.document_records import (
    chunk_base_metadata,
    document_record,
    markdown_name,
    options_from_record,
    parsed_from_record,
)
from loaders.errors import SupportbotError
from loaders.indexing import KnowledgeStore, RecordManager, delete_document_vectors, index_chunks
from loaders.ingest_options import IngestOptions, IngestResult, Progress
from loaders.parsers import ParsedDocument, load_document
from loaders.records import KnowledgeBaseRecords, utcnow
from loaders.sniff import recording_encodings
from loaders.splitters import split_documents
from loaders.tokens import TokenCounter
from loaders.unit_vectors import UnitVectors

log = logging.getLogger(__name__)


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
        unit_vectors: UnitVectors | None = None,
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
        self.unit_vectors = unit_vectors
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
                enc = existing.get("metadata", {}).get("encoding")
                return IngestResult(
                    doc_id, "unchanged", chunks_skipped=n, title=existing["title"], encoding=enc
                )
            report("parsing", 0, 0)
            with recording_encodings() as seen:  # decode_text names what it decoded
                parsed = load_document(data, opts.filename, max_bytes=self.max_upload_bytes)
            created_at = existing["created_at"].isoformat() if existing else utcnow().isoformat()
            enc = seen[0] if seen else None
            return self._index_parsed(parsed, opts, doc_id, fp, created_at, report, enc)

    def reindex(
        self, document_id: str, changes: dict[str, Any], progress: Progress | None = None
    ) -> IngestResult:
        """Re-chunk a stored document after a metadata or content change (``PUT``)."""
        report = progress or (lambda stage, done, total: None)
        with self.lock(document_id):
            record = self.records.get(document_id)
            opts = options_from_record(record, changes).validated(max_tokens=self.max_tokens)
            encoding = record.get("metadata", {}).get("encoding")
            if "content" in changes and changes["content"] is not None:
                parsed = load_document(
                    changes["content"].encode("utf-8"), markdown_name(opts.filename)
                )
                encoding = "utf-8"
            else:
                parsed = parsed_from_record(record)
            fp = hashlib.sha256(
                repr(sorted(asdict(opts).items())).encode() + parsed.text.encode()
            ).hexdigest()
            return self._index_parsed(
                parsed, opts, document_id, fp, record["created_at"].isoformat(), report, encoding
            )

    def _index_parsed(
        self,
        parsed: ParsedDocument,
        opts: IngestOptions,
        doc_id: str,
        fingerprint: str,
        created_at: str,
        report: Progress,
        encoding: str | None = None,
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
            record = document_record(
                parsed, opts, doc_id, title, fingerprint, ids, self.embedding_model
            )
            record["metadata"]["encoding"] = encoding
            self.records.upsert_document(record)
        except BaseException:
            self._rollback(doc_id, previous, [c.id for c in chunks if c.id])
            raise
        finally:
            self.store.on_batch = None
        self._warm_units(chunks, previous)
        return IngestResult(
            doc_id,
            "indexed",
            chunks_created=stats["num_added"],
            chunks_deleted=stats["num_deleted"],
            chunks_skipped=stats["num_skipped"],
            vector_ids=ids,
            title=title,
            encoding=encoding,
        )

    def _warm_units(self, chunks: list[Document], previous: list[Document]) -> None:
        """Embed the chunks' answer units now, so a chat turn only reads their vectors, and
        drop the vectors of units only the document's previous version had."""
        if self.unit_vectors is None:
            return
        texts = [c.page_content for c in chunks]
        try:
            self.unit_vectors.warm(texts)
            if previous:
                self.unit_vectors.forget([p.page_content for p in previous], keep=texts)
        except Exception:  # an optimisation only: a turn embeds what is missing
            log.warning("answer units of %d chunks not embedded", len(chunks), exc_info=True)

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
            texts = [c.page_content for c in self.records.chunk_documents(document_id)]
            vectors = delete_document_vectors(document_id, self.store, self.record_manager)
            if self.unit_vectors is not None:
                self.unit_vectors.forget(texts)  # derived from its text: gone with it
            chunks = self.records.delete_chunks(document_id)
            self.records.delete_document(document_id)
        return {"chunks_deleted": chunks, "vectors_deleted": vectors}
