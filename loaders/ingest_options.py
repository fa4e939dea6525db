"""What a caller says about a document (``IngestOptions``) and what ingesting it did.

Validated before any work is queued, so a bad value is a 4xx, never a failed job later.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from loaders.errors import InvalidInput
from loaders.sniff import safe_filename
from loaders.splitters import validate_chunking
from loaders.text_checks import check_fields

DOCUMENT_TYPES = ("faq", "sop", "module", "general")
PRIORITIES = ("high", "medium", "low")
DOC_NAMESPACE = uuid.UUID("6f1c2d4e-8a8b-4f0e-9a51-2d1b3c4d5e6f")
_STRICT_TEXT = ("title", "category", "tags", "author", "version", "language", "document_type")
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
        check_fields(self, free=("description",), strict=_STRICT_TEXT)  # INVALID_TEXT
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
    encoding: str | None = None  # of a text upload ("utf-8", "cp1252", "utf-16"); None: PDF/DOCX

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
