"""FastAPI dependency for the app's shared services (who is calling lives in
``app.auth.deps``)."""

from __future__ import annotations

from fastapi import Request

from loaders.errors import ServiceUnavailable
from loaders.stack import Services


async def get_services(request: Request) -> Services:
    """The app's services (async: no work to do, so no thread-pool hop per request)."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ServiceUnavailable("The service is still starting; retry in a few seconds.")
    return services  # type: ignore[no-any-return]
