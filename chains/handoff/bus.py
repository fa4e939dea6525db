"""Live events for customers and agents: publish from any thread, follow from an SSE stream.

Two channels kinds: ``session:<id>`` (what the session's customer sees: agent messages, handoff
changes, typing) and ``agents`` (queue changes and customer messages for every agent). With
``REDIS_URL`` events go through Redis Streams, so every API process sees every event and a
reconnecting client resumes after its ``Last-Event-ID`` (plain pub/sub would lose what was sent
while it was away); without it, an in-process ring buffer does the same for one process.
Agent presence (who has the inbox open) lives beside the events, in the same place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from loaders.redis_link import Outage, sync_client

log = logging.getLogger(__name__)
BUFFER = 500  # events kept per channel for resuming
MAX_CHANNELS = 10_000  # channels kept in process; the idle ones go first
PRESENCE_SECONDS = 45.0  # an agent is online this long after their stream's last heartbeat
_STREAM_PREFIX = "sb:events:"
_PRESENCE_KEY = "sb:agents:online"


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: dict[str, Any]


def _order(event_id: str) -> tuple[int, int]:
    """Stream ids (``<ms>-<seq>``) in order; anything unparsable sorts first (full replay)."""
    ms, _, seq = event_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


class EventBus(Protocol):
    def publish(self, channel: str, type: str, data: dict[str, Any]) -> str: ...
    def follow(
        self, channel: str, after: str | None, heartbeat: float
    ) -> AsyncIterator[Event | None]: ...
    def cursor(self, channel: str) -> str: ...
    def touch(self, agent_id: str) -> None: ...
    def online(self) -> set[str]: ...


class LocalBus:
    """One process: ring buffers per channel, waiters woken across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffers: dict[str, deque[Event]] = {}
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._last = (0, 0)
        self._presence: dict[str, float] = {}

    def _next_id(self) -> str:
        ms = int(time.time() * 1000)
        self._last = (ms, 0) if ms > self._last[0] else (self._last[0], self._last[1] + 1)
        return f"{self._last[0]}-{self._last[1]}"

    def publish(self, channel: str, type: str, data: dict[str, Any]) -> str:
        with self._lock:
            event = Event(self._next_id(), type, data)
            if channel not in self._buffers and len(self._buffers) >= MAX_CHANNELS:
                self._forget_idle()
            self._buffers.setdefault(channel, deque(maxlen=BUFFER)).append(event)
            waiters = list(self._waiters.get(channel, ()))
        for loop, flag in waiters:
            with contextlib.suppress(RuntimeError):  # the loop has closed: its stream is gone
                loop.call_soon_threadsafe(flag.set)
        return event.id

    def _forget_idle(self) -> None:
        """Drop the oldest half of the channels nobody follows (memory stays bounded)."""
        idle = [c for c in self._buffers if not self._waiters.get(c)]
        for channel in idle[: max(1, len(idle) // 2)]:
            del self._buffers[channel]

    def cursor(self, channel: str) -> str:
        with self._lock:
            buffer = self._buffers.get(channel)
            return buffer[-1].id if buffer else "0-0"  # nothing yet: every later event counts

    def _after(self, channel: str, after: tuple[int, int]) -> list[Event]:
        with self._lock:
            return [e for e in self._buffers.get(channel, ()) if _order(e.id) > after]

    async def follow(
        self, channel: str, after: str | None, heartbeat: float
    ) -> AsyncIterator[Event | None]:
        """Events after ``after`` (none: from now), and ``None`` when ``heartbeat`` passes idle."""
        flag = asyncio.Event()
        waiter = (asyncio.get_running_loop(), flag)
        position = _order(after or self.cursor(channel))
        with self._lock:
            self._waiters.setdefault(channel, set()).add(waiter)
        try:
            while True:
                flag.clear()
                events = self._after(channel, position)
                for event in events:
                    position = _order(event.id)
                    yield event
                if events:
                    continue
                try:
                    await asyncio.wait_for(flag.wait(), heartbeat)
                except TimeoutError:
                    yield None
        finally:
            with self._lock:
                self._waiters.get(channel, set()).discard(waiter)

    def touch(self, agent_id: str) -> None:
        with self._lock:
            self._presence[agent_id] = time.monotonic()

    def online(self) -> set[str]:
        cutoff = time.monotonic() - PRESENCE_SECONDS
        with self._lock:
            return {a for a, at in self._presence.items() if at >= cutoff}


class RedisBus:
    """Every process: Redis Streams (``XADD`` / blocking ``XREAD``) and a presence sorted set.

    Redis being down degrades to this process's ``LocalBus`` (logged once per outage), like
    the caches: a customer on the same process still gets the reply.
    """

    def __init__(self, url: str, *, timeout_seconds: float = 0.5) -> None:
        self.url = url
        self._client = sync_client(url, timeout_seconds)
        self._outage = Outage("live events")
        self._local = LocalBus()

    def _guarded(self, op: str, call: Any, fallback: Any) -> Any:
        if not self._outage.available():
            return fallback()
        try:
            result = call()
        except Exception as exc:  # any Redis failure: serve in process
            self._outage.failed(op, exc)
            return fallback()
        self._outage.succeeded()
        return result

    def publish(self, channel: str, type: str, data: dict[str, Any]) -> str:
        fields = {"type": type, "data": json.dumps(data, default=str)}

        def add() -> str:
            raw = self._client.xadd(_STREAM_PREFIX + channel, fields, maxlen=BUFFER)
            self._client.expire(_STREAM_PREFIX + channel, 7 * 86400)
            return raw.decode() if isinstance(raw, bytes) else str(raw)

        return str(self._guarded("events_publish", add, lambda: self._local.publish(
            channel, type, data)))  # fmt: skip

    def cursor(self, channel: str) -> str:
        def last() -> str:
            entries = self._client.xrevrange(_STREAM_PREFIX + channel, count=1)
            if not entries:
                return "0-0"
            raw = entries[0][0]
            return raw.decode() if isinstance(raw, bytes) else str(raw)

        return str(self._guarded("events_cursor", last, lambda: self._local.cursor(channel)))

    async def follow(
        self, channel: str, after: str | None, heartbeat: float
    ) -> AsyncIterator[Event | None]:
        from redis.asyncio import Redis
        from redis.exceptions import ResponseError

        key = _STREAM_PREFIX + channel
        position = str(after or await asyncio.to_thread(self.cursor, channel))
        client = Redis.from_url(self.url, socket_timeout=heartbeat + 5, socket_connect_timeout=2)
        try:
            while True:
                try:
                    reply: Any = await client.xread(
                        {key: position}, block=int(heartbeat * 1000), count=100
                    )
                except ResponseError:  # an id Redis refuses (the client's): follow from now
                    position = await asyncio.to_thread(self.cursor, channel)
                    continue
                except Exception as exc:  # Redis went away mid-stream: this process's events
                    self._outage.failed("events_follow", exc)
                    async for event in self._local.follow(channel, None, heartbeat):
                        yield event
                        if event is None and self._outage.available():
                            return  # Redis may be back: the client reconnects with its id
                    return
                if not reply:
                    yield None
                    continue
                for raw_id, fields in reply[0][1]:
                    position = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    kind = fields.get(b"type", b"").decode()
                    yield Event(position, kind, json.loads(fields.get(b"data", b"{}")))
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    def touch(self, agent_id: str) -> None:
        def add() -> None:
            self._client.zadd(_PRESENCE_KEY, {agent_id: time.time()})

        self._local.touch(agent_id)
        self._guarded("presence_touch", add, lambda: None)

    def online(self) -> set[str]:
        def members() -> set[str]:
            cutoff = time.time() - PRESENCE_SECONDS
            self._client.zremrangebyscore(_PRESENCE_KEY, "-inf", cutoff)
            raw = self._client.zrangebyscore(_PRESENCE_KEY, cutoff, "+inf")
            return {m.decode() if isinstance(m, bytes) else str(m) for m in raw}

        return set(self._guarded("presence_read", members, self._local.online))


def make_bus(redis_url: str | None) -> EventBus:
    """Redis Streams when ``REDIS_URL`` is set (several API processes), else in process."""
    return RedisBus(redis_url) if redis_url else LocalBus()
