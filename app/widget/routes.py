"""``POST /api/v1/widget/session``: the one request that opens the widget (no login).

The caller proves nothing but a public site key and the page's ``Origin``, so the route gives
out only what any visitor may have: a session of its own and a token scoped to it. Brand-new
visitors are capped per IP (``widget_session``); resuming with a refresh token is not.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.auth.deps import get_auth
from app.auth.service import AuthService
from app.deps import get_services
from app.envelope import error_response, ok
from app.widget.errors import InvalidSiteKey, OriginNotAllowed
from app.widget.keys import site_keys_for
from app.widget.origins import request_origin
from app.widget.session import Resume, open_session, read_resume
from loaders.errors import ServiceUnavailable
from loaders.stack import Services

router = APIRouter(prefix="/api/v1/widget", tags=["widget"])


class SessionRequest(BaseModel):
    site_key: str = Field(min_length=1, max_length=200)
    resume: str | None = Field(
        default=None, max_length=4096, description="The refresh token from an earlier call."
    )
    include_messages: bool = Field(
        default=True, description="False when only refreshing the access token."
    )


@router.post("/session")
async def start_session(
    request: Request,
    body: SessionRequest,
    services: Annotated[Services, Depends(get_services)],
    auth: Annotated[AuthService, Depends(get_auth)],
) -> JSONResponse:
    """A new visitor session, or with ``resume`` the visitor's open one (its recent messages
    included) with a fresh access token; an ended or expired session is replaced."""
    chat = getattr(request.app.state, "chat", None)
    if chat is None:
        raise ServiceUnavailable("The chat service is still starting; retry in a few seconds.")
    origin = request_origin(request.headers.get("origin"))

    def check() -> tuple[dict[str, Any], Resume | None]:
        key = site_keys_for(services).active_key(body.site_key)
        if key is None:
            raise InvalidSiteKey("Unknown or deactivated site key.")
        if origin is None or origin not in key["allowed_origins"]:
            raise OriginNotAllowed("This page's origin may not use this site key.")
        resume = None
        if body.resume:
            resume = read_resume(
                chat, auth.tokens, body.resume, key_id=key["key_id"], origin=origin
            )
        return key, resume

    key, resume = await run_in_threadpool(check)
    if resume is None or resume.session is None:  # any new session counts, resumed or not
        limiter = request.app.state.rate_limiter
        wait = await limiter.check_ip(request.scope, "widget_session")
        if wait > 0:
            response = error_response(
                request,
                429,
                "RATE_LIMITED",
                "Too many new chats from this address; please retry later.",
                {"limit": limiter.limits["widget_session"], "retry_after": int(wait) + 1},
            )
            response.headers.update(limiter.retry_headers("widget_session", wait))
            return response
    payload = await run_in_threadpool(
        open_session,
        chat,
        auth.tokens,
        services.settings,
        key=key,
        origin=str(origin),
        resume=resume,
        include_messages=body.include_messages,
    )
    return ok(request, payload)
