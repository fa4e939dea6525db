"""Handoff analytics: how often a person is asked for, how fast one answers, what the bot
resolves alone, and how satisfied customers are with each path.

Read from ``chat_sessions`` (the handoff record in ``metadata.handoff``, the last holder in
``metadata.assigned_agent``, the end-of-session ``feedback``) and ``chat_feedback`` (thumbs on
single answers), over the sessions *started* in the period ``[start, end)``. Definitions:

- ``handoff_rate``: sessions with a handoff request (``requested_at`` set) / sessions.
- ``first_human_reply``: seconds from ``requested_at`` to ``first_reply_at`` (the holder's
  first message), over the handoffs that got one; p50 / p95 by nearest rank, and the mean.
- ``bot_resolution`` (deflection): over *closed* sessions (status ``ended`` or ``abandoned``,
  or still ``active`` past ``expires_at``: expired but not yet marked), the share that
  (a) never had a person (no ``claimed_at``), (b) were not left waiting in the queue (a
  customer who asked for a person and got nobody was not helped by the bot), and (c) got no
  negative signal: a session rating <= 2, ``resolved: false`` at the end, or any answer rated
  <= 2 in ``chat_feedback`` (the widget's thumbs-down is 1).
- ``by_agent``: per last holder (``metadata.assigned_agent``), the claimed handoffs, how they
  ended (``resolved``, ``back_to_bot``, still ``open``), and the mean session rating.
- ``csat_by_outcome``: mean session rating (1-5) and counts per outcome of the latest
  handoff: ``bot_only`` (never requested), ``resolved``, ``back_to_bot``, ``cancelled``
  (stopped waiting), ``waiting`` (never claimed) and ``with_agent`` (still held).

Limits, from the data model: a session keeps only its latest handoff (a second request
overwrites the first), sessions older than their retention (30 days past expiry) are gone,
and at most ``MAX_SESSIONS`` sessions are read (``truncated`` says so). nx-27017 mis-compares
dates in aggregation, turns ``$ne: null`` into "always", returns dotted projections as flat
keys, dotted ``$set`` dates as strings, and compares dates to the whole second: hence one
``find`` on a slightly wider ``started_at`` range with a whole-subdocument projection, and
the exact bounds and the arithmetic here in Python.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database

from chains.analytics.periods import Period
from chains.handoff.state import aware
from chains.sessions import SESSIONS

FEEDBACK = "chat_feedback"
MAX_SESSIONS = 100_000
NEGATIVE_AT_MOST = 2  # a rating (1-5) or thumbs score (0-5) this low is a complaint
CLOSED = frozenset({"ended", "abandoned"})
OUTCOMES = ("bot_only", "resolved", "back_to_bot", "cancelled", "waiting", "with_agent")
SLACK = timedelta(seconds=1)
FIELDS = {
    "_id": 0,
    "session_id": 1,
    "started_at": 1,
    "status": 1,
    "expires_at": 1,
    "feedback": 1,
    "metadata": 1,
}
Db = Database[dict[str, Any]]


def handoff_report(
    db: Db, period: Period, *, at: datetime | None = None, limit: int = MAX_SESSIONS
) -> dict[str, Any]:
    """Every handoff figure for the sessions started in ``period`` (definitions above)."""
    found = list(db[SESSIONS].find(_started_in(period), FIELDS).limit(limit + 1))
    truncated = len(found) > limit
    docs = [d for d in found[:limit] if period.start <= aware(d["started_at"]) < period.end]
    return {
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        **summarize(docs, negative_thumbs(db, period.start), at or datetime.now(UTC)),
        "truncated": truncated,
    }


def handoff_section(requests: int, replies: int, reply_s: float, sessions: int) -> dict:
    """The dashboard's ``handoff`` section, from counters of the period's handoff events
    (``chains.analytics.rollup``: free from the hourly summaries, where reading session
    documents would cost ~0.1 ms each on nx-27017). ``handoff_rate`` here is requests /
    sessions started (a session that asks twice counts twice; ``handoff_report`` counts
    sessions); the reply time is the mean of the ``first_reply`` events of the period."""
    return {
        "requests": requests,
        "handoff_rate": _ratio(requests, sessions),
        "first_replies": replies,
        "avg_first_reply_seconds": round(reply_s / replies, 1) if replies else None,
    }


def raw_handoff_section(events: Collection[dict[str, Any]], period: Period, sessions: int) -> dict:
    """``handoff_section`` from raw events (the reference the summaries must equal)."""
    match = {"$match": {"event_type": "handoff", "ts": period.ts_range}}
    group = {"$group": {"_id": "$data.action", "n": {"$sum": 1}, "s": {"$sum": "$data.seconds"}}}
    rows = {r["_id"]: r for r in events.aggregate([match, group])}
    reply = rows.get("first_reply") or {}
    return handoff_section(
        int((rows.get("requested") or {}).get("n") or 0),
        int(reply.get("n") or 0),
        float(reply.get("s") or 0.0),
        sessions,
    )


def negative_thumbs(db: Db, since: datetime) -> set[str]:
    """Sessions with an answer rated <= 2 since ``since`` (a session's feedback cannot
    precede its start; ``$in`` on 100k ids would scan the collection on nx-27017 anyway)."""
    query = {
        "key": "user_score",
        "score": {"$lte": NEGATIVE_AT_MOST},
        "created_at": {"$gte": since - SLACK},
    }
    return {str(d["session_id"]) for d in db[FEEDBACK].find(query, {"_id": 0, "session_id": 1})}


def summarize(docs: list[dict[str, Any]], thumbs_down: set[str], at: datetime) -> dict[str, Any]:
    """The figures from session documents (pure: the tests' and the benchmark's reference)."""
    handoffs = [d for d in docs if _record(d).get("requested_at")]
    waits = sorted(w for w in map(first_reply_seconds, handoffs) if w is not None)
    closed = [d for d in docs if is_closed(d, at)]
    deflected = [d for d in closed if is_deflected(d, thumbs_down)]
    return {
        "sessions": len(docs),
        "handoff_sessions": len(handoffs),
        "handoff_rate": _ratio(len(handoffs), len(docs)),
        "first_human_reply": {
            "count": len(waits),
            "p50_seconds": nearest_rank(waits, 0.50),
            "p95_seconds": nearest_rank(waits, 0.95),
            "mean_seconds": round(sum(waits) / len(waits), 3) if waits else None,
        },
        "bot_resolution": {
            "closed_sessions": len(closed),
            "deflected": len(deflected),
            "rate": _ratio(len(deflected), len(closed)),
        },
        "by_agent": by_agent(handoffs),
        "csat_by_outcome": csat_by_outcome(docs),
    }


def outcome_of(doc: dict[str, Any]) -> str:
    """Which of ``OUTCOMES`` the session's latest handoff came to."""
    record = _record(doc)
    if not record.get("requested_at"):
        return "bot_only"
    if record.get("outcome") in ("resolved", "back_to_bot", "cancelled"):
        return str(record["outcome"])
    return "with_agent" if record.get("state") == "with_agent" else "waiting"


