"""``GET /api/v1/admin/audit``: the admin audit trail, filtered and paginated (admin-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from app.audit import Audit, AuditQuery, pagination
from app.auth.deps import require_role
from app.envelope import ok

router = APIRouter(prefix="/api/v1/admin", tags=["admin: audit"])


@router.get("/audit", summary="List audit records", dependencies=[Depends(require_role("admin"))])
def list_audit(
    request: Request,
    audit: Audit,
    action: Annotated[
        str | None, Query(max_length=100, description="e.g. `prompt.activate`.")
    ] = None,
    target_type: Annotated[
        str | None, Query(max_length=100, description="e.g. `prompt_template`.")
    ] = None,
    target: Annotated[
        str | None, Query(max_length=200, description="e.g. a template name, `no_answer`.")
    ] = None,
    actor_id: Annotated[
        str | None, Query(max_length=100, description="The admin's user id.")
    ] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive.")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive.")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JSONResponse:
    """Who changed what and when, newest first. Each record has ``actor`` (user id and role),
    ``action``, ``target_type``, ``target``, ``before`` / ``after`` summaries, ``at`` and the
    ``request_id`` of the change (to find its log lines)."""
    query = AuditQuery(action, target_type, target, actor_id, since, until)
    records, total = audit.find(query, page=page, page_size=page_size)
    return ok(request, {"records": records, "pagination": pagination(page, page_size, total)})
