"""``/api/v1/admin/api-keys``: admins create (secret shown once), list and revoke API keys."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.auth.deps import AdminUser, get_auth, require_role
from app.auth.service import AuthService
from app.envelope import ok

router = APIRouter(
    prefix="/api/v1/admin/api-keys",
    tags=["admin"],
    dependencies=[Depends(require_role("admin"))],
)
Auth = Annotated[AuthService, Depends(get_auth)]


class CreateKeyBody(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Who uses it, e.g. 'web-widget'.")
    role: Literal["user", "support_agent", "admin"] = "user"


@router.post("", status_code=201)
def create_key(request: Request, body: CreateKeyBody, auth: Auth, admin: AdminUser) -> JSONResponse:
    """The new key with its ``api_key`` secret: shown this once, stored only as a hash."""
    record, secret = auth.api_keys.create(body.name, body.role, str(admin["user_id"]))
    return ok(request, {**record, "api_key": secret}, status_code=201)


@router.get("")
def list_keys(request: Request, auth: Auth) -> JSONResponse:
    return ok(request, {"api_keys": auth.api_keys.list()})


@router.delete("/{key_id}")
def revoke_key(request: Request, key_id: str, auth: Auth) -> JSONResponse:
    """Revoked at once: the next request with the key gets 401."""
    return ok(request, auth.api_keys.revoke(key_id))
