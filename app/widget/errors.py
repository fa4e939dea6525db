"""Widget errors with stable codes (mapped to the envelope by ``app.envelope``)."""

from __future__ import annotations

from loaders.errors import InvalidInput, SupportbotError


class InvalidOrigin(InvalidInput):
    """An allowed origin that is not ``scheme://host[:port]`` over http(s)."""

    code = "INVALID_ORIGIN"


class InvalidSiteKey(SupportbotError):
    """Unknown or deactivated site key; 403, so a 401 always means "refresh your token"."""

    code = "INVALID_SITE_KEY"
    status = 403


class OriginNotAllowed(SupportbotError):
    """The page's ``Origin`` is not one of the key's (or the token's) origins."""

    code = "ORIGIN_NOT_ALLOWED"
    status = 403


class VisitorScope(SupportbotError):
    """A visitor token used outside its own session's routes."""

    code = "VISITOR_SCOPE"
    status = 403
