"""The profile's ``statistics`` (seed: Get User Profile): sessions, messages, satisfaction."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from chains.sessions import MESSAGES, SESSIONS


def profile_statistics(db: Database[dict[str, Any]], user_id: str) -> dict[str, Any]:
    """Counts over the caller's own sessions; ``avg_satisfaction`` is the mean of the 1-5
    ratings given when ending a session (``None`` before the first rating)."""
    total_sessions = db[SESSIONS].count_documents({"user_id": user_id})
    total_messages = db[MESSAGES].count_documents({"user_id": user_id, "role": "user"})
    ratings = [
        float(doc["feedback"]["rating"])
        for doc in db[SESSIONS].find(
            # whole ``feedback``: nx-27017 returns a dotted projection as a flat key
            {"user_id": user_id, "feedback.rating": {"$exists": True}},
            {"feedback": 1},
        )
        if isinstance((doc.get("feedback") or {}).get("rating"), int | float)
    ]
    return {
        "total_sessions": total_sessions,
        "total_messages": total_messages,
        "avg_satisfaction": round(sum(ratings) / len(ratings), 2) if ratings else None,
    }
