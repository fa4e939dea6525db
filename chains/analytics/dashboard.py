"""The dashboard's figures (seed: Get Analytics Dashboard), served from the hourly summaries.

The definitions are those of ``chains.analytics.raw_dashboard`` (which computes them from raw
events), and the figures are equal: hourly summaries (``chains.analytics.period_totals``) for
the whole hours inside the period, raw events for the partial hours at its edges, and the exact
p95 read from the raw values of a single histogram bin. Until the summaries were built (an
upgrade: ``supportbot analytics rebuild``, or the automatic rebuild at start-up) the raw
computation answers instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

from chains.analytics import raw_dashboard as raw
from chains.analytics.events import COLLECTION, bucket_keys
from chains.analytics.handoff import handoff_section
from chains.analytics.period_totals import PeriodTotals, period_totals
from chains.analytics.periods import Period
from chains.analytics.rollup import empty_counters
from chains.analytics.summaries import is_built
from loaders.records import CHUNKS, DOCUMENTS

rnd = raw.round_or_none


def dashboard(db: Database[dict[str, Any]], period: Period) -> dict[str, Any]:
    """The seed's dashboard payload plus a ``series`` with one row per time bucket."""
    if not is_built(db):
        return raw.dashboard(db, period)
    totals = period_totals(db, period)
    series = time_series(totals, period)
    t = empty_counters()
    for counters in totals.hours.values():
        for k, v in counters.items():
            t[k] += v
    messages, errors, s = int(t["messages"]), int(t["errors"]), totals.sessions
    hist = sorted((b, n) for b, n in totals.bins.items() if n)
    return {
        "period": period.as_dict(),
        "metrics": {
            "total_sessions": int(t["sessions"]),
            "total_messages": messages,
            "avg_session_duration_seconds": rnd(
                s.elapsed_sum / s.elapsed_n if s.elapsed_n else None, 1
            ),
            "avg_messages_per_session": rnd(messages / s.sessions if s.sessions else None, 2),
            "user_satisfaction_avg": rnd(t["rating_sum"] / t["rated"] if t["rated"] else None, 2),
            "resolution_rate": rnd(
                (s.sessions - s.unresolved) / s.sessions if s.sessions else None, 4
            ),
        },
        "performance": {
            "avg_response_time_ms": rnd(t["rt_sum"] / messages if messages else None, 1),
            "p95_response_time_ms": raw.p95_from_histogram(db[COLLECTION], period, hist),
            "error_rate": rnd(errors / (messages + errors) if messages + errors else None, 4),
            "total_errors": errors,
        },
        "knowledge_base": {
            "total_documents": db[DOCUMENTS].estimated_document_count(),
            "total_chunks": db[CHUNKS].estimated_document_count(),
            "avg_retrieval_accuracy": rnd(
                t["relevant"] / t["retrievals"] if t["retrievals"] else None, 4
            ),
        },
        "handoff": handoff_section(
            int(t["handoffs"]), int(t["handoff_replies"]), t["handoff_reply_s"], int(t["sessions"])
        ),
        "series": series,
    }


def time_series(totals: PeriodTotals, period: Period) -> list[dict[str, Any]]:
    """One row per bucket (empty buckets included), as ``raw_dashboard.time_series``."""
    per: dict[str, dict[str, float]] = {}
    for hour, counters in totals.hours.items():
        label = bucket_keys(datetime.fromtimestamp(hour / 1000, UTC))[period.granularity]
        acc = per.setdefault(label, empty_counters())
        for k, v in counters.items():
            acc[k] += v
    rows = []
    for label, start in period.buckets():
        c = per.get(label) or empty_counters()
        n, e, rated = int(c["messages"]), int(c["errors"]), int(c["rated"])
        rows.append(
            {
                "bucket": label,
                "start": start.isoformat(),
                "sessions": int(c["sessions"]),
                "messages": n,
                "avg_response_time_ms": rnd(c["rt_sum"] / n if n else None, 1),
                "errors": e,
                "error_rate": rnd(e / (n + e) if n + e else None, 4),
                "escalations": int(c["escalations"]),
                "unanswered": int(c["unanswered"]),
                "user_satisfaction_avg": rnd(c["rating_sum"] / rated if rated else None, 2),
            }
        )
    return rows
