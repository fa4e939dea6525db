"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.envelope import error_response, ok

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> JSONResponse:
    return ok(request, {"status": "ok"})


@router.get("/ready")
def ready(request: Request) -> JSONResponse:
    """503 naming the failed check when a backing service is not usable."""
    svc = getattr(request.app.state, "services", None)
    if svc is None:
        return error_response(request, 503, "NOT_READY", "The service is still starting.")
    checks: dict[str, str] = {}
    try:
        svc.client.admin.command("ping")
        checks["mongodb"] = "ok"
    except Exception as exc:
        checks["mongodb"] = f"failed: {type(exc).__name__}"
    try:
        svc.keyword.count()
        checks["vector_store"] = "ok"
    except Exception as exc:
        checks["vector_store"] = f"failed: {type(exc).__name__}"
    failed = [k for k, v in checks.items() if v != "ok"]
    if failed:
        return error_response(
            request, 503, "NOT_READY", f"Failed checks: {', '.join(failed)}", {"checks": checks}
        )
    return ok(request, {"status": "ready", "checks": checks})
