"""``/widget.js`` (the embeddable ES module) and ``/widget/demo`` (a page that embeds it).

The script is read once and kept with its gzip form and an ETag. It is a public file loaded as
a cross-origin *module* script, which browsers fetch with CORS, so it carries
``Access-Control-Allow-Origin: *`` (the API routes never do). Its URL is not versioned, so
caches keep it only briefly and revalidate with the ETag.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from app.deps import get_services
from app.widget.dev import dev_site_key
from loaders.stack import Services

STATIC_DIR = Path(__file__).parent / "static"
SCRIPT = STATIC_DIR / "widget.js"
CACHE_CONTROL = "public, max-age=300, must-revalidate"
router = APIRouter(include_in_schema=False)
demo_router = APIRouter(include_in_schema=False)  # not mounted in production (``install_widget``)
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str


@lru_cache(maxsize=4)
def load_asset(path: Path = SCRIPT) -> Asset:
    body = path.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Asset(body, gzip.compress(body, compresslevel=9, mtime=0), etag)


@router.get("/widget.js")
def widget_js(request: Request) -> Response:
    with _LOCK:  # one read of the file, whichever request comes first
        asset = load_asset()
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body, headers["Content-Encoding"] = asset.gzipped, "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


_DEMO = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tasklane help centre (widget demo)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;
line-height:1.5;color:#1f2933}}code{{background:#f1f3f5;padding:.1rem .3rem;border-radius:4px}}
pre{{white-space:pre-wrap;word-break:break-all}}
.note{{background:#fff8e1;border:1px solid #f0d98c;padding:.6rem .9rem;border-radius:6px}}
</style></head><body>
<h1>Tasklane help centre</h1>
<p>This page stands in for a customer's website: the chat bubble in the corner is the
supportbot widget, embedded with one tag. Ask it about Tasklane (the sample knowledge base),
or press <em>Talk to a person</em> and answer from the agent inbox.</p>
{body}
</body></html>"""

_EMBED = """<pre><code>{tag}</code></pre>{warning}
{script}"""

_NO_KEY = """<p class="note">No development site key yet. Start the server with
<code>make run</code> (APP_ENV=development), or create a key as an admin with
<code>POST /api/v1/admin/widget-keys</code>.</p>"""


def _tag(key: str, src: str) -> str:
    return (
        f'<script type="module" src="{html.escape(src, quote=True)}" '
        f'data-site-key="{html.escape(key, quote=True)}" data-title="Tasklane support" '
        'data-greeting="Hi! Ask me anything about Tasklane." data-position="right" '
        'data-color="#3b5bdb"></script>'
    )


@demo_router.get("/widget/demo")
def demo(request: Request, services: Annotated[Services, Depends(get_services)]) -> HTMLResponse:
    """What a customer sees; no login."""
    key = dev_site_key(services)
    if key is None:
        body = _NO_KEY
    else:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        warning = ""
        if origin not in key["allowed_origins"]:
            allowed = ", ".join(key["allowed_origins"])
            warning = (
                f'<p class="note">This page\'s origin {html.escape(origin)} is not one of the '
                f"development key's origins ({html.escape(allowed)}): open the demo there.</p>"
            )
        tag = _tag(str(key["key"]), "/widget.js")
        body = _EMBED.format(tag=html.escape(tag), warning=warning, script=tag)
    headers = {"Cache-Control": "no-store"}
    return HTMLResponse(_DEMO.format(body=body), headers=headers)
