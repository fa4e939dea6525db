"""Chat sessions and messages in MongoDB (seed: ``chat_sessions``, ``chat_messages``).

``SessionHistory`` is langchain-mongodb's ``MongoDBChatMessageHistory`` (the history the graph
sees, shared by LangServe and REST) that also writes each message in the seed's
``chat_messages`` shape and reads in a defined order (real MongoDB has no natural order).
Expiry is enforced by the application as well as by a TTL index, since nx-27017 has no TTL.

Sessions are read through the shared cache (seed: ``session:{session_id}``, TTL 3600) when it
is shared by every worker (Redis). Each change bumps the document's ``revision`` in the same
MongoDB update and writes the result with ``set_json_if_newer``, so a slow reader can never put
an older state back: an ended session is refused by every worker.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from langchain_mongodb.chat_message_histories import MongoDBChatMessageHistory
from pymongo import DESCENDING, ReturnDocument
from pymongo.database import Database

from chains.analytics.events import feedback_data
from chains.analytics.writer import EventSink, emit_turn
from chains.session_docs import (  # noqa: F401  (names other modules import from here)
    HISTORY,
    MESSAGES,
    SESSION_RETENTION_SECONDS,
    SESSIONS,
    _from_json,
    _to_json,
    aware,
    ensure_chat_indexes,
)
from loaders.errors import NotFound, SupportbotError
from loaders.kv import KeyValueCache

SESSION_CACHE_TTL_SECONDS = 3600


def now() -> datetime:
    return datetime.now(UTC)


class SessionGone(SupportbotError):
    code = "SESSION_EXPIRED"
    status = 410


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
        self._question = ""  # the turn's masked question, for its analytics events
        self._question_record: dict[str, Any] = {}  # its chat_messages record

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
            self._question = str(message.content)
        seq = next_seq()
        at = now()
        self.collection.insert_one(
            {
                "SessionId": self.session_id,
                "seq": seq,
                "created_at": at,
                "History": json.dumps(message_to_dict(message)),
            }
        )
        record = message_record(self.session_id, self.user_id, message, seq, at)
        self.records.insert_one(dict(record))
        if message.type == "human":
            self._question_record = record
        if message.type == "ai" and self.sessions is not None:
            if message.additional_kwargs.get("held") and self.sessions.on_customer is not None:
                self.sessions.on_customer(self._question_record)  # the graph's held turn
            # Every client (REST, LangServe) ends a turn here, so the session is updated once.
            escalation = message.additional_kwargs.get("escalation")
            doc = self.sessions.record_turn(self.session_id, escalation)
            if escalation and self.sessions.on_escalation is not None:
                self.sessions.on_escalation(self.session_id, escalation)
            if self.sessions.events is not None:
                emit_turn(
                    self.sessions.events,
                    message,
                    question=self._question,
                    session_id=self.session_id,
                    user_id=self.user_id,
                    session=doc,
                    at=at,
                )


def mask_pii(text: str) -> str:
    from chains.guardrails import check_input

    verdict = check_input(text, max_chars=10**6, check_injection=False, check_toxicity=False)
    return verdict.text


_seq_lock = threading.Lock()
_last_seq = 0


def next_seq() -> int:
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

    def __init__(
        self,
        db: Database[dict[str, Any]],
        ttl_seconds: int = 3600,
        cache: KeyValueCache | None = None,
        events: EventSink | None = None,
    ) -> None:
        self.db = db
        self.col = db[SESSIONS]
        self.ttl = timedelta(seconds=ttl_seconds)
        self.cache = cache
        self.events = events  # analytics: session_start, each turn's events, feedback
        # Set by ChatService: a turn's structured escalation moves the handoff state.
        self.on_escalation: Callable[[str, dict[str, Any]], None] | None = None
        # Set by ChatService: a customer message that reached the graph (LangServe) while a
        # person holds the session is relayed to the agents like a REST one.
        self.on_customer: Callable[[dict[str, Any]], None] | None = None

    @staticmethod
    def cache_key(session_id: str) -> str:
        return f"session:{session_id}"

    def _cache_put(self, doc: dict[str, Any]) -> None:
        if self.cache is not None and self.cache.shared:  # never read otherwise (``_cached``)
            value = _to_json(doc) | {"revision": int(doc.get("revision") or 0)}
            key = self.cache_key(str(doc["session_id"]))
            self.cache.set_json_if_newer(key, value, "revision", SESSION_CACHE_TTL_SECONDS)

    def _cached(self, session_id: str) -> dict[str, Any] | None:
        # Only a cache every worker shares may answer: a per-process copy could still say
        # "active" after another worker ended the session.
        if self.cache is None or not self.cache.shared:
            return None
        doc = self.cache.get_json(self.cache_key(session_id))
        return _from_json(doc) if isinstance(doc, dict) else None

    def _update(self, session_id: str, update: dict[str, Any]) -> dict[str, Any] | None:
        """Apply ``update`` with a revision bump and cache the document it produced."""
        return self.update_where(session_id, {}, update)

    def update_where(
        self, session_id: str, query: dict[str, Any], update: dict[str, Any]
    ) -> dict[str, Any] | None:
        """``_update`` only if the session also matches ``query`` (one atomic operation), so a
        move that starts from a given state cannot also start from another; ``None`` if not."""
        update = {**update, "$inc": {**update.get("$inc", {}), "revision": 1}}
        doc = self.col.find_one_and_update(
            {**query, "session_id": session_id},
            update,
            projection={"_id": 0},
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None:
            self._cache_put(doc)
        return doc

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
            "revision": 0,
        }
        self.col.insert_one(dict(doc))
        self._cache_put(doc)
        if self.events is not None:
            self.events.emit(
                "session_start",
                session_id=str(doc["session_id"]),
                user_id=user_id,
                data={"channel": channel},
                at=at,
            )
        return doc

    def get(self, session_id: str) -> dict[str, Any]:
        cached = self._cached(session_id)
        if cached is not None:
            return cached
        doc = self.col.find_one({"session_id": session_id}, {"_id": 0})
        if doc is None:
            raise NotFound(f"No chat session '{session_id}'.", code="SESSION_NOT_FOUND")
        self._cache_put(doc)
        return doc

    def get_active(self, session_id: str) -> dict[str, Any]:
        """The session if it can take messages; 410 when ended or expired."""
        doc = self.get(session_id)
        if doc["status"] != "active":
            raise SessionGone("This chat session has ended; start a new one.", code="SESSION_ENDED")
        if aware(doc["expires_at"]) <= now():
            self._update(session_id, {"$set": {"status": "abandoned"}})
            raise SessionGone("This chat session expired after inactivity; start a new one.")
        return doc

    def record_turn(
        self, session_id: str, escalation: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Touch the session after a turn; returns the updated document."""
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
        return self._update(session_id, update)

    def touch(self, session_id: str) -> dict[str, Any] | None:
        """A message that was no bot turn (handoff): the session stays alive, not counted."""
        at = now()
        fields = {"last_message_at": at, "context.last_activity": at, "expires_at": at + self.ttl}
        return self._update(session_id, {"$set": fields})

    def end(self, session_id: str, feedback: dict[str, Any] | None) -> dict[str, Any]:
        doc = self.get(session_id)
        if doc["status"] == "ended":
            raise SessionGone("This chat session has already ended.", code="SESSION_ENDED")
        at = now()
        fields: dict[str, Any] = {"status": "ended", "ended_at": at}
        if feedback:
            fields["feedback"] = {**feedback, "submitted_at": at}
        self._update(session_id, {"$set": fields})
        if feedback and self.events is not None:
            data = feedback_data(
                rating=feedback.get("rating"),
                resolved=feedback.get("resolved"),
                source="session_end",
            )
            self.events.emit(
                "feedback", session_id=session_id, user_id=doc.get("user_id"), data=data
            )
        total = self.db[MESSAGES].count_documents({"session_id": session_id})
        return {
            "session_id": session_id,
            "status": "ended",
            "ended_at": at,
            "summary": {
                "total_messages": total,
                "duration_seconds": int((at - aware(doc["started_at"])).total_seconds()),
                "user_satisfaction": (feedback or {}).get("rating"),
                "resolved": (feedback or {}).get("resolved"),
                "escalated": doc["metadata"].get("escalated", False),
            },
        }
