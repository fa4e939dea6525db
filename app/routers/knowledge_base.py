"""Knowledge-base routes (seed: Knowledge Base Management APIs): ingest, status, search, CRUD."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.auth.deps import authenticated_user, require_role
from app.deps import get_services
from app.envelope import ok
from loaders.document_records import options_from_record
from loaders.errors import DocumentRejected, FileTooLarge, InvalidInput, SupportbotError
from loaders.ingest_options import IngestOptions
from loaders.records import utcnow
from loaders.sniff import detect_format
from loaders.stack import Services

# Every route needs a caller; writes and job status also need the admin role.
router = APIRouter(
    prefix="/api/v1/knowledge-base",
    tags=["knowledge-base"],
    dependencies=[Depends(authenticated_user)],
)
require_admin = require_role("admin")


class SearchRequest(BaseModel):
    query: str = Field(description="What the customer asked.")
    filters: dict[str, Any] | None = Field(
        default=None, description="document_type / category / tags / document_id: lists of values"
    )
    top_k: int = 5
    min_relevance_score: float = Field(default=0.0, description="0..1 on the fused score")
    search_mode: Literal["hybrid", "dense", "keyword"] = "hybrid"


class UpdateRequest(BaseModel):
    title: str | None = None
    description: str | None = None
    document_type: str | None = None
    category: str | None = None
    tags: list[str] | None = None
    content: str | None = Field(default=None, description="New Markdown/plain-text content.")
    metadata: dict[str, Any] | None = None
    reindex: bool = True


def _tags(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                "tags must be a JSON array of strings or a comma-separated list.",
                code="INVALID_TAGS",
            ) from exc
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise InvalidInput("tags must be a list of strings.", code="INVALID_TAGS")
        return value
    return [t for t in (p.strip() for p in raw.split(",")) if t]


def _metadata(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidInput("metadata must be a JSON object.", code="INVALID_METADATA") from exc
    if not isinstance(value, dict):
        raise InvalidInput("metadata must be a JSON object.", code="INVALID_METADATA")
    allowed = {"author", "version", "language", "priority"}
    unknown = set(value) - allowed
    if unknown:
        raise InvalidInput(
            f"Unknown metadata keys: {', '.join(sorted(unknown))}. Allowed: "
            f"{', '.join(sorted(allowed))}.",
            code="INVALID_METADATA",
        )
    return {k: str(v) for k, v in value.items()}


async def _read_upload(file: UploadFile, limit: int) -> bytes:
    """Read at most ``limit`` bytes; the body-size middleware already capped the request."""
    if file.size is not None and file.size > limit:
        raise FileTooLarge(
            f"The file is larger than the {limit / 1048576:.1f} MB limit.",
            details={"limit_bytes": limit},
        )
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(
            f"The file is larger than the {limit / 1048576:.1f} MB limit.",
            details={"limit_bytes": limit},
        )
    return data


@router.post("/documents/ingest", status_code=202)
async def ingest_document(
    request: Request,
    file: UploadFile = File(..., description="PDF, DOCX, HTML, Markdown or plain text"),
    document_type: str = Form("general"),
    title: str | None = Form(None),
    description: str = Form(""),
    category: str = Form("general"),
    tags: str = Form("", description="JSON array or comma-separated"),
    metadata: str = Form("{}", description="JSON: author, version, language, priority"),
    chunking_strategy: str | None = Form(None),
    chunk_size: int | None = Form(None),
    chunk_overlap: int | None = Form(None),
    document_id: str | None = Form(None),
    svc: Services = Depends(get_services),
    user: dict[str, Any] = Depends(require_admin),
) -> JSONResponse:
    """Validate and stage the upload, then hand it to the ingestion worker (202 + job id)."""
    s = svc.settings
    opts = IngestOptions(
        filename=file.filename or "",
        document_type=document_type,
        title=title or None,
        description=description,
        category=category,
        tags=_tags(tags),
        chunking_strategy=chunking_strategy or s.default_chunking_strategy,
        chunk_size=chunk_size if chunk_size is not None else s.default_chunk_size,
        chunk_overlap=chunk_overlap if chunk_overlap is not None else s.default_chunk_overlap,
        document_id=document_id or None,
        uploaded_by=user.get("user_id"),
        **_metadata(metadata),
    ).validated(max_tokens=svc.kb.max_tokens)
    data = await _read_upload(file, s.max_upload_bytes)
    if not data:
        raise DocumentRejected("The uploaded file is empty.", code="EMPTY_FILE")
    detect_format(data, opts.filename)
    _refuse_if_busy(svc, opts.resolved_document_id)
    job = await run_in_threadpool(svc.worker.submit_file, data, opts)
    return ok(
        request,
        {
            "job_id": job["job_id"],
            "document_id": job["document_id"],
            "status": "processing",
            "message": "Document ingestion started",
            "estimated_completion": job["estimated_completion"],
        },
        status_code=202,
    )


def _refuse_if_busy(svc: Services, document_id: str) -> None:
    if svc.jobs.active_for(document_id):
        raise SupportbotError(
            "This document is being ingested right now; wait for that job to finish.",
            code="DOCUMENT_BUSY",
            status=409,
        )


@router.get("/documents/ingest/{job_id}/status")
def ingestion_status(
    request: Request,
    job_id: str,
    svc: Services = Depends(get_services),
    user: dict[str, Any] = Depends(require_admin),
) -> JSONResponse:
    job = svc.jobs.get(job_id)
    result = job.get("result") or {}
    return ok(
        request,
        {
            "job_id": job["job_id"],
            "document_id": job["document_id"],
            "status": job["status"],
            "progress": job["progress"],
            "result": {
                "chunks_created": result.get("chunks_created", 0),
                "embeddings_generated": result.get("chunks_created", 0),
                "chunks_skipped": result.get("chunks_skipped", 0),
                "chunks_deleted": result.get("chunks_deleted", 0),
                "vector_ids": result.get("vector_ids", []),
                "unchanged": result.get("status") == "unchanged",
                "encoding": result.get("encoding"),  # text uploads; null for PDF/DOCX
                "errors": job.get("errors", []),
            },
            "created_at": job["created_at"],
            "updated_at": job["updated_at"],
        },
    )


@router.post("/search")
def search(
    request: Request, body: SearchRequest, svc: Services = Depends(get_services)
) -> JSONResponse:
    start = time.perf_counter()
    hits = svc.searcher.search(
        body.query,
        top_k=body.top_k,
        filters=body.filters,
        min_relevance=body.min_relevance_score,
        mode=body.search_mode,
    )
    results = [h.as_result() for h in hits]
    return ok(
        request,
        {
            "query": body.query,
            "results": results,
            "total_results": len(results),
            "search_time_ms": round((time.perf_counter() - start) * 1000, 2),
        },
    )


@router.get("/documents")
def list_documents(
    request: Request,
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
    document_type: str | None = None,
    category: str | None = None,
    tag: str | None = None,
    svc: Services = Depends(get_services),
) -> JSONResponse:
    docs, total = svc.kb.records.list_documents(
        document_type=document_type, category=category, tag=tag, page=page, page_size=page_size
    )
    return ok(request, {"documents": docs, "total": total, "page": page, "page_size": page_size})


@router.get("/documents/{document_id}")
def get_document(
    request: Request, document_id: str, svc: Services = Depends(get_services)
) -> JSONResponse:
    doc = svc.kb.records.get(document_id)
    doc.get("content", {}).pop("sections", None)
    return ok(request, doc)


@router.put("/documents/{document_id}")
def update_document(
    request: Request,
    document_id: str,
    body: UpdateRequest,
    svc: Services = Depends(get_services),
    user: dict[str, Any] = Depends(require_admin),
) -> JSONResponse:
    record = svc.kb.records.get(document_id)
    changes = body.model_dump(exclude_none=True, exclude={"reindex"})
    if not changes:
        raise InvalidInput("Nothing to update: send at least one field.", code="EMPTY_UPDATE")
    if "content" in changes and not changes["content"].strip():
        raise InvalidInput("content must not be empty.", code="EMPTY_CONTENT")
    if "content" in changes and not body.reindex:
        raise InvalidInput("Changing content needs reindex: true.", code="REINDEX_REQUIRED")
    options_from_record(record, changes).validated(max_tokens=svc.kb.max_tokens)
    _refuse_if_busy(svc, document_id)
    job_id = None
    if body.reindex:
        job_id = svc.worker.submit_reindex(document_id, changes)["job_id"]
        message = "Document updated and reindexing started"
    else:
        _update_fields_only(svc, document_id, changes)
        message = "Document updated; search keeps the indexed version until it is reindexed"
    return ok(
        request,
        {
            "document_id": document_id,
            "updated_at": utcnow(),
            "reindexing_job_id": job_id,
            "message": message,
        },
    )


def _update_fields_only(svc: Services, document_id: str, changes: dict[str, Any]) -> None:
    fields = {
        k: v
        for k, v in changes.items()
        if k in {"title", "description", "category", "tags", "document_type"}
    }
    for k, v in (changes.get("metadata") or {}).items():
        fields[f"metadata.{k}"] = v
    fields["updated_at"] = utcnow()
    svc.kb.records.documents.update_one({"document_id": document_id}, {"$set": fields})


@router.delete("/documents/{document_id}")
def delete_document(
    request: Request,
    document_id: str,
    svc: Services = Depends(get_services),
    user: dict[str, Any] = Depends(require_admin),
) -> JSONResponse:
    _refuse_if_busy(svc, document_id)
    counts = svc.kb.delete(document_id)
    return ok(
        request,
        {
            "document_id": document_id,
            "deleted_at": utcnow(),
            **counts,
            "message": "Document and associated vectors deleted successfully",
        },
    )
