"""The development site key: ``make run`` gets a widget key for its own origins, once.

Only with ``APP_ENV=development`` and only for the server ``supportbot serve`` starts (tests
that inject services never get one). The key is found again by its ``purpose`` on every start,
and the origins of the current host and port are added to it, so changing ``--port`` keeps the
demo working without piling up keys.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import PyMongoError

from app.widget.keys import site_keys_for
from loaders.settings import Settings
from loaders.stack import Services

log = logging.getLogger(__name__)
DEV_PURPOSE = "development"
DEV_CREATOR = "system:dev"
_DEV_ENVS = {"development", "dev"}
_LOOPBACK = {"127.0.0.1", "localhost", "0.0.0.0", "::", "::1", ""}


def is_development(settings: Settings) -> bool:
    return settings.app_env.strip().lower() in _DEV_ENVS


def dev_origins(settings: Settings) -> list[str]:
    """The origins a browser has on the served host and port."""
    hosts = ["127.0.0.1", "localhost"]
    if settings.host not in _LOOPBACK:
        hosts.insert(0, f"[{settings.host}]" if ":" in settings.host else settings.host)
    return [f"http://{h}:{settings.port}" for h in hosts]


def ensure_dev_site_key(svc: Services) -> dict[str, Any] | None:
    """The development key (created, or given this server's origins); ``None`` outside
    development or when MongoDB refuses (the demo page then says how to make one)."""
    settings = svc.settings
    if not is_development(settings):
        return None
    store = site_keys_for(svc)
    origins = dev_origins(settings)
    try:
        found = store.find_purpose(DEV_PURPOSE)
        if found is None:
            return store.create("Development (make run)", origins, DEV_CREATOR, purpose=DEV_PURPOSE)
        if set(origins) - set(found.get("allowed_origins") or []):
            store.add_origins(str(found["key_id"]), origins)
        return store.find_purpose(DEV_PURPOSE)
    except PyMongoError as exc:
        log.warning("could not prepare the development widget key: %s", exc)
        return None


def dev_site_key(svc: Services) -> dict[str, Any] | None:
    """The development key if one exists (the demo page embeds it)."""
    return site_keys_for(svc).find_purpose(DEV_PURPOSE)
