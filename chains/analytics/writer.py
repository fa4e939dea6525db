"""The analytics event writer: a bounded queue drained by one thread in ``insert_many`` batches.

A turn only appends to a queue (microseconds), so writing events never adds latency to a turn
and a MongoDB hiccup never fails one: a batch is retried with backoff, then counted as failed
and logged. Retries cannot duplicate events: ``event_id`` is unique, and duplicate-key errors of
a half-written batch count as written. ``close()`` flushes what is queued.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime
from typing import Any, Protocol

from langchain_core.messages import BaseMessage
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, PyMongoError

from chains.analytics.events import EventType, make_event, turn_events

log = logging.getLogger(__name__)
DUPLICATE_KEY = 11000


class EventSink(Protocol):
    """Where the chat code sends events (the writer, or a test double of the same shape)."""

    def emit(
        self,
        event_type: EventType,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None: ...


class AnalyticsWriter:
    """Batches events into ``collection``; counts ``written``, ``failed`` and ``dropped``."""

    def __init__(
        self,
        collection: Collection[dict[str, Any]],
        *,
        metadata: dict[str, Any] | None = None,
        batch_size: int = 500,
        flush_seconds: float = 0.5,
        max_queue: int = 10_000,
        retries: int = 3,
        backoff_seconds: float = 0.2,
    ) -> None:
        self.collection = collection
        self.metadata = dict(metadata or {})
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.retries = retries
        self.backoff = backoff_seconds
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self.written = self.failed = self.dropped = 0

    def start(self) -> AnalyticsWriter:
        self._thread = threading.Thread(target=self._run, name="analytics-writer", daemon=True)
        self._thread.start()
        return self

    def emit(
        self,
        event_type: EventType,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Queue one event; never blocks and never raises (a full queue drops and counts)."""
        if self._stop.is_set():
            self.dropped += 1  # closed: nothing would write it
            return
        doc = make_event(
            event_type,
            session_id=session_id,
            user_id=user_id,
            data=data or {},
            metadata=self.metadata,
            at=at,
        )
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(doc)
        except queue.Full:
            self._done(1)
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10_000 == 0:
                log.warning("analytics queue full: %d events dropped so far", self.dropped)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is written or given up on; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread after it has drained the queue (or write here if it never ran)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            while self._drain_once(block=False):
                pass

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            self._drain_once(block=True)

    def _drain_once(self, *, block: bool) -> bool:
        """Write one batch (waiting up to ``flush_seconds`` for a first event when ``block``)."""
        batch: list[dict[str, Any]] = []
        try:
            if block:
                batch.append(self._queue.get(timeout=self.flush_seconds))
            while len(batch) < self.batch_size:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if batch:
            self._write(batch)
        return bool(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(self.retries):
            try:
                self.collection.insert_many([dict(d) for d in batch], ordered=False)
                self.written += len(batch)
                self._done(len(batch))
                return
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if all(e.get("code") == DUPLICATE_KEY for e in errors):
                    self.written += len(batch)  # an earlier attempt wrote these
                    self._done(len(batch))
                    return
                error: Exception = exc
            except PyMongoError as exc:
                error = exc
            if attempt + 1 < self.retries:
                time.sleep(self.backoff * 2**attempt)
        self.failed += len(batch)
        self._done(len(batch))
        log.warning("analytics: %d events not written: %s", len(batch), type(error).__name__)

    def _done(self, n: int) -> None:
        with self._idle:
            self._pending -= n
            if self._pending <= 0:
                self._idle.notify_all()


def emit_turn(
    sink: EventSink,
    message: BaseMessage,
    *,
    question: str,
    session_id: str,
    user_id: str | None,
    session: dict[str, Any] | None,
    at: datetime,
) -> None:
    """Emit a finished turn's events; analytics must never fail a turn, so nothing escapes."""
    try:
        for event_type, data in turn_events(message, question, session, at):
            sink.emit(event_type, session_id=session_id, user_id=user_id, data=data, at=at)
    except Exception:
        log.exception("analytics: could not emit the events of a turn")
