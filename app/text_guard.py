"""Bad text never reaches a route: one pure ASGI check of every JSON body, form and query.

Routes (REST, LangServe's ``/chat/*``, admin) share one rule set, ``loaders.text_checks``: a lone
surrogate anywhere, a body that is not UTF-8, or a control character in an identifier, a name
or an email gets 422 ``INVALID_TEXT``; control characters in free text (``message``,
``question``, ``query``, ``content``, ``comment``, ``description``, ``texts``...) are removed
before the route sees the body. Multipart uploads are not buffered here: their form fields are
checked by ``IngestOptions.validated`` (an upload's bytes are the parsers' business).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.envelope import send_error
from loaders.errors import InvalidInput
from loaders.text_checks import CONTROL, InvalidText, TreeCleaner, check_text

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a JSON text must contain for a check to matter: an escape that can spell a control
# character or a surrogate (\u0000, \ud800, \b, \f), DEL or C1.
_SUSPECT = re.compile(r"\\[ubf]|[\x7f-\x9f]")
_PERCENT_CONTROL = re.compile(rb"%(?:[01][0-9a-f]|7f|c2%[89][0-9a-f])", re.I)


class TextGuard:
    """Pure ASGI middleware; sits inside ``BodySizeLimit`` so it only ever buffers capped bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_query(scope.get("query_string") or b"")
            kind = body_kind(scope)
            if kind is None:
                await self.app(scope, receive, send)
                return
            body = await read_body(receive)
            cleaned = check_body(kind, body)
        except InvalidInput as exc:
            await _refuse(scope, send, exc)
            return
        if cleaned is not None:
            body = cleaned
            scope = _with_length(scope, len(body))
        await self.app(scope, _replay(body, receive), send)


def body_kind(scope: Scope) -> str | None:
    """``json`` or ``form`` for bodies this guard checks; ``None`` to pass the request on."""
    if scope["method"] not in _BODY_METHODS:
        return None
    ctype = _header(scope, b"content-type").split(";", 1)[0].strip().lower()
    if ctype in ("", "application/json") or ctype.endswith("+json"):
        return "json"  # FastAPI parses a body without a content type as JSON too
    if ctype == "application/x-www-form-urlencoded":
        return "form"
    return None  # multipart uploads, anything else: not ours


def check_body(kind: str, body: bytes) -> bytes | None:
    """The body to pass on when free text was stripped, ``None`` when it is fine as sent.

    Raises:
        InvalidText: lone surrogates, a non-UTF-8 body, control characters in identifiers.
    """
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidText(
            f"The request body is not valid UTF-8 (first bad byte at offset {exc.start}). "
            "Send JSON and form data encoded as UTF-8.",
            details={"field": "body", "reason": "not_utf8", "position": exc.start},
        ) from exc
    if kind == "form":
        for name, value in parse_qsl(text, keep_blank_values=True):
            check_text(value, name, free_text=False)
        return None
    if not _SUSPECT.search(text):
        return None  # the common case: nothing to check, no second parse
    try:
        document = json.loads(text)
        cleaner = TreeCleaner()
        cleaned = cleaner.clean(document)
    except (ValueError, RecursionError):
        return None  # malformed or absurdly deep JSON: the route's own parser refuses it
    if not cleaner.stripped:
        return None
    return json.dumps(cleaned, ensure_ascii=False).encode("utf-8")


def check_query(query: bytes) -> None:
    """Query parameters are filters and ids, never free text: control characters are refused."""
    if not _PERCENT_CONTROL.search(query):
        return
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if CONTROL.search(value):
            check_text(value, name, free_text=False)


async def read_body(receive: Receive) -> bytes:
    """The whole request body (``BodySizeLimit`` outside this middleware caps it)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, once the client goes

    return replay


def _with_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def _refuse(scope: Scope, send: Send, exc: InvalidInput) -> None:
    state: dict[str, Any] = scope.get("state") or {}
    await send_error(
        send,
        status=exc.status,
        code=exc.code,
        message=exc.message,
        details=exc.details,
        request_id=state.get("request_id") or _header(scope, b"x-request-id") or None,
    )
