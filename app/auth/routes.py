"""``/api/v1/users``: register, login, refresh and the caller's profile."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth.deps import authenticated_user, get_auth
from app.auth.service import AuthService
from app.auth.stats import profile_statistics
from app.auth.users import is_email, iso, public_profile
from app.deps import get_services
from app.envelope import ok
from loaders.errors import InvalidInput
from loaders.stack import Services

router = APIRouter(prefix="/api/v1/users", tags=["users"])


class Preferences(BaseModel):
    language: str = Field(default="en", max_length=16)
    timezone: str = Field(default="UTC", max_length=64)
    notification_enabled: bool = True
    theme: str = Field(default="light", max_length=16)


class RegisterBody(BaseModel):
    """Unknown fields (``role``, ``status``...) are ignored: nobody picks their own role."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    preferences: Preferences | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not is_email(value):
            raise ValueError("not a valid email address")
        return value.strip().lower()


class ProfileUpdate(BaseModel):
    """What a user may change about themself; anything else (role, status, email) is refused."""

    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    preferences: Preferences | None = None


class LoginBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class RefreshBody(BaseModel):
    refresh_token: str = Field(max_length=4096)


Auth = Annotated[AuthService, Depends(get_auth)]


@router.post("/register", status_code=201)
def register(request: Request, body: RegisterBody, auth: Auth) -> JSONResponse:
    """Create an account with role ``user`` and return a first token pair."""
    user = auth.create_user(
        body.email,
        body.password,
        body.full_name,
        phone=body.phone,
        preferences=body.preferences.model_dump() if body.preferences else None,
    )
    data = {
        "user_id": user["user_id"],
        "email": user["email"],
        "full_name": user["full_name"],
        "role": user["role"],
        "created_at": iso(user["created_at"]),
        **auth.issue_pair(user),
    }
    return ok(request, data, status_code=201)


@router.post("/login")
def login(request: Request, body: LoginBody, auth: Auth) -> JSONResponse:
    user, pair = auth.login(body.email, body.password)
    return ok(request, {"user_id": user["user_id"], "role": user["role"], **pair})


@router.post("/refresh")
def refresh(request: Request, body: RefreshBody, auth: Auth) -> JSONResponse:
    """Spend a refresh token for a new pair; a spent token presented again revokes its family."""
    user, pair = auth.refresh(body.refresh_token)
    return ok(request, {"user_id": user["user_id"], **pair})


@router.get("/me")
@router.get("/profile", include_in_schema=False)
def me(
    request: Request,
    user: Annotated[dict[str, Any], Depends(authenticated_user)],
    services: Annotated[Services, Depends(get_services)],
) -> JSONResponse:
    """The caller's profile (the seed calls it ``/profile``) with usage statistics, never the
    password hash."""
    profile = _profile(user)
    profile["statistics"] = profile_statistics(services.db, str(user["user_id"]))
    return ok(request, profile)


def _profile(user: dict[str, Any]) -> dict[str, Any]:
    profile = public_profile(user)
    profile["last_login"] = profile.get("last_login_at")
    return profile


@router.patch("/me")
def update_me(
    request: Request,
    body: ProfileUpdate,
    auth: Auth,
    user: Annotated[dict[str, Any], Depends(authenticated_user)],
) -> JSONResponse:
    """Change full name, phone or preferences; role and status only change through admins."""
    if user.get("auth_method") == "api_key":
        raise InvalidInput("An API key has no profile to update.", code="NO_PROFILE", status=400)
    changes = body.model_dump(exclude_unset=True)
    if "preferences" in changes and body.preferences is not None:
        changes["preferences"] = body.preferences.model_dump(exclude_unset=True)
    if changes.get("full_name", "") is None:
        raise InvalidInput("full_name cannot be empty.", code="INVALID_PROFILE")
    updated = auth.users.update_profile(str(user["user_id"]), changes)
    return ok(request, _profile(updated or user))
