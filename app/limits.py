"""Request body limits enforced while the body streams in, before it is parsed or stored.

Uploads over the limit get 413 without being read into memory: a declared Content-Length is
refused up front, and a chunked body is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.envelope import send_error


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Pure ASGI middleware; ``limit_for(path)`` gives the byte limit for a route."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_413(send, limit, headers)
            return
        seen = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                if not started:
                    started = True
                    await _send_413(send, limit, headers)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await _send_413(send, limit, headers)


async def _send_413(send: Send, limit: int, headers: dict[bytes, bytes]) -> None:
    mb = limit / (1024 * 1024)
    await send_error(
        send,
        status=413,
        code="FILE_TOO_LARGE",
        message=f"The request body is larger than the {mb:.1f} MB limit.",
        details={"limit_bytes": limit},
        request_id=headers.get(b"x-request-id", b"").decode() or None,
        headers=[(b"connection", b"close")],
    )
