"""Questions the knowledge base did not answer, most frequent first: what KB owners write next.

A turn counts when no passage was relevant enough to answer (outcome ``no_answer``) or when the
turn escalated to a person. Questions are grouped by their normalized text (case, punctuation
and spacing ignored); the text shown is PII-masked, as stored in the chat history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database

from chains.analytics.events import COLLECTION
from chains.analytics.periods import Period

SESSIONS_SHOWN = 5


def unanswered_questions(
    db: Database[dict[str, Any]], period: Period, limit: int = 20
) -> list[dict[str, Any]]:
    """Grouped unanswered questions: count, escalations, outcomes, last asked, a few sessions."""
    match = {
        "event_type": "message",
        "ts": period.ts_range,
        "data.unanswered": 1,
    }
    group = {
        "_id": "$data.question_key",
        "count": {"$sum": 1},
        "escalations": {"$sum": "$data.escalated"},
        "last_ts": {"$max": "$ts"},
        "question": {"$max": "$data.question"},
        "outcomes": {"$addToSet": "$data.outcome"},
        "sessions": {"$addToSet": "$session_id"},
    }
    pipeline: list[dict[str, Any]] = [
        {"$match": match},
        {"$group": group},
        {"$sort": {"count": -1, "last_ts": -1, "_id": 1}},
        {"$limit": limit},
    ]
    return [
        {
            "question": r["question"],
            "normalized": r["_id"],
            "count": int(r["count"]),
            "escalations": int(r.get("escalations") or 0),
            "outcomes": sorted(o for o in r.get("outcomes") or [] if o),
            "last_asked_at": datetime.fromtimestamp(r["last_ts"] / 1000, UTC).isoformat(),
            "session_ids": sorted(s for s in r.get("sessions") or [] if s)[:SESSIONS_SHOWN],
        }
        for r in db[COLLECTION].aggregate(pipeline)
    ]
