"""A plain login page for browsers (the LangServe playground cannot send a Bearer header).

``POST /login`` checks the password and puts the access token in an HttpOnly, SameSite=Strict
cookie (Secure over https), then redirects to the playground; ``POST /logout`` clears it.
Scripts and frontends keep using ``/api/v1/users/login`` and Bearer tokens or API keys.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth.deps import COOKIE_NAME, get_auth
from app.auth.service import AuthService
from loaders.errors import SupportbotError

router = APIRouter(tags=["users"], include_in_schema=False)
DEFAULT_NEXT = "/chat/playground/"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>supportbot: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.4rem;box-sizing:border-box}}
button{{margin-top:1rem;padding:.5rem 1rem}}.error{{color:#b00020}}</style></head>
<body><h1>supportbot</h1>{error}
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label for="email">Email</label><input id="email" name="email" type="email" required
 autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password"
 required autocomplete="current-password">
<button id="login" type="submit">Log in</button></form>
<form method="post" action="/logout"><button id="logout" type="submit">Log out</button></form>
</body></html>"""


def safe_next(value: str | None) -> str:
    """Only same-site paths: an open redirect would hand the freshly logged-in user away.

    Control characters are refused too: browsers drop a tab or newline from a URL, which
    would turn ``/<tab>/evil.example`` into ``//evil.example``.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return DEFAULT_NEXT
    if "\\" in value or not value.isprintable():
        return DEFAULT_NEXT
    return value


def _page(next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = _PAGE.format(error=message, next=html.escape(safe_next(next_path), quote=True))
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}
    return HTMLResponse(body, status_code=status, headers=headers)


def _secure(request: Request, configured: bool | None) -> bool:
    if configured is not None:
        return configured
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


@router.get("/login")
def login_page(next: str = DEFAULT_NEXT) -> HTMLResponse:
    return _page(next)


@router.post("/login", response_model=None)
async def login_form(
    request: Request,
    auth: Annotated[AuthService, Depends(get_auth)],
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = DEFAULT_NEXT,
) -> Response:
    """Set the cookie and go on to ``next``; a failed login shows the form again (401)."""
    try:
        user = await run_in_threadpool(auth.check_credentials, email, password)
    except SupportbotError as exc:
        return _page(next, exc.message, status=exc.status)
    token = auth.tokens.issue_access(user["user_id"], user["role"])
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=auth.tokens.access_ttl,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request, auth_cookie_secure(request)),
    )
    return response


def auth_cookie_secure(request: Request) -> bool | None:
    services = getattr(request.app.state, "services", None)
    return services.settings.auth_cookie_secure if services is not None else None


@router.post("/logout")
def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request, auth_cookie_secure(request)),
    )
    return response
