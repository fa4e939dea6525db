"""Serves the agent inbox page (``GET /agent/``) and its static assets (``/agent/static/...``).

The page is for browsers, so a caller without a valid login goes to the login page (303) and
comes back here afterwards; a logged-in caller who is not staff gets a plain 403 page. The
assets carry the same staff check (any credential): the page that loads them is same-origin,
so the SameSite=Strict cookie goes along. Everything the page shows comes from the agent API
(``/api/v1/agent/...``), which checks the role again on every call.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.auth.deps import STAFF_ROLES, StaffUser, authenticate, get_auth
from app.auth.errors import AuthError
from app.auth.service import AuthService
from loaders.errors import NotFound, SupportbotError

router = APIRouter(tags=["agent inbox"], include_in_schema=False)
STATIC_DIR = Path(__file__).parent / "static"
LOGIN_URL = "/login?next=/agent/"
# A fixed list, not a directory listing: nothing else under static/ is ever served.
ASSETS = {
    "inbox.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "view.js": "text/javascript; charset=utf-8",
    "inbox.css": "text/css; charset=utf-8",
}
# No inline script or style anywhere: customer text that slipped into markup could not run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_FORBIDDEN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>supportbot: not allowed</title></head>
<body><h1>Not allowed</h1><p>{message}</p>
<p>The agent inbox is for support agents and admins.</p>
<form method="post" action="/logout"><button type="submit">Log in as someone else</button></form>
</body></html>"""


@cache
def _template() -> str:
    """Read once, on the first request (nothing touches the disk at import)."""
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8")


def render_page(user: dict[str, Any]) -> str:
    """The page with the agent's identity in ``<meta>`` tags (escaped; read by inbox.js)."""
    values = {
        "agent_id": str(user.get("user_id", "")),
        "agent_name": str(user.get("full_name") or user.get("email") or ""),
        "agent_role": str(user.get("role", "")),
    }
    page = _template()
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value, quote=True))
    return page


def _forbidden(message: str) -> HTMLResponse:
    body = _FORBIDDEN.format(message=html.escape(message))
    return HTMLResponse(body, status_code=403, headers=PAGE_HEADERS)


@router.get("/agent/", response_model=None)
def inbox_page(request: Request, auth: Annotated[AuthService, Depends(get_auth)]) -> Response:
    """The inbox for staff; anyone not logged in is sent to log in and back (303)."""
    try:
        user = authenticate(request, auth)
    except AuthError:  # missing, expired or bad token: logging in again fixes it
        return RedirectResponse(LOGIN_URL, status_code=303)
    except SupportbotError as exc:  # a disabled account: logging in again would not help
        return _forbidden(exc.message)
    if user.get("role") not in STAFF_ROLES:
        return _forbidden("Your role does not allow this page.")
    return HTMLResponse(render_page(user), headers=PAGE_HEADERS)


@router.get("/agent/static/{name}", response_model=None)
async def inbox_asset(name: str, user: StaffUser) -> FileResponse:
    """One of ``ASSETS`` with its content type; anything else is 404."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"No inbox asset named {name!r}.")
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=headers)
