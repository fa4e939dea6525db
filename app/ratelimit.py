"""Rate limits on every route (LangServe's ``/chat/*`` too), as a pure ASGI middleware.

Each request falls in one class with its own budget per sliding window: ``login`` (per IP and
per email, so neither many accounts from one address nor one account from many addresses can
be brute-forced), ``register`` (per IP), ``chat`` (chat turns) and ``api`` (everything else).
The caller is the verified access token's ``sub`` (header or login cookie) or the API key's
principal; anyone else, including a caller with an invalid credential, is limited by IP. A
widget visitor's token counts against the visitor *and* its IP (visitors are anonymous: a new
one costs nothing). ``widget_session`` (new visitor sessions per IP, an hourly window) is
checked by the widget's route itself, which alone knows whether a request starts a session.
Over the limit: 429 with ``Retry-After`` and the RATE_LIMITED envelope. Keys follow the seed:
``ratelimit:{caller}:{class}``. Health, readiness and metrics are never limited.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.api_keys import SECRET_PREFIX
from app.auth.deps import API_KEY_HEADER, COOKIE_NAME
from app.envelope import send_error
from loaders.rate_windows import Windows, make_windows
from loaders.settings import Settings

EXEMPT = frozenset({"/health", "/ready", "/metrics"})
LOGIN_PATHS = frozenset({"/api/v1/users/login", "/login"})
REGISTER_PATH = "/api/v1/users/register"
CHAT_PATH = re.compile(
    r"^/api/v1/chat/sessions/[^/]+/messages$"
    r"|^/chat/(?:c/[^/]+/)?(?:invoke|batch|stream|stream_log|stream_events)$"
)
MAX_LOGIN_BODY = 16 * 1024
API_KEY_TTL_SECONDS = 60.0
WIDGET_SESSION_WINDOW_SECONDS = 3600.0


def classify(method: str, path: str) -> str | None:
    """The request's limit class, or ``None`` when the route is never limited."""
    if path in EXEMPT:
        return None
    if method == "POST":
        if path in LOGIN_PATHS:
            return "login"
        if path == REGISTER_PATH:
            return "register"
        if CHAT_PATH.match(path):
            return "chat"
    return "api"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    """Limits from ``Settings``; callers identified from credentials without a database trip
    (API keys are looked up once a minute per key)."""

    def __init__(self, settings: Settings, windows: Windows | None = None) -> None:
        self.enabled = settings.rate_limit_enabled
        self.window = float(settings.rate_limit_window_seconds)
        self.limits = {
            "api": max(1, settings.rate_limit_per_minute),
            "chat": max(1, settings.rate_limit_chat_per_minute),
            "login": max(1, settings.rate_limit_login_per_minute),
            "register": max(1, settings.rate_limit_login_per_minute),
            "widget_session": max(1, settings.rate_limit_widget_sessions_per_hour),
        }
        self.class_windows = {"widget_session": WIDGET_SESSION_WINDOW_SECONDS}
        self.windows = windows or make_windows(
            settings.redis_url,
            timeout_seconds=settings.redis_timeout_seconds,
            cooldown_seconds=settings.redis_retry_seconds,
        )
        self.settings = settings
        self.rejected: Counter[str] = Counter()  # 429s by class, read by /metrics
        self._tokens: Any = None
        self._api_keys: dict[str, tuple[float, str | None]] = {}

    def _decode(self, token: str, *, visitor: bool = False) -> str | None:
        """``user:<sub>`` (or ``visitor:<sub>``) of a valid token, else ``None`` (IP limit)."""
        try:
            if self._tokens is None:
                from app.auth.tokens import TokenService

                self._tokens = TokenService.from_settings(self.settings)
            claims = self._tokens.decode(token, ("access", "visitor") if visitor else "access")
        except Exception:  # invalid, expired, or auth not configured: not an identity
            return None
        return f"{'visitor' if claims['type'] == 'visitor' else 'user'}:{claims['sub']}"

    def _api_key_owner(self, scope: Scope, secret: str) -> str | None:
        """The key's principal id, cached (positive and negative) for a minute."""
        digest = _digest(secret)
        now = time.monotonic()
        found = self._api_keys.get(digest)
        if found and found[0] > now:
            return found[1]
        owner: str | None = None
        services = getattr(scope["app"].state, "services", None)
        if services is not None:
            from app.auth.service import auth_service_for

            try:
                auth = auth_service_for(services.extras, services.db, services.settings)
                owner = str(auth.api_keys.principal(secret)["user_id"])
            except Exception:  # unknown, revoked, or the database is down: limit by IP
                owner = None
        if len(self._api_keys) > 10_000:
            self._api_keys.clear()
        self._api_keys[digest] = (now + API_KEY_TTL_SECONDS, owner)
        return owner

    def caller(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        """``user:<sub>``, ``visitor:<sub>``, ``apikey:<id>`` or ``ip:<address>``."""
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        sub: str | None = None
        bearer = token.strip() if scheme.lower() == "bearer" else ""
        if bearer and not bearer.startswith(SECRET_PREFIX):
            sub = self._decode(bearer, visitor=True)
        elif key := bearer or headers.get(API_KEY_HEADER.encode(), b"").decode("latin-1").strip():
            owner = self._api_key_owner(scope, key)  # an API key, as a header or a bearer
            if owner:
                return owner
        elif cookie := _cookie(headers.get(b"cookie", b"").decode("latin-1"), COOKIE_NAME):
            sub = self._decode(cookie)
        return sub or client_ip(scope)

    async def check(self, keys: list[str], kind: str) -> float:
        """0 when admitted, else seconds to wait; counts the request when admitted."""
        limit = self.limits[kind]
        window = self.class_windows.get(kind, self.window)
        wait = await self.windows.hit(keys, [limit] * len(keys), window)
        if wait > 0:
            self.rejected[kind] += 1
        return wait

    async def check_ip(self, scope: Scope, kind: str) -> float:
        """For a route that limits itself (``widget_session``): 0, or seconds to wait."""
        if not self.enabled:
            return 0.0
        return await self.check([f"ratelimit:{client_ip(scope)}:{kind}"], kind)

    def retry_headers(self, kind: str, wait: float) -> dict[str, str]:
        """The headers a 429 from a route carries (the middleware's carry the same)."""
        return {
            "Retry-After": str(max(1, math.ceil(wait))),
            "X-RateLimit-Limit": str(self.limits[kind]),
            "X-RateLimit-Remaining": "0",
        }

    async def aclose(self) -> None:
        close = getattr(self.windows, "aclose", None)
        if close is not None:
            await close()


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def login_email(body: bytes, content_type: bytes) -> str | None:
    """The email of a JSON or form login body, normalised as the login route does."""
    value: Any = None
    try:
        if content_type.startswith(b"application/json"):
            value = json.loads(body).get("email")
        else:
            value = next(iter(parse_qs(body.decode()).get("email") or []), None)
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """Up to ``MAX_LOGIN_BODY`` bytes, and the messages to replay to the app."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body") or len(body) > MAX_LOGIN_BODY:
            break
    return body, messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


class RateLimitMiddleware:
    """Pure ASGI (no per-request task or body copy except for logins)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = classify(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if kind is None or not self.limiter.enabled:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if kind in ("login", "register"):
            client = scope.get("client")
            keys = [f"ratelimit:ip:{client[0] if client else 'unknown'}:{kind}"]
        else:
            caller = self.limiter.caller(scope, headers)
            keys = [f"ratelimit:{caller}:{kind}"]
            if caller.startswith("visitor:"):  # anonymous: the address is capped as well
                keys.append(f"ratelimit:{client_ip(scope)}:{kind}")
        if kind == "login":
            body, messages = await _read_body(receive)
            receive = _replay(messages, receive)
            email = login_email(body, headers.get(b"content-type", b""))
            if email:
                keys.append(f"ratelimit:email:{_digest(email)}:login")
        wait = await self.limiter.check(keys, kind)
        if wait > 0:
            await send_429(send, scope, self.limiter.limits[kind], self.limiter.window, wait)
            return
        await self.app(scope, receive, send)


async def send_429(send: Send, scope: Scope, limit: int, window: float, wait: float) -> None:
    retry = max(1, math.ceil(wait))
    state = scope.get("state") or {}
    headers = dict(scope.get("headers") or [])
    await send_error(
        send,
        status=429,
        code="RATE_LIMITED",
        message=f"Too many requests; please retry in {retry} seconds.",
        details={"limit": limit, "window_seconds": window, "retry_after": retry},
        request_id=state.get("request_id") or headers.get(b"x-request-id", b"").decode() or None,
        headers=[
            (b"retry-after", str(retry).encode()),
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", b"0"),
        ],
    )


def install(app: Any, settings: Settings) -> RateLimiter:
    """Add the middleware to ``app`` and keep the limiter on ``app.state`` (for /metrics)."""
    limiter = RateLimiter(settings)
    app.state.rate_limiter = limiter
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    return limiter
