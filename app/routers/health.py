"""Liveness (``/health``) and readiness (``/ready``: every backing service the answers need)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.envelope import error_response, ok
from loaders.stack import Services

router = APIRouter(tags=["health"])
PING_TIMEOUT_SECONDS = 1.0


@router.get("/health")
def health(request: Request) -> JSONResponse:
    """Liveness only: the process answers; backing services are ``/ready``'s business."""
    return ok(request, {"status": "ok"})


def _mongodb(svc: Services) -> None:
    svc.client.admin.command("ping")


def _redis(svc: Services) -> None:
    import redis

    client = redis.Redis.from_url(
        str(svc.settings.redis_url),
        socket_timeout=PING_TIMEOUT_SECONDS,
        socket_connect_timeout=PING_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def _vector_store(svc: Services) -> None:
    svc.keyword.count()
    count = getattr(svc.dense, "count", None)
    if callable(count):
        count()


def _llm(svc: Services) -> None:
    """The active chat model (the admin's runtime choice) has its credentials."""
    from chains.providers import load_chat_model
    from chains.runtime_config import runtime_store_for
    from chains.runtime_settings import to_configurable

    stored = runtime_store_for(svc).active().settings
    load_chat_model(to_configurable(stored)["model"], svc.settings)


def readiness_checks(svc: Services) -> dict[str, str]:
    """``{check: "ok" | "failed: <reason>"}``; Redis only when ``REDIS_URL`` is set."""
    checks: dict[str, Callable[[Services], Any]] = {"mongodb": _mongodb}
    if svc.settings.redis_url:
        checks["redis"] = _redis
    checks |= {"vector_store": _vector_store, "llm": _llm}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check(svc)
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; the type says which kind
            results[name] = f"failed: {getattr(exc, 'code', None) or type(exc).__name__}"
    return results


@router.get("/ready")
def ready(request: Request) -> JSONResponse:
    """503 naming the failed checks when a backing service is not usable, else 200."""
    svc = getattr(request.app.state, "services", None)
    if svc is None:
        return error_response(request, 503, "NOT_READY", "The service is still starting.")
    checks = readiness_checks(svc)
    failed = [k for k, v in checks.items() if v != "ok"]
    if failed:
        return error_response(
            request, 503, "NOT_READY", f"Failed checks: {', '.join(failed)}", {"checks": checks}
        )
    return ok(request, {"status": "ready", "checks": checks})
