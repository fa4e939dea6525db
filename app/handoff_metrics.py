"""Handoff figures for ``/metrics``: moves counted in this process, the queue read at scrape time.

Counters and the first-reply histogram are fed by ``Handoffs.on_event`` (the store calls it on
every move it records for analytics), so each API process exports its own moves; Prometheus
sums them. The queue sizes and agents online are shared state, read when scraped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
# Seconds: a person usually answers within minutes; offline requests take hours.
FIRST_REPLY_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600, math.inf)
OUTCOMES = ("resolved", "back_to_bot")
QUEUE_CAP = 10_000  # a scrape reads at most this many ids per state


class HandoffMetrics:
    """The handoff instruments, on the app's registry."""

    def __init__(self, app: FastAPI, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "supportbot_handoff_requests",
            "Handoff requests queued (offline: nobody was available).",
            ["offline"],
            registry=registry,
        )
        self.claims = Counter(
            "supportbot_handoff_claims", "Handoffs claimed by an agent.", registry=registry
        )
        self.transfers = Counter(
            "supportbot_handoff_transfers", "Handoffs transferred to another agent.",
            registry=registry,
        )  # fmt: skip
        self.releases = Counter(
            "supportbot_handoff_releases", "Handoffs released, by outcome.", ["outcome"],
            registry=registry,
        )  # fmt: skip
        self.first_reply = Histogram(
            "supportbot_handoff_first_reply_seconds",
            "From a handoff request to the first human reply.",
            buckets=FIRST_REPLY_BUCKETS,
            registry=registry,
        )
        for offline in ("false", "true"):  # every series exists from the start, at 0
            self.requests.labels(offline=offline)
        for outcome in OUTCOMES:
            self.releases.labels(outcome=outcome)
        registry.register(_QueueCollector(app))

    def observe(self, action: str, data: dict[str, Any]) -> None:
        """One move from ``Handoffs.on_event``; never raises (a move must not fail on it)."""
        try:
            if action == "requested":
                self.requests.labels(offline=str(bool(data.get("offline"))).lower()).inc()
            elif action == "claimed":
                self.claims.inc()
            elif action == "transferred":
                self.transfers.inc()
            elif action == "released":
                self.releases.labels(outcome=str(data.get("outcome"))).inc()
            elif action == "first_reply":
                self.first_reply.observe(max(0.0, float(data.get("seconds") or 0.0)))
        except Exception:  # pragma: no cover - defensive: bad data from a future move
            log.exception("handoff metric for %r failed", action)


class _QueueCollector(Collector):
    """Waiting and held conversations (as the agents' queue lists them) and agents online."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def describe(self) -> list[Metric]:
        return []  # the chat service exists only after start-up

    def collect(self) -> Iterator[Metric]:
        chat = getattr(self.app.state, "chat", None)
        if chat is None:
            return
        try:
            online = len(chat.bus.online())
            waiting, held = (_held(chat, state) for state in ("waiting", "with_agent"))
        except Exception:  # a scrape must not fail because MongoDB or Redis is down
            return
        for name, doc, value in (
            ("supportbot_handoffs_waiting", "Conversations waiting for a person.", waiting),
            ("supportbot_handoffs_with_agent", "Conversations a person holds.", held),
            ("supportbot_agents_online", "Agents with the inbox open.", online),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))


def _held(chat: Any, state: str) -> int:
    """Active sessions in ``state``: ids read, not ``count_documents`` (seconds on nx-27017)."""
    query = {"metadata.handoff.state": state, "status": "active"}
    return len(list(chat.sessions.col.find(query, {"_id": 0, "session_id": 1}).limit(QUEUE_CAP)))
