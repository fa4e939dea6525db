"""The dashboard's figures computed from raw ``analytics_events`` only: the reference.

``chains.analytics.dashboard`` serves the same payload from hourly summaries; this module is
what it must equal (tests), its fallback until the summaries are built, and the benchmark's
baseline. Definitions, over the events of the period:

- ``total_sessions``: sessions started (``session_start`` events).
- ``total_messages``: answered customer turns (``message`` events, one per turn).
- ``avg_session_duration_seconds``: over sessions with a turn in the period, the mean time from
  the session's start to its last turn in the period.
- ``avg_messages_per_session``: turns per session with a turn in the period.
- ``user_satisfaction_avg``: mean rating (1-5) of the feedback events that carry one.
- ``resolution_rate``: share of sessions with a turn that were neither escalated nor rated
  "not resolved" by the customer.
- ``avg_response_time_ms`` / ``p95_response_time_ms``: server time of a turn (the graph's
  nodes); p95 by nearest rank, exact.
- ``error_rate``: errors (5xx responses, failed streamed turns) / (turns + errors).
- ``avg_retrieval_accuracy``: share of turns that searched the knowledge base and found at
  least one passage above the relevance floor (the others are answered "I don't know").
- ``total_documents`` / ``total_chunks``: the knowledge base now, not per period.
- ``handoff``: requests and first replies of the period (``chains.analytics.handoff``).

Every pipeline is one ``$match`` on ``event_type`` + ``ts`` (indexed) and ``$group`` on a single
field with $sum / $avg / $max: nx-27017 runs exactly that in SQL, while a compound group key
comes back wrong there and ``$cond`` falls back to a Python path ~50x slower.
"""

from __future__ import annotations

import math
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database

from chains.analytics.events import COLLECTION
from chains.analytics.handoff import raw_handoff_section
from chains.analytics.periods import Period
from loaders.records import CHUNKS, DOCUMENTS

Events = Collection[dict[str, Any]]
IN_BATCH = 1000


def dashboard(db: Database[dict[str, Any]], period: Period) -> dict[str, Any]:
    """The seed's dashboard payload plus a ``series`` with one row per time bucket."""
    col = db[COLLECTION]
    series = time_series(col, period)
    sessions = sum(r["sessions"] for r in series)
    messages = sum(r["messages"] for r in series)
    errors = sum(r["errors"] for r in series)
    response_sum = sum(r.pop("_response_sum") for r in series)
    rated = sum(r.pop("_rated") for r in series)
    rating_sum = sum(r.pop("_rating_sum") for r in series)
    active = session_stats(col, period)
    retrieval = _one(
        col, period, "retrieval", {"n": {"$sum": 1}, "avg": {"$avg": "$data.relevant"}}
    )
    return {
        "period": period.as_dict(),
        "metrics": {
            "total_sessions": sessions,
            "total_messages": messages,
            "avg_session_duration_seconds": round_or_none(active.get("duration"), 1),
            "avg_messages_per_session": round_or_none(active.get("turns"), 2),
            "user_satisfaction_avg": round_or_none(rating_sum / rated if rated else None, 2),
            "resolution_rate": round_or_none(
                resolution_rate(col, period, active.get("sessions", 0)), 4
            ),
        },
        "performance": {
            "avg_response_time_ms": round_or_none(response_sum / messages if messages else None, 1),
            "p95_response_time_ms": p95_response_time(col, period),
            "error_rate": round_or_none(
                errors / (messages + errors) if messages + errors else None, 4
            ),
            "total_errors": errors,
        },
        "knowledge_base": {
            "total_documents": db[DOCUMENTS].estimated_document_count(),
            "total_chunks": db[CHUNKS].estimated_document_count(),
            "avg_retrieval_accuracy": round_or_none(retrieval.get("avg"), 4),
        },
        "handoff": raw_handoff_section(col, period, sessions),
        "series": series,
    }


def _match(period: Period, event_type: str, **extra: Any) -> dict[str, Any]:
    return {"$match": {"event_type": event_type, "ts": period.ts_range, **extra}}


def per_bucket(
    col: Events, period: Period, event_type: str, acc: dict[str, Any], **extra: Any
) -> dict[str, dict[str, Any]]:
    """``acc`` accumulators of one event type, grouped by the period's bucket label."""
    group = {"_id": f"$bucket.{period.granularity}", **acc}
    return {
        r["_id"]: r for r in col.aggregate([_match(period, event_type, **extra), {"$group": group}])
    }


