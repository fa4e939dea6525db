"""CORS for the widget's routes, with origins taken from the active site keys (pure ASGI).

Starlette's ``CORSMiddleware`` has a fixed list (``CORS_ORIGINS``); widget origins change
whenever an admin adds a key, so this middleware asks the site-key cache instead. It covers
only the routes a visitor uses, echoes the one allowed origin (never ``*``, with
``Vary: Origin``), sends no credentials header (visitors use Bearer tokens, never cookies),
and leaves origins from ``CORS_ORIGINS`` to the configured middleware. Added outermost, so
401s and 429s carry the headers too and the browser can show the real error.
"""

from __future__ import annotations

from anyio import to_thread
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.widget.keys import EXTRAS_KEY, site_keys_for
from app.widget.origins import request_origin

PATH_PREFIXES = ("/api/v1/widget/", "/api/v1/chat/sessions/")
EXACT_PATHS = frozenset({"/chat/feedback"})
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, Last-Event-ID, X-Request-ID"
EXPOSE_HEADERS = "X-Request-ID, Retry-After"
MAX_AGE = "600"


def widget_path(path: str) -> bool:
    return path in EXACT_PATHS or path.startswith(PATH_PREFIXES)


class WidgetCors:
    """Answers widget preflights and adds ``Access-Control-Allow-Origin`` for key origins."""

    def __init__(self, app: ASGIApp, static_origins: list[str] | None = None) -> None:
        self.app = app
        self.static_origins = frozenset(static_origins or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not widget_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = {k: v for k, v in scope.get("headers") or []}
        raw = headers.get(b"origin", b"").decode("latin-1")
        if not raw or raw in self.static_origins or not await self._allowed(scope, raw):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(send, raw)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = raw
                out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _allowed(scope: Scope, raw: str) -> bool:
        origin = request_origin(raw)
        services = getattr(scope["app"].state, "services", None)
        if origin is None or services is None:
            return False
        store = services.extras.get(EXTRAS_KEY)
        if store is not None and store.fresh():  # the usual case: no thread hop, no read
            return bool(store.origin_allowed(origin))
        return await to_thread.run_sync(lambda: site_keys_for(services).origin_allowed(origin))

    @staticmethod
    async def _preflight(send: Send, origin: str) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                    (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                    (b"access-control-max-age", MAX_AGE.encode()),
                    (b"vary", b"Origin"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
