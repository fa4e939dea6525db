"""A small JSON key-value cache shared by the app's caches (sessions, configuration).

``InProcessKV`` is the default when ``REDIS_URL`` is unset; a Redis-backed implementation of
the same protocol shares entries across worker processes. Callers treat every entry as a hint
that may vanish at any time: the source of truth is always MongoDB.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from loaders.settings import Settings


class KeyValueCache(Protocol):
    """JSON values by key with a time to live; misses and failures both return ``None``."""

    shared: bool  # True when every worker process sees the same entries (Redis)

    def get_json(self, key: str) -> Any | None: ...

    def set_json(self, key: str, value: Any, ttl_seconds: int) -> None: ...

    def delete(self, *keys: str) -> None: ...


class InProcessKV:
    """A bounded LRU with expiry; entries are private to this process."""

    shared = False

    def __init__(self, max_items: int = 10_000) -> None:
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items

    def get_json(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def set_json(self, key: str, value: Any, ttl_seconds: int) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl_seconds, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._items.pop(key, None)


def make_kv(settings: Settings) -> KeyValueCache:
    """The cache for ``settings``: in process until the Redis implementation is wired here."""
    return InProcessKV()
