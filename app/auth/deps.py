"""FastAPI dependencies: the auth service, the caller from ``Authorization: Bearer``, roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from app.auth.errors import Forbidden, InvalidToken
from app.auth.service import AuthService, auth_service_for, ensure_active
from app.deps import get_services
from loaders.stack import Services


def get_auth(services: Annotated[Services, Depends(get_services)]) -> AuthService:
    return auth_service_for(services.extras, services.db, services.settings)


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, else 401 INVALID_TOKEN."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send an 'Authorization: Bearer <access token>' header.")
    return token.strip()


def authenticated_user(
    request: Request, auth: Annotated[AuthService, Depends(get_auth)]
) -> dict[str, Any]:
    """The active user behind a valid access token; also kept on ``request.state.user``.

    The user is re-read so a suspension takes effect before the token expires.
    """
    claims = auth.tokens.decode(bearer_token(request), "access")
    user = auth.users.by_id(str(claims["sub"]))
    if user is None:
        raise InvalidToken("The token's user no longer exists.")
    ensure_active(user)
    request.state.user = user
    return user


def require_role(*roles: str) -> Callable[..., dict[str, Any]]:
    """A dependency that admits only users whose role is one of ``roles`` (else 403)."""
    allowed = frozenset(roles)

    def dependency(user: Annotated[dict[str, Any], Depends(authenticated_user)]) -> dict[str, Any]:
        if user.get("role") not in allowed:
            raise Forbidden("Your role does not allow this action.")
        return user

    return dependency
