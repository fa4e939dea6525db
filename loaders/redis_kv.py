"""``KeyValueCache`` on Redis, shared by every worker, that degrades to an in-process LRU.

While Redis is down, entries live in a per-process fallback and every key written or deleted
is remembered; when Redis answers again those keys are deleted there first, so an entry cached
before the outage cannot resurface after the state behind it changed. Versioned entries
(``set_json_if_newer``: sessions) are never kept in the fallback: readers that need every
worker to agree get a miss and read MongoDB instead.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from loaders.kv import CacheStats, InProcessKV, KeyValueCache
from loaders.redis_link import (
    DEFAULT_COOLDOWN_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    Outage,
    count_degraded,
    sync_client,
)
from loaders.settings import Settings

log = logging.getLogger(__name__)

# KEYS[1] key; ARGV: value, version field, version, ttl. Writes unless the stored entry
# carries an equal or higher version (compare and set in one step).
SET_IF_NEWER = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if ok and type(doc) == 'table' then
    local have = tonumber(doc[ARGV[2]])
    if have and have >= tonumber(ARGV[3]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
return 1
"""
_DEGRADED = object()  # sentinel: the call was not answered by Redis


class RedisKV:
    """JSON values under their keys with ``EX`` TTLs; never raises because of Redis."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        max_dirty: int = 50_000,
    ) -> None:
        self.client = sync_client(url, timeout_seconds)
        self.outage = Outage("session and config cache", cooldown_seconds)
        self.local = InProcessKV()
        self.stats = CacheStats()
        self.max_dirty = max_dirty
        self._dirty: set[str] = set()
        self._dirty_overflow = False
        self._lock = threading.Lock()
        self._set_if_newer = self.client.register_script(SET_IF_NEWER)

    # -- the protocol ---------------------------------------------------------------------

    def get_json(self, key: str) -> Any | None:
        raw = self._call("get", lambda c: c.get(key))
        if raw is _DEGRADED:
            value = self.local.get_json(key)
        else:
            value = None if raw is None else json.loads(raw)
        self.stats.record(key, value is not None)
        return value

    def set_json(self, key: str, value: Any, ttl_seconds: int) -> None:
        data = json.dumps(value)
        if self._call("set", lambda c: c.set(key, data, ex=max(1, int(ttl_seconds)))) is _DEGRADED:
            self.local.set_json(key, value, ttl_seconds)
            self._mark_dirty(key)

    def set_json_if_newer(
        self, key: str, value: dict[str, Any], version_field: str, ttl_seconds: int
    ) -> None:
        args = [json.dumps(value), version_field, int(value[version_field]), max(1, ttl_seconds)]
        if self._call("set", lambda c: self._set_if_newer([key], args, client=c)) is _DEGRADED:
            self.local.delete(key)
            self._mark_dirty(key)

    def delete(self, *keys: str) -> None:
        if not keys:
            return
        if self._call("delete", lambda c: c.delete(*keys)) is _DEGRADED:
            self.local.delete(*keys)
            for key in keys:
                self._mark_dirty(key)

    # -- degradation ----------------------------------------------------------------------

    def _call(self, op: str, fn: Callable[[Any], Any]) -> Any:
        """``fn(client)``, or ``_DEGRADED`` when Redis is in its cooldown or fails now."""
        if not self.outage.available():
            count_degraded(f"cache_{op}")
            return _DEGRADED
        try:
            if self.outage.down:
                self._replay_invalidations()
            result = fn(self.client)
        except Exception as exc:  # any redis or socket error: degrade, never raise
            if self.outage.failed(f"cache_{op}", exc):
                self.local = InProcessKV()  # nothing from an earlier outage may be served
            count_degraded(f"cache_{op}")
            return _DEGRADED
        if self.outage.succeeded():
            self.local = InProcessKV()
        return result

    def _mark_dirty(self, key: str) -> None:
        with self._lock:
            if len(self._dirty) < self.max_dirty:
                self._dirty.add(key)
            else:
                self._dirty_overflow = True

    def _replay_invalidations(self) -> None:
        """Delete in Redis what changed here during the outage (raises if Redis still fails)."""
        with self._lock:
            keys = sorted(self._dirty)
            overflow = self._dirty_overflow
        for start in range(0, len(keys), 1000):
            self.client.delete(*keys[start : start + 1000])
        with self._lock:
            self._dirty.difference_update(keys)
            self._dirty_overflow = False
        if overflow:
            log.warning(
                "more than %d cache keys changed while Redis was down; older entries may be "
                "served until their TTL",
                self.max_dirty,
            )


def make_kv(settings: Settings) -> KeyValueCache:
    """Redis when ``REDIS_URL`` is set (shared by every worker, degrading in process), else an
    in-process LRU."""
    if settings.redis_url:
        return RedisKV(
            settings.redis_url,
            timeout_seconds=settings.redis_timeout_seconds,
            cooldown_seconds=settings.redis_retry_seconds,
        )
    return InProcessKV()
