"""What people write while a person has the conversation, and what agents read.

Customer and agent messages go to the seed's ``chat_messages`` (``role`` ``user`` / ``agent``,
the agent's display name in ``metadata``), so the customer's transcript and the analytics see
one conversation. They are not added to the model's history: the bot neither wrote nor has to
answer them. Internal notes live in ``chat_notes`` and are never listed to the customer.
"""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import ASCENDING

from chains.handoff import state as rules
from chains.handoff.store import Handoffs, display_name
from chains.sessions import MESSAGES, mask_pii, next_seq, now

NOTES = "chat_notes"
QUEUE_LIMIT = 1000  # read, then sorted oldest first
LAST_MESSAGES = 3


class Conversations:
    """Messages, notes and the agents' queue and transcript views."""

    def __init__(self, handoffs: Handoffs) -> None:
        self.handoffs = handoffs
        self.sessions = handoffs.sessions
        self.db = handoffs.sessions.db
        self.bus = handoffs.bus
        self.db[NOTES].create_index([("session_id", ASCENDING), ("seq", ASCENDING)])

    def _insert(
        self, doc: dict[str, Any], role: str, content: str, meta: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        at, seq = now(), next_seq()
        record = {
            **extra,
            "message_id": str(uuid.uuid4()),
            "session_id": doc["session_id"],
            "user_id": doc.get("user_id"),
            "role": role,
            "content": content,
            "message_type": "text",
            "timestamp": at,
            "seq": seq,
            "metadata": meta,
        }
        self.db[MESSAGES].insert_one(dict(record))
        self.sessions.touch(str(doc["session_id"]))
        record.pop("_id", None)
        record.pop("agent_id", None)
        return record

    def customer_message(self, doc: dict[str, Any], text: str) -> dict[str, Any]:
        """A customer's message while held: stored (PII masked, as for the bot) and relayed."""
        state = rules.state_of(doc)
        record = self._insert(doc, "user", mask_pii(text), {"handoff_state": state})
        self.relay(record)
        return record

    def relay(self, record: dict[str, Any]) -> None:
        """Show a stored customer message to the agents, live."""
        self.bus.publish("agents", "message", _event(record))

    def agent_message(self, session_id: str, agent: dict[str, Any], text: str) -> dict[str, Any]:
        doc = self.handoffs.held_by(session_id, agent)
        holder = doc["metadata"]["assigned_agent"]
        meta = {"agent_name": holder.get("name", "Agent")}  # metadata is shown to the customer
        record = self._insert(doc, "agent", text, meta, agent_id=str(agent["user_id"]))
        self.handoffs.first_reply(doc)
        event = _event(record)
        self.bus.publish(f"session:{session_id}", "message", event)
        self.bus.publish("agents", "message", event)
        return record

    def note(self, session_id: str, agent: dict[str, Any], text: str) -> dict[str, Any]:
        """An internal note: for agents only, never on the customer's channel."""
        self.sessions.get(session_id)  # 404 for an unknown session
        note = {
            "note_id": str(uuid.uuid4()),
            "session_id": session_id,
            "author_id": str(agent["user_id"]),
            "author_name": display_name(agent),
            "content": text,
            "timestamp": now(),
            "seq": next_seq(),
        }
        self.db[NOTES].insert_one(dict(note))
        self.bus.publish("agents", "note", {k: note[k] for k in note if k != "seq"})
        return {k: note[k] for k in note if k != "seq"}

    def typing(self, session_id: str, agent: dict[str, Any]) -> None:
        doc = self.handoffs.held_by(session_id, agent)
        name = doc["metadata"]["assigned_agent"].get("name", "Agent")
        payload = {"session_id": session_id, "who": "agent", "name": name}
        self.bus.publish(f"session:{session_id}", "typing", payload)

    def queue(self, state: str, agent_id: str | None = None) -> list[dict[str, Any]]:
        """Sessions in ``state``, oldest request first, each with its last few messages."""
        query: dict[str, Any] = {"metadata.handoff.state": state, "status": "active"}
        if agent_id:
            query["metadata.assigned_agent.user_id"] = agent_id
        docs = list(self.sessions.col.find(query, {"_id": 0}).limit(QUEUE_LIMIT))
        docs.sort(key=lambda d: rules.aware(d["metadata"]["handoff"]["requested_at"]))
        at = now()
        return [
            {
                "session_id": d["session_id"],
                "user_id": d.get("user_id"),
                "channel": d.get("channel"),
                "handoff": rules.view(d),
                "wait_seconds": int(
                    (at - rules.aware(d["metadata"]["handoff"]["requested_at"])).total_seconds()
                ),
                "last_messages": self._messages(d["session_id"], LAST_MESSAGES),
            }
            for d in docs
        ]

    def _messages(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        cursor = (
            self.db[MESSAGES]
            .find({"session_id": session_id}, {"_id": 0})
            .sort([("seq", -1)])
            .limit(limit)
        )
        return [message_view(m) for m in reversed(list(cursor))]

    def transcript(self, session_id: str, limit: int = 500) -> dict[str, Any]:
        doc = self.sessions.get(session_id)
        notes = self.db[NOTES].find({"session_id": session_id}, {"_id": 0, "seq": 0})
        return {
            "session_id": session_id,
            "user_id": doc.get("user_id"),
            "channel": doc.get("channel"),
            "status": doc.get("status"),
            "started_at": doc.get("started_at"),
            "handoff": rules.view(doc),
            "escalation": (doc.get("metadata") or {}).get("escalation"),
            "messages": self._messages(session_id, limit),
            "notes": sorted(notes, key=lambda n: rules.aware(n["timestamp"])),
            "last_event_id": self.bus.cursor("agents"),
        }


def message_view(m: dict[str, Any]) -> dict[str, Any]:
    """One message for agents: who wrote it, and for a bot answer its confidence and sources."""
    out: dict[str, Any] = {
        "message_id": m["message_id"],
        "role": m["role"],
        "content": m["content"],
        "timestamp": m["timestamp"],
    }
    meta = m.get("metadata") or {}
    if m["role"] == "agent":
        out["agent_name"] = meta.get("agent_name", "Agent")
    if m["role"] == "assistant":
        ai = m.get("ai_metadata") or {}
        out["confidence_score"] = ai.get("confidence_score")
        used = (m.get("context_used") or {}).get("retrieved_documents") or []
        out["sources"] = [{"title": s.get("title"), "document_id": s.get("document_id")}
                          for s in used]  # fmt: skip
    return out


def _event(record: dict[str, Any]) -> dict[str, Any]:
    return message_view(record) | {"session_id": record["session_id"]}
