"""FastAPI dependencies: the shared services and, for older imports, the caller's identity.

The identity checks live in ``app.auth.deps`` (which imports ``get_services`` from here), so
``current_user`` and ``require_admin`` import it when called rather than at module level.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from loaders.errors import ServiceUnavailable
from loaders.stack import Services


async def get_services(request: Request) -> Services:
    """The app's services (async: no work to do, so no thread-pool hop per request)."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ServiceUnavailable("The service is still starting; retry in a few seconds.")
    return services  # type: ignore[no-any-return]


def current_user(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> dict[str, Any]:
    """The authenticated caller (401 otherwise); same as ``app.auth.deps.authenticated_user``."""
    from app.auth.deps import authenticate
    from app.auth.service import auth_service_for

    return authenticate(request, auth_service_for(services.extras, services.db, services.settings))


async def require_admin(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
    """An admin caller (403 for other roles)."""
    from app.auth.errors import Forbidden

    if user.get("role") != "admin":
        raise Forbidden("Your role does not allow this action.")
    return user
