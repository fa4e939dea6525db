"""The seed's response envelope, request ids, and the one place errors become HTTP responses.

Every response body passes ``jsonable``, so every timestamp in the API has one format
(``format_timestamp``): datetimes from MongoDB, and the strings nx-27017 hands back for
datetimes written with ``$set`` ("2026-12-03 14:23:22.044000"), alike.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from loaders.errors import SupportbotError

log = logging.getLogger(__name__)
API_VERSION = "v1"
_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}
# Strings under these keys (and any key ending in ``_at``) are timestamps when they parse.
_TIMESTAMP_KEYS = frozenset(
    {"timestamp", "at", "last_activity", "start", "end", "since", "until", "estimated_completion"}
)
_TIMESTAMP_TEXT = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?", re.A
)


def format_timestamp(value: datetime) -> str:
    """The API's one timestamp format: ISO 8601 in UTC, microseconds, ``+00:00``.

    ``meta.timestamp`` always had it; a fixed ``timespec`` keeps a whole second from dropping
    the fraction. Naive datetimes are UTC (how the app stores them).
    """
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def _timestamp_text(value: str) -> str:
    if not _TIMESTAMP_TEXT.fullmatch(value):
        return value
    try:
        return format_timestamp(datetime.fromisoformat(value))
    except ValueError:
        return value


def _timestamp_key(key: str) -> bool:
    return key in _TIMESTAMP_KEYS or key.endswith("_at")


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if not rid:
        rid = request.headers.get("x-request-id") or str(uuid.uuid4())
        request.state.request_id = rid
    return str(rid)


def meta(request: Request) -> dict[str, Any]:
    return {
        "request_id": request_id(request),
        "timestamp": format_timestamp(datetime.now(UTC)),
        "version": API_VERSION,
    }


def ok(request: Request, data: Any, status_code: int = 200) -> JSONResponse:
    """A success envelope."""
    body = {"success": True, "data": data, "error": None, "meta": meta(request)}
    return JSONResponse(jsonable(body), status_code=status_code)


def error_response(
    request: Request, status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    rid = request_id(request)
    body = {
        "success": False,
        "data": None,
        "error": {"code": code, "message": message, "details": details or {}, "trace_id": rid},
        "meta": meta(request),
    }
    headers = {"X-Request-ID": rid}
    return JSONResponse(jsonable(body), status_code=status, headers=headers)


def jsonable(value: Any) -> Any:
    """JSON-ready data with every timestamp in ``format_timestamp``'s format."""
    return _encode(value, "")


def _encode(value: Any, key: str) -> Any:
    if isinstance(value, str):
        return _timestamp_text(value) if key and _timestamp_key(key) else value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, dict):
        return {
            (k if isinstance(k, str) else _plain(k)): _encode(v, k if isinstance(k, str) else "")
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_encode(v, key) for v in value]
    return _encode(_plain(value), key)  # models, enums, dates, ids: FastAPI's encoder


def _plain(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value, custom_encoder={datetime: format_timestamp})


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to the envelope: domain errors keep their code, nothing leaks a 500."""

    @app.exception_handler(SupportbotError)
    async def _domain(request: Request, exc: SupportbotError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        message = f"Invalid value for '{first['field']}': {first['message']}"
        return error_response(request, 422, "VALIDATION_ERROR", message, {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return error_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(ServerSelectionTimeoutError)
    @app.exception_handler(ConnectionFailure)
    async def _mongo_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("MongoDB unreachable: %s", type(exc).__name__)
        return error_response(
            request,
            503,
            "DATABASE_UNAVAILABLE",
            "The database is unreachable right now; please retry shortly.",
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "INTERNAL_ERROR", "Something went wrong on our side.")


async def send_error(
    send: Any,
    *,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any],
    request_id: str | None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """The error envelope from pure ASGI middleware (body limits, rate limits), which answer
    before FastAPI's handlers exist for the request."""
    rid = request_id or str(uuid.uuid4())
    body = {
        "success": False,
        "data": None,
        "error": {"code": code, "message": message, "details": details, "trace_id": rid},
        "meta": {
            "request_id": rid,
            "timestamp": format_timestamp(datetime.now(UTC)),
            "version": API_VERSION,
        },
    }
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                (b"x-request-id", rid.encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})
