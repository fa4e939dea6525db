"""A small JSON key-value cache shared by the app's caches (sessions, configuration).

``InProcessKV`` is the default when ``REDIS_URL`` is unset; a Redis-backed implementation of
the same protocol shares entries across worker processes. Callers treat every entry as a hint
that may vanish at any time: the source of truth is always MongoDB.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from typing import Any, Protocol


class KeyValueCache(Protocol):
    """JSON values by key with a time to live; misses and failures both return ``None``."""

    shared: bool  # True when every worker process sees the same entries (Redis)

    def get_json(self, key: str) -> Any | None: ...

    def set_json(self, key: str, value: Any, ttl_seconds: int) -> None: ...

    def set_json_if_newer(
        self, key: str, value: dict[str, Any], version_field: str, ttl_seconds: int
    ) -> None:
        """Store ``value`` unless the entry holds an equal or higher ``value[version_field]``:
        a slow reader filling the cache can never overwrite a newer state written meanwhile."""
        ...

    def delete(self, *keys: str) -> None: ...


class CacheStats:
    """Lookups by cache (the key's prefix before the first ``:``) and result, for /metrics."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, key: str, hit: bool) -> None:
        with self._lock:
            self._counts[(key.partition(":")[0], "hit" if hit else "miss")] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


def newer(value: dict[str, Any], current: Any, version_field: str) -> bool:
    """True when ``value`` is newer than ``current`` (absent or without a version: older)."""
    if not isinstance(current, dict):
        return True
    try:
        return int(value[version_field]) > int(current[version_field])
    except (KeyError, TypeError, ValueError):
        return True


class InProcessKV:
    """A bounded LRU with expiry; entries are private to this process."""

    shared = False

    def __init__(self, max_items: int = 10_000) -> None:
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items
        self.stats = CacheStats()

    def get_json(self, key: str) -> Any | None:
        value = self._get(key)
        self.stats.record(key, value is not None)
        return value

    def _get(self, key: str) -> Any | None:
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

    def set_json_if_newer(
        self, key: str, value: dict[str, Any], version_field: str, ttl_seconds: int
    ) -> None:
        with self._lock:
            item = self._items.get(key)
            current = item[1] if item and item[0] >= time.monotonic() else None
            if newer(value, current, version_field):
                self._items[key] = (time.monotonic() + ttl_seconds, value)
                self._items.move_to_end(key)
                while len(self._items) > self._max:
                    self._items.popitem(last=False)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._items.pop(key, None)
