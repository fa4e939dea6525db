"""Redis outages: one breaker per Redis user, logged once per outage and counted per process.

Redis is an optimisation, never a dependency. After a failed call a component stops talking to
Redis for ``cooldown_seconds`` (so a dead Redis costs one timeout per window, not one per
request), serves from its in-process fallback, and tries again when the window has passed.
The counters are module-level so ``app/observability.py`` can read them at scrape time without
``loaders`` importing ``app``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 0.25
DEFAULT_COOLDOWN_SECONDS = 3.0

_lock = threading.Lock()
_errors: Counter[str] = Counter()  # failed Redis calls, by operation
_degraded: Counter[str] = Counter()  # operations served by a fallback, by operation


def count_error(op: str) -> None:
    with _lock:
        _errors[op] += 1


def count_degraded(op: str) -> None:
    with _lock:
        _degraded[op] += 1


def error_counts() -> dict[str, int]:
    """Failed Redis calls in this process by operation (``supportbot_redis_errors_total``)."""
    with _lock:
        return dict(_errors)


def degraded_counts() -> dict[str, int]:
    """Operations answered in process because Redis was down (``supportbot_redis_degraded``)."""
    with _lock:
        return dict(_degraded)


class Outage:
    """Circuit breaker for one component's use of Redis.

    ``available()`` is False during the cooldown after a failure; ``failed()`` returns True on
    the first failure of an outage (log WARNING once); ``succeeded()`` returns True when a call
    works again after an outage (log INFO once).
    """

    def __init__(self, name: str, cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS) -> None:
        self.name = name
        self.cooldown_seconds = cooldown_seconds
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def available(self) -> bool:
        return time.monotonic() >= self._retry_at

    def failed(self, op: str, exc: BaseException) -> bool:
        count_error(op)
        now = time.monotonic()
        with self._lock:
            first = self._down_since is None
            if first:
                self._down_since = now
            self._retry_at = now + self.cooldown_seconds
        if first:
            log.warning(
                "Redis unavailable for the %s (%s: %s); serving in process and retrying every "
                "%.0f s",
                self.name,
                type(exc).__name__,
                exc,
                self.cooldown_seconds,
            )
        return first

    def succeeded(self) -> bool:
        if self._down_since is None:
            return False
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is None:
            return False
        log.info("Redis is back for the %s after %.1f s", self.name, time.monotonic() - since)
        return True


def sync_client(url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Any:
    """A blocking client with short timeouts and no retries (a fallback beats waiting)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
    )


def async_client(url: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Any:
    """The asyncio twin of ``sync_client`` (one per event loop: connections are loop-bound)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
    )
