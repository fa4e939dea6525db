"""Handoff moves on ``chat_sessions`` (``metadata.handoff``, ``metadata.assigned_agent``).

Every move is one conditional ``find_one_and_update`` whose filter names the state it starts
from, so two agents claiming at once cannot both win, and a request cannot be queued twice.
Each move bumps the session's revision through ``ChatSessions`` (the shared session cache stays
right) and is published on the live-event bus for the customer and for the agents.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING

from chains.handoff import state as rules
from chains.handoff.bus import EventBus
from chains.handoff.errors import AlreadyClaimed, NotSessionAgent, WrongHandoffState
from chains.sessions import ChatSessions, now

SETTINGS_ID = "handoff_settings"
_SETTINGS_TTL = 5.0


class Handoffs:
    """The handoff state machine of every session, over MongoDB and the event bus."""

    def __init__(self, sessions: ChatSessions, bus: EventBus) -> None:
        self.sessions = sessions
        self.bus = bus
        self.col = sessions.col
        self.col.create_index([("metadata.handoff.state", ASCENDING)])
        self._settings: tuple[float, dict[str, Any]] = (0.0, {})
        # Told of every analytics move (action, data), e.g. for the app's /metrics counters.
        self.on_event: Callable[[str, dict[str, Any]], None] | None = None

    # -- settings and availability -------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """Admin handoff settings (support hours), cached a few seconds per process."""
        at, cached = self._settings
        if time.monotonic() - at < _SETTINGS_TTL:
            return cached
        doc = self.sessions.db["app_state"].find_one({"_id": SETTINGS_ID}, {"_id": 0}) or {}
        self._settings = (time.monotonic(), doc)
        return doc

    def save_settings(self, hours: dict[str, Any] | None) -> dict[str, Any]:
        doc = {"hours": rules.check_hours(hours), "updated_at": now()}
        # ``$set`` with upsert: nx-27017 ignores ``replace_one(..., upsert=True)`` on a new id.
        self.sessions.db["app_state"].update_one({"_id": SETTINGS_ID}, {"$set": doc}, upsert=True)
        self._settings = (0.0, {})
        return doc

    def availability(self, at: datetime | None = None) -> dict[str, Any]:
        """Whether a person can answer now: within support hours and an agent online."""
        within = rules.within_hours(self.settings().get("hours"), at or now())
        online = sorted(self.bus.online())
        return {"within_hours": within, "agents_online": bool(online), "available": within and
                bool(online)}  # fmt: skip

    # -- moves ------------------------------------------------------------------------------
    def _move(
        self, session_id: str, starts: tuple[str, ...], fields: dict[str, Any], **match: Any
    ) -> dict[str, Any] | None:
        start: list[dict[str, Any]] = [{"metadata.handoff.state": {"$in": list(starts)}}]
        if "bot" in starts:  # a session that never had a handoff has no record at all
            start.append({"metadata.handoff": None})
        query = {"$or": start, **match}
        doc = self.sessions.update_where(session_id, query, {"$set": fields})
        if doc is not None:
            self._announce(doc)
        return doc

    def request(
        self,
        session_id: str,
        *,
        reason: str,
        summary: str | None = None,
        explicit: bool = True,
        email: str | None = None,
    ) -> dict[str, Any]:
        """Queue the session for a person (idempotent while queued); ``email`` (already
        encrypted by the caller) is how an offline request is answered later."""
        doc = self.sessions.get(session_id)
        record = rules.current(doc)
        at = now()
        if record["state"] == "waiting" and (email or (explicit and not record.get("explicit"))):
            # An email left while waiting, or the customer now asking for the person the bot's
            # rule queued them for (from then on the bot stays silent too).
            fields: dict[str, Any] = {"metadata.handoff.explicit": True} if explicit else {}
            if email:
                fields["metadata.handoff.email"] = email
            return self._move(session_id, ("waiting",), fields) or doc
        if not rules.may_escalate(record, explicit=explicit, at=at):
            return doc
        offline = not self.availability(at)["available"]
        fields = {
            "metadata.handoff": {
                "state": "waiting",
                "explicit": explicit,  # the customer asked: the bot stays silent meanwhile
                "reason": reason,
                "summary": summary,
                "requested_at": at,
                "claimed_at": None,
                "released_at": None,
                "outcome": None,
                "offline": offline,
                "email": email,
                "first_reply_at": None,
            },
            "metadata.assigned_agent": None,
            "metadata.escalated": True,
        }
        moved = self._move(session_id, ("bot", "resolved"), fields)
        if moved is None:  # another request won the race: return what is there now
            return self.sessions.get(session_id)
        self._analytics(moved, "requested", reason=reason, offline=offline)
        return moved

    def cancel(self, session_id: str) -> dict[str, Any]:
        """The customer wants the bot back: while queued, or from an agent (one who went
        away must not leave the customer without anyone answering)."""
        fields = {
            "metadata.handoff.state": "bot",
            "metadata.handoff.outcome": "cancelled",
            "metadata.handoff.released_at": now(),  # the loop guard applies as after a release
        }
        doc = self._move(session_id, ("waiting", "with_agent"), fields)
        if doc is None:
            raise WrongHandoffState("This conversation is not with, or waiting for, a person.")
        self._analytics(doc, "cancelled")
        return doc

    def claim(self, session_id: str, agent: dict[str, Any]) -> dict[str, Any]:
        fields = {
            "metadata.handoff.state": "with_agent",
            "metadata.handoff.claimed_at": now(),
            "metadata.assigned_agent": _agent(agent),
        }
        doc = self._move(session_id, ("waiting",), fields)
        if doc is not None:
            self._analytics(doc, "claimed", agent_id=str(agent["user_id"]))
            return doc
        current = self.sessions.get(session_id)
        holder = (current.get("metadata") or {}).get("assigned_agent") or {}
        if rules.state_of(current) == "with_agent":
            if holder.get("user_id") == agent["user_id"]:
                return current  # a repeated click by the holder
            raise AlreadyClaimed("Another agent has already claimed this conversation.")
        raise WrongHandoffState("This conversation is not waiting for a person.")

    def held_by(self, session_id: str, agent: dict[str, Any]) -> dict[str, Any]:
        """The session if ``agent`` holds it (admins may act on any held session)."""
        doc = self.sessions.get(session_id)
        if rules.state_of(doc) != "with_agent":
            raise WrongHandoffState("No agent holds this conversation.")
        holder = ((doc.get("metadata") or {}).get("assigned_agent") or {}).get("user_id")
        if holder != agent["user_id"] and agent.get("role") != "admin":
            raise NotSessionAgent("Only the agent holding this conversation can do that.")
        return doc

    def transfer(
        self, session_id: str, agent: dict[str, Any], to: dict[str, Any]
    ) -> dict[str, Any]:
        doc = self.held_by(session_id, agent)
        holder = doc["metadata"]["assigned_agent"]["user_id"]
        moved = self._move(
            session_id,
            ("with_agent",),
            {"metadata.assigned_agent": _agent(to)},
            **{"metadata.assigned_agent.user_id": holder},
        )
        if moved is None:
            raise AlreadyClaimed("The conversation changed hands meanwhile; reload it.")
        self._analytics(moved, "transferred", agent_id=str(to["user_id"]))
        return moved

    def release(self, session_id: str, agent: dict[str, Any], outcome: str) -> dict[str, Any]:
        doc = self.held_by(session_id, agent)
        holder = doc["metadata"]["assigned_agent"]["user_id"]
        fields = {
            "metadata.handoff.state": "resolved" if outcome == "resolved" else "bot",
            "metadata.handoff.outcome": outcome,
            "metadata.handoff.released_at": now(),
        }
        moved = self._move(
            session_id, ("with_agent",), fields, **{"metadata.assigned_agent.user_id": holder}
        )
        if moved is None:
            raise AlreadyClaimed("The conversation changed hands meanwhile; reload it.")
        self._analytics(moved, "released", outcome=outcome, agent_id=str(holder))
        return moved

    def first_reply(self, doc: dict[str, Any]) -> None:
        """Time to first human reply, for analytics: set once per handoff."""
        record = rules.current(doc)
        if record.get("first_reply_at") is None:
            at = now()
            self.sessions.update_where(
                str(doc["session_id"]),
                {"metadata.handoff.first_reply_at": None},
                {"$set": {"metadata.handoff.first_reply_at": at}},
            )
            wait = (at - rules.aware(record["requested_at"])).total_seconds()
            self._analytics(doc, "first_reply", seconds=round(wait, 3))

    # -- events -----------------------------------------------------------------------------
    def _announce(self, doc: dict[str, Any]) -> None:
        payload = {"session_id": doc["session_id"], "handoff": rules.view(doc)}
        self.bus.publish(f"session:{doc['session_id']}", "handoff", payload)
        self.bus.publish("agents", "queue", payload)

    def _analytics(self, doc: dict[str, Any], action: str, **data: Any) -> None:
        if self.on_event is not None:
            self.on_event(action, data)
        if self.sessions.events is not None:
            self.sessions.events.emit(
                "handoff",
                session_id=str(doc["session_id"]),
                user_id=doc.get("user_id"),
                data={"action": action, **data},
            )


def display_name(user: dict[str, Any]) -> str:
    """What a customer sees of a staff member: their name, never their full email address."""
    name = user.get("full_name") or user.get("name") or user.get("email") or "Agent"
    return str(name).split("@")[0]


def _agent(user: dict[str, Any]) -> dict[str, Any]:
    return {"user_id": str(user["user_id"]), "name": display_name(user)}
