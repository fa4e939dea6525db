"""Chat sessions and messages in MongoDB (seed: ``chat_sessions``, ``chat_messages``).

``SessionHistory`` is langchain-mongodb's ``MongoDBChatMessageHistory`` (the history the graph
sees, shared by LangServe and REST) that also writes each message in the seed's
``chat_messages`` shape and reads in a defined order (real MongoDB has no natural order).
Expiry is enforced by the application as well as by a TTL index, since nx-27017 has no TTL.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from langchain_mongodb.chat_message_histories import MongoDBChatMessageHistory
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import PyMongoError

from loaders.errors import NotFound, SupportbotError

SESSIONS = "chat_sessions"
MESSAGES = "chat_messages"
HISTORY = "chat_history"
SESSION_RETENTION_SECONDS = 30 * 86400


def now() -> datetime:
    return datetime.now(UTC)


class SessionGone(SupportbotError):
    code = "SESSION_EXPIRED"
    status = 410


def ensure_chat_indexes(db: Database[dict[str, Any]]) -> None:
    """The seed's indexes, once per process."""
    s, m, h = db[SESSIONS], db[MESSAGES], db[HISTORY]
    s.create_index([("session_id", ASCENDING)], unique=True)
    s.create_index([("user_id", ASCENDING), ("started_at", DESCENDING)])
    s.create_index([("status", ASCENDING), ("last_message_at", DESCENDING)])
    with contextlib.suppress(PyMongoError):  # servers without TTL support
        # Seed: TTL on expires_at. Kept 30 days past expiry (not 0) so an expired session still
        # answers 410 and its transcript stays readable for agents and analytics.
        s.create_index([("expires_at", ASCENDING)], expireAfterSeconds=SESSION_RETENTION_SECONDS)
    m.create_index([("message_id", ASCENDING)], unique=True)
    m.create_index([("session_id", ASCENDING), ("timestamp", ASCENDING), ("seq", ASCENDING)])
    m.create_index([("user_id", ASCENDING), ("timestamp", DESCENDING)])
    h.create_index([("SessionId", ASCENDING), ("seq", ASCENDING)])


class SessionHistory(MongoDBChatMessageHistory):
    """One session's history: LangChain messages plus the seed's ``chat_messages`` records."""

    def __init__(
        self,
        db: Database[dict[str, Any]],
        session_id: str,
        *,
        user_id: str | None,
        window: int = 20,
        sessions: ChatSessions | None = None,
    ) -> None:
        super().__init__(
            None,
            session_id=session_id,
            database_name=db.name,
            collection_name=HISTORY,
            client=db.client,
            create_index=False,
            history_size=window,
        )
        self.records = db[MESSAGES]
        self.user_id = user_id
        self.sessions = sessions

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        cursor = (
            self.collection.find({"SessionId": self.session_id})
            .sort([("seq", DESCENDING), ("_id", DESCENDING)])
            .limit(self.history_size or 0)
        )
        items = [json.loads(d["History"]) for d in cursor]
        return list(messages_from_dict(list(reversed(items))))

    def add_message(self, message: BaseMessage) -> None:
        if message.type == "human":
            # History is stored and shown to agents: PII is masked the same way as for the model.
            message = message.model_copy(update={"content": mask_pii(str(message.content))})
        seq = _next_seq()
        at = now()
        self.collection.insert_one(
            {
                "SessionId": self.session_id,
                "seq": seq,
                "created_at": at,
                "History": json.dumps(message_to_dict(message)),
            }
        )
        self.records.insert_one(message_record(self.session_id, self.user_id, message, seq, at))
        if message.type == "ai" and self.sessions is not None:
            # Every client (REST, LangServe) ends a turn here, so the session is updated once.
            self.sessions.record_turn(self.session_id, message.additional_kwargs.get("escalation"))


def mask_pii(text: str) -> str:
    from chains.guardrails import check_input

    verdict = check_input(text, max_chars=10**6, check_injection=False, check_toxicity=False)
    return verdict.text


_seq_lock = threading.Lock()
_last_seq = 0


