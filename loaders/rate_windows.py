"""Sliding-window counters for rate limits: a Redis sorted set per key, or a deque in process.

``hit(keys, limits, window)`` admits a request only if every key is under its limit in the last
``window`` seconds, and then counts it against all of them (one atomic Lua call in Redis, on
Redis's clock so workers with skewed clocks agree). It returns 0 when admitted, else the
seconds until the oldest counted request leaves the window. Redis failures fall back to the
in-process windows (same semantics, per process) and never raise.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

from loaders.redis_link import (
    DEFAULT_COOLDOWN_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    Outage,
    async_client,
    count_degraded,
)

# KEYS: one sorted set per window; ARGV[1] window ms, ARGV[2] unique member, ARGV[3..] limits.
# Returns 0 (admitted, counted in every key) or the ms until the fullest key has room again.
SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, now .. '-' .. ARGV[2])
  redis.call('PEXPIRE', key, window)
end
return 0
"""


class Windows(Protocol):
    """What the rate-limit middleware needs."""

    async def hit(self, keys: Sequence[str], limits: Sequence[int], window: float) -> float: ...


class LocalWindows:
    """Timestamps per key in process; idle keys are pruned once the table grows large."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.max_keys = max_keys

    async def hit(self, keys: Sequence[str], limits: Sequence[int], window: float) -> float:
        return self.hit_now(keys, limits, window)

    def hit_now(self, keys: Sequence[str], limits: Sequence[int], window: float) -> float:
        now = time.monotonic()
        with self._lock:
            queues = [self._hits.setdefault(k, deque()) for k in keys]
            wait = 0.0
            for q, limit in zip(queues, limits, strict=True):
                while q and q[0] <= now - window:
                    q.popleft()
                if len(q) >= limit:
                    wait = max(wait, q[0] + window - now)
            if wait > 0:
                return wait
            for q in queues:
                q.append(now)
            if len(self._hits) > self.max_keys:
                self._prune(now - window)
        return 0.0

    def _prune(self, horizon: float) -> None:
        for key in [k for k, q in self._hits.items() if not q or q[-1] <= horizon]:
            del self._hits[key]


class RedisWindows:
    """Windows shared by every worker through Redis, degrading to ``LocalWindows``."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
    ) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.outage = Outage("rate limiter", cooldown_seconds)
        self.local = LocalWindows()
        # asyncio connections belong to the loop that opened them: one client per loop.
        self._scripts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def _script(self) -> Any:
        loop = asyncio.get_running_loop()
        script = self._scripts.get(loop)
        if script is None:
            client = async_client(self.url, self.timeout_seconds)
            script = self._scripts[loop] = client.register_script(SLIDING_WINDOW)
        return script

    async def hit(self, keys: Sequence[str], limits: Sequence[int], window: float) -> float:
        if not self.outage.available():
            count_degraded("ratelimit")
            return self.local.hit_now(keys, limits, window)
        member = secrets.token_hex(6)
        try:
            wait_ms = await self._script()(
                keys=list(keys), args=[max(1, int(window * 1000)), member, *limits]
            )
        except Exception as exc:  # any redis or socket error: limit in process instead
            if self.outage.failed("ratelimit", exc):
                self.local = LocalWindows()
            count_degraded("ratelimit")
            return self.local.hit_now(keys, limits, window)
        self.outage.succeeded()
        return float(wait_ms) / 1000

    async def aclose(self) -> None:
        """Close this loop's connections (the app's shutdown)."""
        loop = asyncio.get_running_loop()
        script = self._scripts.pop(loop, None)
        if script is not None:
            await script.registered_client.aclose()


def make_windows(
    redis_url: str | None,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
) -> RedisWindows | LocalWindows:
    """Redis windows when a URL is configured, else per-process ones."""
    if redis_url:
        return RedisWindows(
            redis_url, timeout_seconds=timeout_seconds, cooldown_seconds=cooldown_seconds
        )
    return LocalWindows()
