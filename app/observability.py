"""Observability: Prometheus metrics per app, JSON logs carrying the request id, access logs.

Each app owns a ``CollectorRegistry`` (tests build many apps in one process). Figures the
loaders already keep (embedding-cache hits/misses, jobs by status in MongoDB) are read at
scrape time by a collector, so ``loaders`` stays free of any ``app`` import.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.middleware.base import RequestResponseEndpoint
from starlette.responses import Response

from app.envelope import request_id
from app.handoff_metrics import HandoffMetrics

access_log = logging.getLogger("supportbot.access")
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
UNMATCHED_ROUTE = "<unmatched>"
_SECRET = re.compile(
    r"(?i)(bearer\s+)[^\s\"']+"
    r"|((?:api[_-]?key|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?"
    r"(?:bearer\s+)?)[^\s\"',}]+"
)
_JOB_STATUSES = ("completed", "failed")


class Metrics:
    """The app's instruments, registered on its own registry."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.http = Histogram(
            "http_request_duration_seconds",
            "Request latency by route template.",
            ["method", "route", "status"],
            registry=reg,
        )
        self.node = Histogram(
            "chat_node_duration_seconds", "Chat graph node wall time.", ["node"], registry=reg
        )
        self.tokens = Counter("chat_tokens", "Chat model tokens.", ["kind"], registry=reg)
        self.violations = Counter(
            "guardrail_violations", "Guardrail violations by code.", ["code"], registry=reg
        )
        reg.register(_ServicesCollector(app))
        self.handoff = HandoffMetrics(app, reg)

    def observe_turn(self, out: dict[str, Any]) -> None:
        """Record one finished chat turn (its ``timings``, ``usage`` and violations)."""
        for node, ms in (out.get("timings") or {}).items():
            self.node.labels(node=node).observe(float(ms) / 1000)
        usage = out.get("usage") or {}
        for kind in ("prompt", "completion"):
            self.tokens.labels(kind=kind).inc(int(usage.get(f"{kind}_tokens") or 0))
        for v in (out.get("guardrails") or {}).get("violations") or []:
            self.violations.labels(code=str(v.get("code", "UNKNOWN"))).inc()


class _ServicesCollector(Collector):
    """Scrape-time view of counters the services keep themselves."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def describe(self) -> list[Metric]:
        return []  # values depend on the services, which exist only after start-up

    def collect(self) -> Iterator[Metric]:
        svc = getattr(self.app.state, "services", None)
        if svc is None:
            return
        cache = CounterMetricFamily(
            "embedding_cache_requests", "Embedding cache lookups by result.", labels=["result"]
        )
        cache.add_metric(["hit"], float(getattr(svc.embeddings, "hits", 0)))
        cache.add_metric(["miss"], float(getattr(svc.embeddings, "misses", 0)))
        yield cache
        yield from _cache_and_redis_metrics(self.app, svc)
        jobs = CounterMetricFamily(
            "ingestion_jobs", "Ingestion jobs by final status.", labels=["status"]
        )
        try:
            for status in _JOB_STATUSES:
                jobs.add_metric([status], float(svc.jobs.col.count_documents({"status": status})))
        except Exception:  # a scrape must not fail because MongoDB is down
            return
        yield jobs


def _cache_and_redis_metrics(app: FastAPI, svc: Any) -> Iterator[Metric]:
    """Session/config cache hit rates, 429s, and Redis health (errors and degraded mode)."""
    from loaders.redis_link import degraded_counts, error_counts

    lookups = CounterMetricFamily(
        "supportbot_cache_requests", "Key-value cache lookups.", labels=["cache", "result"]
    )
    stats = getattr(svc.cache, "stats", None)
    for (name, result), n in (stats.snapshot() if stats else {}).items():
        lookups.add_metric([name, result], float(n))
    yield lookups
    limiter = getattr(app.state, "rate_limiter", None)
    limited = CounterMetricFamily(
        "supportbot_rate_limited", "Requests refused with 429.", labels=["limit"]
    )
    for kind, n in (limiter.rejected if limiter else {}).items():
        limited.add_metric([kind], float(n))
    yield limited
    for name, counts, doc in (
        ("supportbot_redis_errors", error_counts(), "Failed Redis calls (this process)."),
        ("supportbot_redis_degraded", degraded_counts(), "Operations served in process."),
    ):
        family = CounterMetricFamily(name, doc, labels=["op"])
        for op, n in counts.items():
            family.add_metric([op], float(n))
        yield family
    up = GaugeMetricFamily("supportbot_redis_up", "1 while Redis answers.", labels=["component"])
    for component, part in (("cache", svc.cache), ("ratelimit", getattr(limiter, "windows", None))):
        outage = getattr(part, "outage", None)
        if outage is not None:
            up.add_metric([component], 0.0 if outage.down else 1.0)
    yield up


def metrics(app: FastAPI) -> Metrics:
    """The app's metrics, created on first use."""
    found = getattr(app.state, "metrics", None)
    if found is None:
        found = app.state.metrics = Metrics(app)
    return found  # type: ignore[no-any-return]


router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(request: Request) -> Response:
    body = generate_latest(metrics(request.app).registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def route_template(request: Request) -> str:
    """The matched route's path template (``/sessions/{session_id}``), never the raw path."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    return str(path) if path else UNMATCHED_ROUTE


async def request_middleware(request: Request, call_next: RequestResponseEndpoint) -> Response:
    """Request id (accepted or generated, echoed, in every log line), latency, access log."""
    rid = request_id(request)
    token = current_request_id.set(rid)
    start = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        response.headers["X-Request-ID"] = rid
        return response
    finally:
        elapsed = time.perf_counter() - start
        route = route_template(request)
        metrics(request.app).http.labels(request.method, route, str(status)).observe(elapsed)
        access_log.info(
            "%s %s %s",
            request.method,
            route,
            status,
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        current_request_id.reset(token)


_ACCESS_FIELDS = ("method", "route", "status", "duration_ms")


def redact(text: str) -> str:
    """Blank bearer tokens and ``key=value`` secrets that slipped into a message."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or "") + "[REDACTED]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request_id (+ access fields)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": current_request_id.get(),
        }
        for name in _ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for development, still with the request id and redaction."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = current_request_id.get() or "-"
        return redact(super().format(record))


def configure_logging(fmt: str = "json", level: str = "INFO") -> logging.Handler:
    """Route every logger (uvicorn's too) through one stderr handler in ``fmt`` (json|text)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Our access line carries the route template and request id; uvicorn's has the raw path.
    logging.getLogger("uvicorn.access").disabled = True
    return handler
