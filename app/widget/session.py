"""Opening the widget: one call that starts or resumes a visitor's session and returns all the
widget needs to draw it (tokens, handoff state, recent messages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.auth.errors import InvalidToken, TokenExpired
from app.auth.tokens import TokenService
from app.routers.chat import history_message
from app.widget.visitors import issue_tokens, new_visitor_id
from chains.chat import ChatService
from chains.handoff import state as handoff
from chains.sessions import MESSAGES, SessionGone
from loaders.errors import NotFound
from loaders.settings import Settings

RECENT_MESSAGES = 50
CUSTOMER_ROLES = ("user", "assistant", "agent")  # never internal notes or system records


@dataclass(frozen=True)
class Resume:
    """What a valid refresh token names: the visitor, and its session if still open."""

    visitor_id: str
    session: dict[str, Any] | None


def read_resume(
    chat: ChatService, tokens: TokenService, token: str, *, key_id: str, origin: str
) -> Resume | None:
    """The visitor behind a refresh token for this key and origin; ``None`` when it expired
    (the visitor starts afresh). A forged or foreign token is 401 INVALID_TOKEN."""
    try:
        claims = tokens.decode(token, "visitor_refresh")
    except TokenExpired:
        return None
    if claims.get("kid") != key_id or claims.get("origin") != origin:
        raise InvalidToken("The resume token belongs to another site key or origin.")
    visitor_id = str(claims["sub"])
    try:
        session = chat.sessions.get_active(str(claims.get("sid") or ""))
    except (NotFound, SessionGone):
        session = None
    if session is not None and session.get("user_id") != visitor_id:
        session = None
    return Resume(visitor_id, session)


def open_session(
    chat: ChatService,
    tokens: TokenService,
    settings: Settings,
    *,
    key: dict[str, Any],
    origin: str,
    resume: Resume | None,
    include_messages: bool = True,
) -> dict[str, Any]:
    """The widget's opening payload; a new session when ``resume`` has none open."""
    visitor_id = resume.visitor_id if resume else new_visitor_id()
    session = resume.session if resume else None
    resumed = session is not None
    if session is None:
        session = chat.sessions.create(visitor_id, "web", {"site_key_id": key["key_id"]})
    sid = str(session["session_id"])
    grant = issue_tokens(
        tokens,
        settings,
        visitor_id=visitor_id,
        session_id=sid,
        site_key_id=str(key["key_id"]),
        origin=origin,
    )
    # The live-event cursor first, then the state and messages: whatever changes after this
    # read reaches the widget's event stream, which starts after ``last_event_id``.
    cursor = chat.bus.cursor(f"session:{sid}")
    if resumed:
        session = chat.sessions.get(sid)
    return {
        "session_id": sid,
        "visitor_id": visitor_id,
        "last_event_id": cursor,
        **grant,
        "resumed": resumed,
        "handoff": handoff.view(session),
        "messages": recent_messages(chat, sid) if include_messages and resumed else [],
    }


def recent_messages(
    chat: ChatService, sid: str, limit: int = RECENT_MESSAGES
) -> list[dict[str, Any]]:
    """The last ``limit`` customer-visible messages, oldest first, shaped as
    ``GET /api/v1/chat/sessions/{sid}/messages`` shapes them."""
    query = {"session_id": sid, "role": {"$in": list(CUSTOMER_ROLES)}}
    cursor = chat.db[MESSAGES].find(query, {"_id": 0}).sort([("seq", -1)]).limit(limit)
    return [history_message(m) for m in reversed(list(cursor)) if not _internal(m)]


def _internal(m: dict[str, Any]) -> bool:
    meta = m.get("metadata") or {}
    return bool(meta.get("internal") or meta.get("note"))
