"""Origin normalisation: the one ``scheme://host[:port]`` form keys store and requests match."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from app.widget.errors import InvalidOrigin

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")
MAX_ORIGINS = 50


def normalise_origin(value: str) -> str:
    """``value`` as ``scheme://host[:port]`` (lower case, default port dropped), else
    ``InvalidOrigin``: browsers send exactly this form, so a path or wildcard could never match."""
    raw = value.strip() if isinstance(value, str) else ""
    if raw.endswith("/"):
        raw = raw[:-1]
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidOrigin(f"Not an origin: {value!r}.") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if (
        scheme not in _DEFAULT_PORTS
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or "@" in parts.netloc
        or not (_HOST.match(host) or _IPV6.match(f"[{host}]"))
    ):
        raise InvalidOrigin(
            f"Not an origin: {value!r}; use scheme://host[:port], e.g. https://www.example.com."
        )
    shown = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{shown}"
    return f"{scheme}://{shown}:{port}"


def normalise_origins(values: list[str]) -> list[str]:
    """Each origin normalised, duplicates dropped, order kept; at least one, at most 50."""
    if not values:
        raise InvalidOrigin("Give at least one allowed origin.")
    if len(values) > MAX_ORIGINS:
        raise InvalidOrigin(f"At most {MAX_ORIGINS} allowed origins per key.")
    return list(dict.fromkeys(normalise_origin(v) for v in values))


def request_origin(value: str | None) -> str | None:
    """A request's ``Origin`` header normalised, or ``None`` when absent, ``null`` or junk."""
    if not value or value == "null":
        return None
    try:
        return normalise_origin(value)
    except InvalidOrigin:
        return None