def _one(
    col: Events, period: Period, event_type: str, acc: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    rows = list(
        col.aggregate([_match(period, event_type, **extra), {"$group": {"_id": None, **acc}}])
    )
    return rows[0] if rows else {}


def time_series(col: Events, period: Period) -> list[dict[str, Any]]:
    """One row per bucket (empty buckets included); ``_``-keys are sums for the totals."""
    count = {"n": {"$sum": 1}}
    sessions = per_bucket(col, period, "session_start", count)
    turns = per_bucket(
        col,
        period,
        "message",
        {
            "n": {"$sum": 1},
            "rt": {"$sum": "$data.response_time_ms"},
            "unanswered": {"$sum": "$data.unanswered"},
        },
    )
    errors = per_bucket(col, period, "error", count)
    escalations = per_bucket(col, period, "escalation", count)
    rating = {"n": {"$sum": 1}, "sum": {"$sum": "$data.rating"}}
    ratings = per_bucket(col, period, "feedback", rating, **{"data.rating": {"$gte": 0}})
    rows = []
    for label, start in period.buckets():
        t = turns.get(label, {})
        n, e = int(t.get("n", 0)), int(errors.get(label, {}).get("n", 0))
        r = ratings.get(label, {})
        rows.append(
            {
                "bucket": label,
                "start": start.isoformat(),
                "sessions": int(sessions.get(label, {}).get("n", 0)),
                "messages": n,
                "avg_response_time_ms": round_or_none(t["rt"] / n if n else None, 1),
                "errors": e,
                "error_rate": round_or_none(e / (n + e) if n + e else None, 4),
                "escalations": int(escalations.get(label, {}).get("n", 0)),
                "unanswered": int(t.get("unanswered", 0)),
                "user_satisfaction_avg": round_or_none(r["sum"] / r["n"] if r else None, 2),
                "_response_sum": float(t.get("rt", 0.0)),
                "_rated": int(r.get("n", 0)),
                "_rating_sum": float(r.get("sum", 0.0)),
            }
        )
    return rows


def session_stats(col: Events, period: Period) -> dict[str, Any]:
    """Sessions with a turn in the period: how many, mean duration so far, turns per session."""
    per_session = {
        "_id": "$session_id",
        "last": {"$max": "$data.session_elapsed_s"},
        "turns": {"$sum": 1},
    }
    overall = {
        "_id": None,
        "sessions": {"$sum": 1},
        "duration": {"$avg": "$last"},
        "turns": {"$avg": "$turns"},
    }
    pipeline = [_match(period, "message"), {"$group": per_session}, {"$group": overall}]
    rows = list(col.aggregate(pipeline))
    return rows[0] if rows else {}


def _session_ids(col: Events, period: Period, event_type: str, **extra: Any) -> set[str]:
    pipeline = [_match(period, event_type, **extra), {"$group": {"_id": "$session_id"}}]
    return {r["_id"] for r in col.aggregate(pipeline) if r["_id"]}


def resolution_rate(col: Events, period: Period, active: int) -> float | None:
    """Share of sessions with a turn that were not escalated nor rated unresolved."""
    if not active:
        return None
    unresolved = _session_ids(col, period, "escalation") | _session_ids(
        col, period, "feedback", **{"data.resolved": False}
    )
    ids = sorted(unresolved)
    bad = 0
    for i in range(0, len(ids), IN_BATCH):  # only those with a turn in the period count
        bad += len(_session_ids(col, period, "message", session_id={"$in": ids[i : i + IN_BATCH]}))
    return (active - bad) / active


def p95_response_time(col: Events, period: Period) -> float | None:
    """Exact nearest-rank p95: count turns per ``rt_bin`` (one grouped pass), find the bin that
    holds rank ceil(0.95 n), then sort only that bin's values (a few % of the turns)."""
    return p95_from_histogram(col, period, per_bin(col, period))


def p95_from_histogram(col: Events, period: Period, hist: list[tuple[int, int]]) -> float | None:
    """The nearest-rank p95 given the period's (bin, count) histogram, sorted by bin."""
    total = sum(n for _, n in hist)
    if not total:
        return None
    rank, seen = math.ceil(0.95 * total), 0
    for b, n in hist:
        if seen + n >= rank:
            match = _match(period, "message", **{"data.rt_bin": b})
            group = {"$group": {"_id": None, "v": {"$push": "$data.response_time_ms"}}}
            rows = list(col.aggregate([match, group]))
            values = sorted(float(v) for v in (rows[0]["v"] if rows else []))
            return values[rank - seen - 1] if len(values) >= rank - seen else None
        seen += n
    return None


def per_bin(col: Events, period: Period) -> list[tuple[int, int]]:
    group = {"$group": {"_id": "$data.rt_bin", "n": {"$sum": 1}}}
    rows = col.aggregate([_match(period, "message"), group])
    return sorted((int(r["_id"]), int(r["n"])) for r in rows if r["_id"] is not None)


def round_or_none(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
