"""Session documents: the seed's indexes on the chat collections, and a session as JSON for the
shared cache (and back)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import PyMongoError

SESSIONS = "chat_sessions"
MESSAGES = "chat_messages"
HISTORY = "chat_history"
SESSION_RETENTION_SECONDS = 30 * 86400
_DATETIME_FIELDS = ("started_at", "last_message_at", "expires_at", "ended_at")


def ensure_chat_indexes(db: Database[dict[str, Any]]) -> None:
    """The seed's indexes, once per process."""
    s, m, h = db[SESSIONS], db[MESSAGES], db[HISTORY]
    s.create_index([("session_id", ASCENDING)], unique=True)
    s.create_index([("user_id", ASCENDING), ("started_at", DESCENDING)])
    s.create_index([("status", ASCENDING), ("last_message_at", DESCENDING)])
    s.create_index([("started_at", ASCENDING)])  # handoff analytics read a period by start
    with contextlib.suppress(PyMongoError):  # servers without TTL support
        # Seed: TTL on expires_at. Kept 30 days past expiry (not 0) so an expired session still
        # answers 410 and its transcript stays readable for agents and analytics.
        s.create_index([("expires_at", ASCENDING)], expireAfterSeconds=SESSION_RETENTION_SECONDS)
    m.create_index([("message_id", ASCENDING)], unique=True)
    m.create_index([("session_id", ASCENDING), ("timestamp", ASCENDING), ("seq", ASCENDING)])
    m.create_index([("user_id", ASCENDING), ("timestamp", DESCENDING)])
    h.create_index([("SessionId", ASCENDING), ("seq", ASCENDING)])


def _to_json(value: Any) -> Any:
    """The document with datetimes as ISO strings (the cache holds JSON)."""
    if isinstance(value, datetime):
        return aware(value).isoformat()
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def _from_json(doc: dict[str, Any]) -> dict[str, Any]:
    """A cached document with its top-level timestamps as datetimes again."""
    return {k: aware(v) if k in _DATETIME_FIELDS and v else v for k, v in doc.items()}


def aware(value: datetime | str) -> datetime:
    """A timezone-aware datetime; nx-27017 returns a ``$set`` datetime as an ISO string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
