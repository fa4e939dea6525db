"""``/api/v1/admin/widget-keys``: admins create, list and deactivate widget site keys, audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.audit import Audit
from app.auth.deps import AdminUser, require_role
from app.deps import get_services
from app.envelope import ok, request_id
from app.widget.keys import SiteKeyStore, site_keys_for
from loaders.stack import Services

router = APIRouter(
    prefix="/api/v1/admin/widget-keys",
    tags=["admin: widget"],
    dependencies=[Depends(require_role("admin"))],
)


def get_site_keys(services: Annotated[Services, Depends(get_services)]) -> SiteKeyStore:
    return site_keys_for(services)


SiteKeys = Annotated[SiteKeyStore, Depends(get_site_keys)]


class CreateWidgetKey(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Which site, e.g. 'help centre'.")
    allowed_origins: list[str] = Field(
        description="Pages that may embed the widget, as scheme://host[:port].", max_length=50
    )


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ("name", "allowed_origins", "active")}


@router.post("", status_code=201)
def create_key(
    request: Request, body: CreateWidgetKey, keys: SiteKeys, admin: AdminUser, audit: Audit
) -> JSONResponse:
    """A new site key (``sbw_...``): public, goes in the embedding page's ``<script>`` tag."""
    record = keys.create(body.name, body.allowed_origins, str(admin["user_id"]))
    audit.record(
        actor=admin,
        action="widget_key.create",
        target_type="widget_key",
        target=str(record["key_id"]),
        before=None,
        after=_summary(record),
        request_id=request_id(request),
    )
    return ok(request, record, status_code=201)


@router.get("")
def list_keys(request: Request, keys: SiteKeys) -> JSONResponse:
    return ok(request, {"widget_keys": keys.all()})


@router.delete("/{key_id}")
def deactivate_key(
    request: Request, key_id: str, keys: SiteKeys, admin: AdminUser, audit: Audit
) -> JSONResponse:
    """Deactivated: new sessions are refused at once, its visitors' tokens within seconds."""
    before, record = keys.deactivate(key_id)
    audit.record(
        actor=admin,
        action="widget_key.deactivate",
        target_type="widget_key",
        target=key_id,
        before=_summary(before),
        after=_summary(record),
        request_id=request_id(request),
    )
    return ok(request, record)
