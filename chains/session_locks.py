"""One turn at a time per session, so a session's messages keep their order and none are lost.

In process, a lock exists only while someone holds or waits for it (reference counted), so
a long-running server does not keep one lock per session it ever saw. With ``REDIS_URL`` the
lock is Redis's (``SET NX PX`` with a token, released only by its owner), so two API processes
never run turns of one session at once; if Redis fails, the in-process lock still orders this
process's turns (logged once per outage).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from loaders.errors import ServiceUnavailable
from loaders.redis_link import Outage, sync_client

LOCK_TTL_SECONDS = 300.0  # longer than any turn (read timeouts included); a crash frees it
WAIT_SECONDS = 120.0
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1])
else return 0 end"""


class LocalLocks:
    """Per-session locks that disappear when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)

    def acquire(self, session_id: str) -> None:
        with self._guard:
            lock, users = self._locks.get(session_id) or (threading.Lock(), 0)
            self._locks[session_id] = (lock, users + 1)
        if not lock.acquire(timeout=WAIT_SECONDS):
            self._drop(session_id)
            raise ServiceUnavailable("Another reply in this chat is still running; retry.")

    def release(self, session_id: str) -> None:
        with self._guard:
            lock, _ = self._locks[session_id]
        lock.release()
        self._drop(session_id)

    def _drop(self, session_id: str) -> None:
        with self._guard:
            lock, users = self._locks[session_id]
            if users <= 1:
                del self._locks[session_id]
            else:
                self._locks[session_id] = (lock, users - 1)

    @contextmanager
    def hold(self, session_id: str) -> Iterator[None]:
        self.acquire(session_id)
        try:
            yield
        finally:
            self.release(session_id)


class RedisLocks(LocalLocks):
    """The in-process lock (cheap ordering within a process) plus Redis's across processes."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._client: Any = sync_client(url, timeout_seconds=1.0)
        self._outage = Outage("session locks")
        self._tokens: dict[str, str] = {}

    def acquire(self, session_id: str) -> None:
        super().acquire(session_id)
        if not self._outage.available():
            return
        token = uuid.uuid4().hex
        try:
            lock = self._client.lock(
                f"lock:session:{session_id}", timeout=LOCK_TTL_SECONDS, sleep=0.02,
                blocking_timeout=WAIT_SECONDS, thread_local=False,
            )  # fmt: skip
            if not lock.acquire(token=token):
                super().release(session_id)
                raise ServiceUnavailable("Another reply in this chat is still running; retry.")
        except ServiceUnavailable:
            raise
        except Exception as exc:  # Redis down: this process's lock still orders its turns
            self._outage.failed("session_lock", exc)
            return
        self._outage.succeeded()
        with self._guard:
            self._tokens[session_id] = token

    def release(self, session_id: str) -> None:
        with self._guard:
            token = self._tokens.pop(session_id, None)
        try:
            if token is not None:
                self._client.eval(_RELEASE, 1, f"lock:session:{session_id}", token)
        except Exception as exc:  # it expires by itself after LOCK_TTL_SECONDS
            self._outage.failed("session_unlock", exc)
        finally:
            super().release(session_id)


def make_locks(redis_url: str | None) -> LocalLocks:
    return RedisLocks(redis_url) if redis_url else LocalLocks()
