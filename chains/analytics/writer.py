"""The analytics event writer: a bounded queue drained by one thread in ``insert_many`` batches.

A turn only appends to a queue (microseconds), so writing events never adds latency to a turn
and a MongoDB hiccup never fails one: a batch is retried with backoff, then counted as failed
and logged. Retries cannot duplicate events: ``event_id`` is unique, and duplicate-key errors of
a half-written batch count as written. ``close()`` flushes what is queued.

Each batch also updates the dashboard's summaries, journalled so that they never drift from the
events (``chains.analytics.summaries``); when idle the thread repairs stale journal entries.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from langchain_core.messages import BaseMessage
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from chains.analytics.events import EventType, make_event, turn_events
from chains.analytics.rollup import Rollup
from chains.analytics.summaries import (
    RollupConflict,
    apply_hours,
    apply_sessions,
    journal,
    repair,
    repair_stale,
    settle,
)

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
        repair_seconds: float = 60.0,
    ) -> None:
        self.collection = collection
        self.metadata = dict(metadata or {})
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.retries = retries
        self.backoff = backoff_seconds
        self.repair_seconds = repair_seconds
        self._next_repair = time.monotonic() + repair_seconds
        self.mark = f"w_{uuid.uuid4().hex[:12]}"  # this writer's mark on hour summaries
        self.seq = 0  # number of this writer's latest batch (batches are applied in order)
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
            self.write_batch(batch)
            self._done(len(batch))
        elif time.monotonic() >= self._next_repair:
            self.repair_stale()  # when idle: never delays a batch
        return bool(batch)

    def write_batch(self, batch: list[dict[str, Any]]) -> bool:
        """Write one batch of events and its summaries (see ``chains.analytics.summaries``):
        journal, insert, update the summaries, settle. True when the events were written.
        Called by the thread; the benchmark calls it directly (the production path)."""
        db = self.collection.database
        batch_id, self.seq = uuid.uuid4().hex, self.seq + 1
        seq = self.seq
        docs = [dict(d, batch=batch_id) for d in batch]
        rollup = Rollup.of(docs)
        if not self._attempt("journal", lambda: journal(db, batch_id, self.mark, seq, rollup)):
            self._failed(len(batch))  # nothing was written, nothing to repair
            return False
        if not self._attempt("insert", lambda: self._insert(docs)):
            self._failed(len(batch))  # some may be in: the journal entry gets repaired later
            return False
        self.written += len(batch)

        def update() -> None:
            apply_hours(db, self.mark, seq, rollup)
            apply_sessions(db, rollup)

        if self._attempt("summaries", update):
            self._attempt("settle", lambda: settle(db, batch_id))
        else:
            self._attempt("repair", lambda: repair(db, batch_id), retries=1)
        return True

    def _insert(self, docs: list[dict[str, Any]]) -> None:
        try:
            self.collection.insert_many([dict(d) for d in docs], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not all(e.get("code") == DUPLICATE_KEY for e in errors):
                raise  # duplicates only: an earlier attempt wrote these
        except DuplicateKeyError:
            pass

    def _attempt(self, step: str, action: Callable[[], object], retries: int | None = None) -> bool:
        """Run ``action`` with retries and backoff; False (logged) once they are spent."""
        error: Exception | None = None
        for attempt in range(retries or self.retries):
            try:
                action()
                return True
            except (PyMongoError, RollupConflict) as exc:
                error = exc
            if attempt + 1 < (retries or self.retries):
                time.sleep(self.backoff * 2**attempt)
        log.warning("analytics: %s failed: %s", step, type(error).__name__)
        return False

    def _failed(self, n: int) -> None:
        self.failed += n
        log.warning("analytics: %d events not written", n)

    def repair_stale(self) -> int:
        """Repair journal entries left by crashed or given-up flushes (any process's)."""
        self._next_repair = time.monotonic() + self.repair_seconds
        try:
            return repair_stale(self.collection.database)
        except (PyMongoError, RollupConflict) as exc:
            log.warning("analytics: repair of stale batches failed: %s", type(exc).__name__)
            return 0

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
