"""FastAPI dependencies: the shared services and the caller's identity (auth plugs in here)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from loaders.errors import ServiceUnavailable
from loaders.stack import Services


def get_services(request: Request) -> Services:
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ServiceUnavailable("The service is still starting; retry in a few seconds.")
    return services  # type: ignore[no-any-return]


def current_user(request: Request) -> dict[str, Any] | None:
    """The authenticated caller; ``None`` until the auth issue adds JWT checks here."""
    return getattr(request.state, "user", None)


def require_admin(request: Request) -> dict[str, Any] | None:
    """Guards knowledge-base writes; becomes an admin-role check with auth."""
    return current_user(request)
