"""The customer's side of a handoff: ask for a person, stop waiting, and follow live events.

The request is a structured action (this route, or the graph's escalation), never a phrase in
the bot's reply. With nobody available (outside support hours or no agent online) the
customer is told so plainly and may leave an email, stored encrypted like ``users.phone``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from app.auth.access import owned_active_session, owned_session
from app.auth.deps import CurrentUser, authenticated_user, get_auth
from app.auth.service import AuthService
from app.auth.users import is_email
from app.envelope import ok
from app.routers.chat import _session_id, chat_service
from app.routers.live import event_stream
from chains.chat import ChatService
from chains.handoff import state as rules
from loaders.errors import InvalidInput

router = APIRouter(
    prefix="/api/v1/chat/sessions", tags=["handoff"], dependencies=[Depends(authenticated_user)]
)


class HandoffRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500)
    email: str | None = Field(default=None, max_length=254)


def customer_message(doc: dict[str, Any], availability: dict[str, Any]) -> str:
    """What the customer is told about the handoff, in plain words."""
    view = rules.view(doc)
    if view["state"] == "with_agent" and view["assigned_agent"]:
        return f"{view['assigned_agent']['name']} from our support team has this conversation."
    if view["state"] != "waiting":
        return "The assistant is answering again. Ask for a person at any time."
    if not view["offline"]:
        return (
            "A member of our support team will join this conversation shortly. You can keep "
            "writing here; they will see your messages."
        )
    why = "outside our support hours" if not availability["within_hours"] else "right now"
    if view["email_collected"]:
        return (
            f"Nobody from our support team is available {why}. We have your email address "
            "and will reply there as soon as someone is back."
        )
    return (
        f"Nobody from our support team is available {why}. Leave your email address and "
        "we will reply there; your request stays in our queue."
    )


def handoff_payload(chat: ChatService, doc: dict[str, Any], cursor: str) -> dict[str, Any]:
    """The state after a move, and ``cursor``, the event id read before the move: a stream
    that starts there misses nothing that happens after it (the move's own event repeats)."""
    availability = chat.handoffs.availability()
    return {
        "session_id": doc["session_id"],
        "last_event_id": cursor,
        "handoff": rules.view(doc) | {"agents_online": availability["agents_online"]},
        "message": customer_message(doc, availability),
    }


@router.post("/{session_id}/handoff")
async def request_handoff(
    request: Request,
    session_id: str,
    user: CurrentUser,
    auth: Annotated[AuthService, Depends(get_auth)],
    body: HandoffRequest | None = None,
    chat: ChatService = Depends(chat_service),
) -> JSONResponse:
    """Ask for a person; again with ``email`` while waiting to leave an address."""
    sid = _session_id(session_id)
    body = body or HandoffRequest()
    email = (body.email or "").strip() or None
    if email is not None and not is_email(email):
        raise InvalidInput("That does not look like an email address.", code="INVALID_EMAIL")

    def run() -> dict[str, Any]:
        owned_active_session(chat.sessions, sid, user)
        cursor = chat.bus.cursor(f"session:{sid}")
        sealed = auth.users.cipher.encrypt(email) if email else None
        reason = (body.reason or "").strip() or "customer_request"
        doc = chat.handoffs.request(sid, reason=reason, explicit=True, email=sealed)
        return handoff_payload(chat, doc, cursor)

    return ok(request, await run_in_threadpool(run))


@router.post("/{session_id}/handoff/cancel")
async def cancel_handoff(
    request: Request, session_id: str, user: CurrentUser, chat: ChatService = Depends(chat_service)
) -> JSONResponse:
    sid = _session_id(session_id)

    def run() -> dict[str, Any]:
        owned_active_session(chat.sessions, sid, user)
        cursor = chat.bus.cursor(f"session:{sid}")
        return handoff_payload(chat, chat.handoffs.cancel(sid), cursor)

    return ok(request, await run_in_threadpool(run))


@router.get("/{session_id}/events", response_model=None)
async def session_events(
    request: Request, session_id: str, user: CurrentUser, chat: ChatService = Depends(chat_service)
) -> StreamingResponse:
    """SSE for the session's owner: agent messages, handoff changes and typing."""
    sid = _session_id(session_id)
    await run_in_threadpool(owned_session, chat.sessions, sid, user)
    return event_stream(request, chat.bus, f"session:{sid}")
