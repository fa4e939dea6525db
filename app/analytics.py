"""Analytics plumbing of the HTTP app: the event writer's lifetime, ``error`` events for 5xx
responses, and the writer's counters on ``/metrics``.

Turn, session and feedback events are emitted by ``chains.sessions`` (every client passes
there); this module adds what only HTTP sees. The writer lives on ``app.state.analytics``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pymongo.database import Database
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import metrics
from chains.analytics.events import COLLECTION
from chains.analytics.summaries import is_built, rebuild_all
from chains.analytics.writer import AnalyticsWriter
from loaders.stack import Services

log = logging.getLogger(__name__)


def server_metadata(app_env: str) -> dict[str, Any]:
    """The seed's ``metadata`` of every event: environment, version, server id."""
    try:
        release = version("supportbot")
    except PackageNotFoundError:
        release = "unknown"
    return {
        "environment": app_env,
        "version": release,
        "server_id": f"{socket.gethostname()}:{os.getpid()}",
    }


def start_analytics(app: FastAPI, svc: Services) -> AnalyticsWriter | None:
    """Start the writer (unless ``ANALYTICS_ENABLED=false``) and keep it on the app; build the
    dashboard's summaries in the background if they never were (an upgrade)."""
    settings = svc.settings
    writer = None
    if settings.analytics_enabled:
        writer = AnalyticsWriter(
            svc.db[COLLECTION],
            metadata=server_metadata(settings.app_env),
            flush_seconds=settings.analytics_flush_seconds,
            max_queue=settings.analytics_queue_size,
        ).start()
        threading.Thread(
            target=build_summaries_once, args=(svc.db,), name="analytics-rebuild", daemon=True
        ).start()
    app.state.analytics = writer
    return writer


def build_summaries_once(db: Database[dict[str, Any]]) -> None:
    """Rebuild the summaries from events if they were never built; the dashboard reads raw
    events until then, so it is right (only slower) meanwhile."""
    try:
        if not is_built(db):
            done = rebuild_all(db)
            log.info("analytics summaries built: %(hours)d hours, %(events)d events", done)
    except Exception:  # a failed rebuild leaves the raw dashboard answering; retried next start
        log.exception("analytics: building the summaries failed")


def stop_analytics(app: FastAPI) -> None:
    """Flush what is queued and stop the writer (on shutdown)."""
    writer = getattr(app.state, "analytics", None)
    app.state.analytics = None
    if writer is not None:
        writer.close()


def analytics_writer(app: Any) -> AnalyticsWriter | None:
    return getattr(app.state, "analytics", None)


def install_analytics(app: FastAPI) -> None:
    """The 5xx middleware and the writer's counters on the app's metrics registry."""
    app.add_middleware(ErrorEvents)
    metrics(app).registry.register(_WriterCollector(app))


class ErrorEvents:
    """Emits an ``error`` event for every 5xx response or unhandled exception (pure ASGI: no
    buffering of streamed bodies, one status check per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except Exception:
            _record(scope, status or 500)
            raise
        if status >= 500:
            _record(scope, status)


def _record(scope: Scope, status: int) -> None:
    writer = analytics_writer(scope["app"]) if "app" in scope else None
    if writer is None:
        return
    route = getattr(scope.get("route"), "path", None) or "<unmatched>"
    user = (scope.get("state") or {}).get("user") or {}
    writer.emit(
        "error",
        session_id=(scope.get("path_params") or {}).get("session_id"),
        user_id=user.get("user_id"),
        data={"status": status, "route": route, "method": scope.get("method"), "source": "http"},
    )


class _WriterCollector(Collector):
    """Scrape-time counts of the writer: events written, failed (after retries), dropped."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        writer = analytics_writer(self.app)
        if writer is None:
            return
        family = CounterMetricFamily(
            "supportbot_analytics_events", "Analytics events by write result.", labels=["result"]
        )
        for result in ("written", "failed", "dropped"):
            family.add_metric([result], float(getattr(writer, result)))
        yield family
