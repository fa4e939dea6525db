"""``/api/v1/admin/users``: admins list accounts and change a role or a status, audited.

A role or status change applies on the caller's next request (every request re-reads the user),
and a suspension or deactivation also revokes the user's refresh tokens. An admin cannot
change their own role or status, so the last admin cannot lock everyone out by mistake.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from app.audit import AuditLog, get_audit_log, pagination
from app.auth.deps import AdminUser, get_auth
from app.auth.service import AuthService
from app.auth.users import public_profile
from app.envelope import ok, request_id
from loaders.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"])
Auth = Annotated[AuthService, Depends(get_auth)]
RoleName = Literal["user", "support_agent", "admin"]
StatusName = Literal["active", "inactive", "suspended"]


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName | None = None
    status: StatusName | None = None


@router.get("")
def list_users(
    request: Request,
    auth: Auth,
    admin: AdminUser,
    role: RoleName | None = None,
    status: StatusName | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
) -> JSONResponse:
    """Accounts, newest first, filtered by role and status."""
    query = {k: v for k, v in (("role", role), ("status", status)) if v is not None}
    users, total = auth.users.list(query, page=page, page_size=page_size)
    return ok(
        request,
        {
            "users": [public_profile(u) for u in users],
            "pagination": pagination(page, page_size, total),
        },
    )


@router.patch("/{user_id}")
def update_user(
    request: Request,
    user_id: str,
    body: UserUpdate,
    auth: Auth,
    admin: AdminUser,
    audit: Annotated[AuditLog, Depends(get_audit_log)],
) -> JSONResponse:
    """Change a user's role and/or status (``support_agent`` reads escalated sessions)."""
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InvalidInput("Send a role or a status to change.", code="NO_CHANGES")
    if user_id == admin["user_id"]:
        raise InvalidInput(
            "You cannot change your own role or status; ask another admin.",
            code="CANNOT_CHANGE_SELF",
            status=409,
        )
    user = auth.users.by_id(user_id)
    if user is None:
        raise NotFound("No user with that id.", code="USER_NOT_FOUND")
    before = {k: user.get(k) for k in changes}
    if "role" in changes:
        user = auth.users.set_role(user_id, changes["role"]) or user
    if "status" in changes:
        user = auth.users.set_status(user_id, changes["status"]) or user
        if changes["status"] != "active":
            auth.refresh_tokens.revoke_user(user_id)
    audit.record(
        actor=admin,
        action="user.update",
        target_type="user",
        target=user_id,
        before=before,
        after=changes,
        request_id=request_id(request),
    )
    data: dict[str, Any] = public_profile(user)
    return ok(request, data)
