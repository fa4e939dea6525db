"""Anonymous widget visitors: their tokens, their principal, and the one scope rule.

A visitor token (``type: visitor``) is bound to a visitor id (``sub``), one chat session
(``sid``), a site key (``kid``) and the page origin it was issued for (``origin``). It is
only good on that session's routes and on ``POST /chat/feedback``; ``check_scope`` is the
single place that says so, called by ``app.auth.deps.authenticate`` for every visitor request.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request

from app.auth.tokens import TokenService
from app.widget.errors import InvalidSiteKey, OriginNotAllowed, VisitorScope
from app.widget.keys import site_keys_for
from app.widget.origins import request_origin
from loaders.errors import NotFound
from loaders.settings import Settings

VISITOR_ROLE = "visitor"
VISITOR_PREFIX = "visitor_"
SESSIONS_PREFIX = "/api/v1/chat/sessions/"
FEEDBACK_PATH = "/chat/feedback"
_SESSION_PATH = re.compile(r"^/api/v1/chat/sessions/([^/]+)(?:/.*)?$")


def is_visitor(user: dict[str, Any] | None) -> bool:
    """Whether a principal is an anonymous widget visitor (not a user or an API key)."""
    return bool(user) and user.get("role") == VISITOR_ROLE  # type: ignore[union-attr]


def new_visitor_id() -> str:
    return VISITOR_PREFIX + secrets.token_hex(12)


def issue_tokens(
    tokens: TokenService,
    settings: Settings,
    *,
    visitor_id: str,
    session_id: str,
    site_key_id: str,
    origin: str,
) -> dict[str, Any]:
    """A short-lived access token and a long-lived refresh token with the same scope."""
    claims = {"sub": visitor_id, "sid": session_id, "kid": site_key_id, "origin": origin}
    access_ttl = settings.widget_access_ttl_seconds
    return {
        "access_token": tokens.issue_visitor(claims, refresh=False, ttl=access_ttl),
        "refresh_token": tokens.issue_visitor(
            claims, refresh=True, ttl=settings.widget_refresh_ttl_seconds
        ),
        "token_type": "bearer",
        "expires_in": access_ttl,
    }


def visitor_principal(request: Request, claims: dict[str, Any]) -> dict[str, Any]:
    """The principal for verified visitor-token claims, after the key, origin and scope checks.

    The key is checked through the store's cache (no database read on most requests), so a
    deactivated key stops its visitors within seconds.
    """
    services = getattr(request.app.state, "services", None)
    key_id = str(claims.get("kid") or "")
    if services is None or site_keys_for(services).active_by_id(key_id) is None:
        raise InvalidSiteKey("This widget's site key is no longer active.")
    principal = {
        "user_id": str(claims["sub"]),
        "role": VISITOR_ROLE,
        "name": "Visitor",
        "full_name": "Visitor",
        "email": None,
        "status": "active",
        "auth_method": "visitor_token",
        "session_id": str(claims.get("sid") or ""),
        "site_key_id": key_id,
        "origin": str(claims.get("origin") or ""),
    }
    check_scope(request, principal)
    return principal


def check_scope(request: Request, principal: dict[str, Any]) -> None:
    """Admit a visitor only on its own session's routes and feedback, from its own origin.

    Another session's routes answer exactly what a stranger gets (404), so a visitor cannot
    probe session ids; every other route is 403 VISITOR_SCOPE.
    """
    sent = request.headers.get("origin")
    if sent is not None and request_origin(sent) != principal["origin"]:
        raise OriginNotAllowed("This visitor token was issued for another origin.")
    path = request.url.path
    if path == FEEDBACK_PATH and request.method == "POST":
        return
    match = _SESSION_PATH.match(path)
    if match is None or match.group(1) == "initialize":
        raise VisitorScope("A widget visitor can only use its own chat session.")
    sid = match.group(1)
    if sid != principal["session_id"]:
        raise NotFound(f"No chat session '{sid}'.", code="SESSION_NOT_FOUND")