def _next_seq() -> int:
    """Monotonic ordering key: microseconds since the epoch, strictly increasing per process."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(_last_seq + 1, int(now().timestamp() * 1_000_000))
        return _last_seq


def message_record(
    session_id: str, user_id: str | None, message: BaseMessage, seq: int, at: datetime
) -> dict[str, Any]:
    """The seed's ``chat_messages`` document for one LangChain message."""
    extra = message.additional_kwargs or {}
    role = {"human": "user", "ai": "assistant"}.get(message.type, "system")
    record: dict[str, Any] = {
        "message_id": str(extra.get("message_id") or uuid.uuid4()),
        "session_id": session_id,
        "user_id": user_id,
        "role": role,
        "content": str(message.content),
        "message_type": "text",
        "timestamp": at,
        "seq": seq,
        "metadata": dict(extra.get("metadata") or {}),
    }
    for key in ("ai_metadata", "context_used", "guardrails"):
        if key in extra:
            record[key] = extra[key]
    return record


class ChatSessions:
    """Session lifecycle: create, look up (404 / 410), touch, escalate, end."""

    def __init__(self, db: Database[dict[str, Any]], ttl_seconds: int = 3600) -> None:
        self.db = db
        self.col = db[SESSIONS]
        self.ttl = timedelta(seconds=ttl_seconds)

    def create(
        self, user_id: str | None, channel: str = "web", metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        at = now()
        doc = {
            "session_id": str(uuid.uuid4()),
            "user_id": user_id,
            "channel": channel,
            "status": "active",
            "context": {"conversation_count": 0, "last_activity": at, **(metadata or {})},
            "metadata": {"tags": [], "escalated": False, "low_confidence_turns": 0},
            "started_at": at,
            "last_message_at": at,
            "expires_at": at + self.ttl,
        }
        self.col.insert_one(dict(doc))
        return doc

    def get(self, session_id: str) -> dict[str, Any]:
        doc = self.col.find_one({"session_id": session_id}, {"_id": 0})
        if doc is None:
            raise NotFound(f"No chat session '{session_id}'.", code="SESSION_NOT_FOUND")
        return doc

    def get_active(self, session_id: str) -> dict[str, Any]:
        """The session if it can take messages; 410 when ended or expired."""
        doc = self.get(session_id)
        if doc["status"] != "active":
            raise SessionGone("This chat session has ended; start a new one.", code="SESSION_ENDED")
        if _aware(doc["expires_at"]) <= now():
            self.col.update_one({"session_id": session_id}, {"$set": {"status": "abandoned"}})
            raise SessionGone("This chat session expired after inactivity; start a new one.")
        return doc

    def record_turn(self, session_id: str, escalation: dict[str, Any] | None) -> None:
        at = now()
        update: dict[str, Any] = {
            "$set": {
                "last_message_at": at,
                "context.last_activity": at,
                "expires_at": at + self.ttl,
            },
            "$inc": {"context.conversation_count": 1},
        }
        if escalation:
            update["$set"].update(
                {"metadata.escalated": True, "metadata.escalation": {**escalation, "at": at}}
            )
        self.col.update_one({"session_id": session_id}, update)

    def end(self, session_id: str, feedback: dict[str, Any] | None) -> dict[str, Any]:
        doc = self.get(session_id)
        if doc["status"] == "ended":
            raise SessionGone("This chat session has already ended.", code="SESSION_ENDED")
        at = now()
        fields: dict[str, Any] = {"status": "ended", "ended_at": at}
        if feedback:
            fields["feedback"] = {**feedback, "submitted_at": at}
        self.col.update_one({"session_id": session_id}, {"$set": fields})
        total = self.db[MESSAGES].count_documents({"session_id": session_id})
        return {
            "session_id": session_id,
            "status": "ended",
            "ended_at": at,
            "summary": {
                "total_messages": total,
                "duration_seconds": int((at - _aware(doc["started_at"])).total_seconds()),
                "user_satisfaction": (feedback or {}).get("rating"),
                "resolved": (feedback or {}).get("resolved"),
                "escalated": doc["metadata"].get("escalated", False),
            },
        }


def _aware(value: datetime | str) -> datetime:
    """A timezone-aware datetime; nx-27017 returns a ``$set`` datetime as an ISO string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
