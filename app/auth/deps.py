"""FastAPI dependencies: who is calling (Bearer token, API key or login cookie) and their role.

Three ways in, one principal shape out (a user document, an API key's principal, or a widget
visitor's, all with the same ``user_id`` / ``role`` keys), kept on ``request.state.user`` for
LangServe's config modifier and for logs. A Bearer token may be a widget visitor's token
(``app.widget.visitors``), which is only good on its own session's routes. A header that is
present but wrong is never retried with another credential: the client learns exactly which
one failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request

from app.auth.api_keys import SECRET_PREFIX
from app.auth.errors import Forbidden, InvalidToken
from app.auth.service import AuthService, auth_service_for, ensure_active
from app.deps import get_services
from app.widget.visitors import is_visitor as is_visitor  # re-exported for route code
from app.widget.visitors import visitor_principal
from loaders.stack import Services

COOKIE_NAME = "supportbot_access"
API_KEY_HEADER = "x-api-key"
STAFF_ROLES = ("support_agent", "admin")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_auth(services: Annotated[Services, Depends(get_services)]) -> AuthService:
    """Built at start-up (``create_app``), so this never blocks the event loop."""
    return auth_service_for(services.extras, services.db, services.settings)


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, else 401 INVALID_TOKEN."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send an 'Authorization: Bearer <access token>' header.")
    return token.strip()


def user_for_token(auth: AuthService, token: str) -> dict[str, Any]:
    """The active user behind an access token; re-read so a suspension applies at once."""
    claims = auth.tokens.decode(token, "access")
    user = auth.users.by_id(str(claims["sub"]))
    if user is None:
        raise InvalidToken("The token's user no longer exists.")
    ensure_active(user)
    return user


def principal_for_bearer(request: Request, auth: AuthService, token: str) -> dict[str, Any]:
    """A user's access token, or a widget visitor's (checked against its scope here)."""
    claims = auth.tokens.decode(token, ("access", "visitor"))
    if claims["type"] == "visitor":
        return visitor_principal(request, claims)
    user = auth.users.by_id(str(claims["sub"]))
    if user is None:
        raise InvalidToken("The token's user no longer exists.")
    ensure_active(user)
    return user


def _same_origin(request: Request) -> bool:
    """Cookie-authenticated writes must come from our own pages (SameSite=Strict's backstop)."""
    origin = request.headers.get("origin")
    if origin is None or request.method in _SAFE_METHODS:
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


def authenticate(request: Request, auth: AuthService) -> dict[str, Any]:
    """The caller, from ``Authorization: Bearer``, ``X-API-Key`` or the login cookie."""
    if request.headers.get("authorization"):
        token = bearer_token(request)
        # An API key may come as a bearer token too: Prometheus scrapers can only send that.
        api_key = token.startswith(SECRET_PREFIX)
        if api_key:
            principal = auth.api_keys.principal(token)
        else:
            principal = principal_for_bearer(request, auth, token)
    elif key := request.headers.get(API_KEY_HEADER):
        principal = auth.api_keys.principal(key.strip())
    elif cookie := request.cookies.get(COOKIE_NAME):
        if not _same_origin(request):
            raise Forbidden("Cross-origin request refused.", code="CROSS_ORIGIN_REFUSED")
        principal = user_for_token(auth, cookie)
    else:
        raise InvalidToken(
            "Authentication required: send 'Authorization: Bearer <access token>' or "
            "'X-API-Key', or log in at /login."
        )
    request.state.user = principal
    return principal


def authenticated_user(
    request: Request, auth: Annotated[AuthService, Depends(get_auth)]
) -> dict[str, Any]:
    """Any authenticated, active caller (401 otherwise)."""
    return authenticate(request, auth)


def require_role(*roles: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    """A dependency that admits only callers whose role is one of ``roles`` (else 403)."""
    allowed = frozenset(roles)

    async def dependency(
        user: Annotated[dict[str, Any], Depends(authenticated_user)],
    ) -> dict[str, Any]:
        if user.get("role") not in allowed:
            raise Forbidden("Your role does not allow this action.")
        return user

    return dependency


def is_admin(user: dict[str, Any]) -> bool:
    return user.get("role") == "admin"


def is_staff(user: dict[str, Any]) -> bool:
    """Support agents and admins: may read any customer's transcript."""
    return user.get("role") in STAFF_ROLES


CurrentUser = Annotated[dict[str, Any], Depends(authenticated_user)]
AdminUser = Annotated[dict[str, Any], Depends(require_role("admin"))]
StaffUser = Annotated[dict[str, Any], Depends(require_role(*STAFF_ROLES))]
