"""Who may read or extend a chat session: one rule for REST, feedback and LangServe.

Owners read and write their sessions; support agents and admins read any transcript but never
post into a customer's session. Anyone else gets exactly the 404 an unknown id gets, so a
session id cannot be probed for existence.
"""

from __future__ import annotations

from typing import Any

from app.auth.deps import is_staff, is_visitor
from app.auth.errors import Forbidden
from chains.sessions import ChatSessions
from loaders.errors import NotFound


def owns(user: dict[str, Any], session: dict[str, Any]) -> bool:
    """The session's owner; a widget visitor owns only the session its token is bound to."""
    owner = session.get("user_id")
    if not owner or owner != user.get("user_id"):
        return False
    return not is_visitor(user) or session.get("session_id") == user.get("session_id")


def readable_session(
    sessions: ChatSessions, session_id: str, user: dict[str, Any]
) -> dict[str, Any]:
    """The session if ``user`` may read it, else the same 404 as a missing session."""
    doc = sessions.get(session_id)
    if owns(user, doc) or is_staff(user):
        return doc
    raise NotFound(f"No chat session '{session_id}'.", code="SESSION_NOT_FOUND")


def owned_session(sessions: ChatSessions, session_id: str, user: dict[str, Any]) -> dict[str, Any]:
    """The session if ``user`` owns it; staff who may only read it get 403."""
    doc = readable_session(sessions, session_id, user)
    if not owns(user, doc):
        raise Forbidden(
            "Staff can read a customer's session but not post into it or end it.",
            code="SESSION_READ_ONLY",
        )
    return doc


def owned_active_session(
    sessions: ChatSessions, session_id: str, user: dict[str, Any]
) -> dict[str, Any]:
    """Ownership first (so an expired foreign session is still 404), then 410 if closed."""
    owned_session(sessions, session_id, user)
    return sessions.get_active(session_id)