def first_reply_seconds(doc: dict[str, Any]) -> float | None:
    """Request to first human reply; clamped at 0 (API processes' clocks may differ)."""
    record = _record(doc)
    asked, replied = record.get("requested_at"), record.get("first_reply_at")
    if not asked or not replied:
        return None
    return round(max(0.0, (aware(replied) - aware(asked)).total_seconds()), 3)


def is_closed(doc: dict[str, Any], at: datetime) -> bool:
    if doc.get("status") in CLOSED:
        return True
    expires = doc.get("expires_at")
    return doc.get("status") == "active" and expires is not None and aware(expires) <= at


def is_negative(doc: dict[str, Any], thumbs_down: set[str]) -> bool:
    feedback = doc.get("feedback") or {}
    rating = feedback.get("rating")
    low = isinstance(rating, int | float) and rating <= NEGATIVE_AT_MOST
    return low or feedback.get("resolved") is False or str(doc["session_id"]) in thumbs_down


def is_deflected(doc: dict[str, Any], thumbs_down: set[str]) -> bool:
    """Resolved by the bot alone (the docstring's (a), (b) and (c); closed is checked apart)."""
    record = _record(doc)
    had_person = bool(record.get("claimed_at"))
    left_waiting = bool(record.get("requested_at")) and outcome_of(doc) == "waiting"
    return not had_person and not left_waiting and not is_negative(doc, thumbs_down)


def by_agent(handoffs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Claimed handoffs per last holder, most handled first."""
    rows: dict[str, dict[str, Any]] = {}
    for doc in handoffs:
        agent = (doc.get("metadata") or {}).get("assigned_agent") or {}
        if not _record(doc).get("claimed_at") or not agent.get("user_id"):
            continue
        row = rows.setdefault(
            str(agent["user_id"]),
            {"agent_id": str(agent["user_id"]), "name": agent.get("name"), "handled": 0,
             "resolved": 0, "back_to_bot": 0, "open": 0, "_ratings": []},
        )  # fmt: skip
        row["handled"] += 1
        outcome = outcome_of(doc)
        if outcome in ("resolved", "back_to_bot"):
            row[outcome] += 1
        elif outcome == "with_agent":
            row["open"] += 1
        row["_ratings"] += _rating(doc)
    out = []
    for row in rows.values():
        ratings = row.pop("_ratings")
        row["resolution_rate"] = _ratio(row["resolved"], row["handled"])
        out.append(row | _mean_rating(ratings))
    return sorted(out, key=lambda r: (-r["handled"], r["agent_id"]))


def csat_by_outcome(docs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    ratings: dict[str, list[float]] = {o: [] for o in OUTCOMES}
    counts = dict.fromkeys(OUTCOMES, 0)
    for doc in docs:
        outcome = outcome_of(doc)
        counts[outcome] += 1
        ratings[outcome] += _rating(doc)
    return {o: {"sessions": counts[o]} | _mean_rating(ratings[o]) for o in OUTCOMES}


def nearest_rank(values: list[float], q: float) -> float | None:
    """The ``q`` quantile of sorted ``values`` by nearest rank (as the dashboard's p95)."""
    if not values:
        return None
    return values[max(0, math.ceil(q * len(values)) - 1)]


def _started_in(period: Period) -> dict[str, Any]:
    """A second wider each side: nx-27017 compares dates to the whole second (``$lt`` 12:00:01.7
    misses 12:00:01.2); the exact bounds are applied in Python."""
    return {"started_at": {"$gte": period.start - SLACK, "$lt": period.end + SLACK}}


def _record(doc: dict[str, Any]) -> dict[str, Any]:
    return (doc.get("metadata") or {}).get("handoff") or {}


def _rating(doc: dict[str, Any]) -> list[float]:
    rating = (doc.get("feedback") or {}).get("rating")
    return [float(rating)] if isinstance(rating, int | float) else []


def _mean_rating(ratings: list[float]) -> dict[str, Any]:
    avg = round(sum(ratings) / len(ratings), 2) if ratings else None
    return {"rated": len(ratings), "csat_avg": avg}


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
