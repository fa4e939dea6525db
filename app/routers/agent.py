"""The agents' side of a handoff: the queue, one conversation, and its moves (support agents
and admins). A claim is atomic: of two agents claiming at once, one gets 409."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from app.auth.deps import STAFF_ROLES, StaffUser, get_auth, require_role
from app.auth.service import AuthService
from app.envelope import ok
from app.routers.chat import MAX_MESSAGE_CHARS, _session_id, chat_service
from app.routers.live import event_stream
from chains.chat import ChatService
from chains.handoff import state as rules
from chains.handoff.store import display_name
from loaders.errors import InvalidInput, NotFound

router = APIRouter(
    prefix="/api/v1/agent", tags=["agent"], dependencies=[Depends(require_role(*STAFF_ROLES))]
)
Chat = Annotated[ChatService, Depends(chat_service)]


class AgentMessage(BaseModel):
    message: str = Field(max_length=MAX_MESSAGE_CHARS)


class Note(BaseModel):
    note: str = Field(max_length=MAX_MESSAGE_CHARS)


class Transfer(BaseModel):
    agent_id: str = Field(max_length=100)


class Release(BaseModel):
    outcome: Literal["resolved", "back_to_bot"]


def _text(value: str, what: str) -> str:
    if not value.strip():
        raise InvalidInput(f"The {what} is empty.", code="EMPTY_MESSAGE")
    return value.strip()


@router.get("/queue")
async def queue(
    request: Request,
    agent: StaffUser,
    chat: Chat,
    state: Literal["waiting", "with_agent"] = "waiting",
    mine: bool = False,
) -> JSONResponse:
    """Waiting sessions oldest first (``state=with_agent&mine=true``: the ones you hold)."""
    chat.bus.touch(str(agent["user_id"]))
    holder = str(agent["user_id"]) if mine else None
    sessions = await run_in_threadpool(chat.conversations.queue, state, holder)
    return ok(request, {"sessions": sessions})


@router.get("/sessions/{session_id}")
async def conversation(
    request: Request,
    session_id: str,
    _: StaffUser,
    chat: Chat,
    auth: Annotated[AuthService, Depends(get_auth)],
) -> JSONResponse:
    """The transcript, notes and handoff; ``contact_email`` is the address an offline
    request left (stored encrypted, shown to staff only)."""
    sid = _session_id(session_id)

    def run() -> dict[str, Any]:
        view = chat.conversations.transcript(sid)
        record = (chat.sessions.get(sid).get("metadata") or {}).get("handoff") or {}
        sealed = record.get("email")
        return view | {"contact_email": auth.users.cipher.decrypt(sealed) if sealed else None}

    return ok(request, await run_in_threadpool(run))


def _handoff(chat: ChatService, doc: dict[str, Any]) -> dict[str, Any]:
    return {"session_id": doc["session_id"], "handoff": rules.view(doc)}


@router.post("/sessions/{session_id}/claim")
async def claim(request: Request, session_id: str, agent: StaffUser, chat: Chat) -> JSONResponse:
    sid = _session_id(session_id)
    doc = await run_in_threadpool(chat.handoffs.claim, sid, agent)
    return ok(request, _handoff(chat, doc))


@router.post("/sessions/{session_id}/messages")
async def reply(
    request: Request, session_id: str, body: AgentMessage, agent: StaffUser, chat: Chat
) -> JSONResponse:
    """A reply to the customer (only from the agent holding the session)."""
    sid, text = _session_id(session_id), _text(body.message, "message")
    record = await run_in_threadpool(chat.conversations.agent_message, sid, agent, text)
    return ok(request, {"message": record}, status_code=201)


@router.post("/sessions/{session_id}/notes")
async def note(
    request: Request, session_id: str, body: Note, agent: StaffUser, chat: Chat
) -> JSONResponse:
    """An internal note: other agents see it, the customer never does."""
    sid, text = _session_id(session_id), _text(body.note, "note")
    record = await run_in_threadpool(chat.conversations.note, sid, agent, text)
    return ok(request, {"note": record}, status_code=201)


@router.post("/sessions/{session_id}/typing")
async def typing(request: Request, session_id: str, agent: StaffUser, chat: Chat) -> JSONResponse:
    sid = _session_id(session_id)
    await run_in_threadpool(chat.conversations.typing, sid, agent)
    return ok(request, {"session_id": sid})


@router.post("/sessions/{session_id}/transfer")
async def transfer(
    request: Request,
    session_id: str,
    body: Transfer,
    agent: StaffUser,
    chat: Chat,
    auth: Annotated[AuthService, Depends(get_auth)],
) -> JSONResponse:
    sid = _session_id(session_id)

    def run() -> dict[str, Any]:
        target = auth.users.by_id(body.agent_id)
        if target is None or target.get("role") not in STAFF_ROLES:
            raise NotFound("No support agent with that id.", code="AGENT_NOT_FOUND")
        if target.get("status", "active") != "active":
            raise InvalidInput("That agent's account is not active.", code="AGENT_NOT_ACTIVE")
        return _handoff(chat, chat.handoffs.transfer(sid, agent, target))

    return ok(request, await run_in_threadpool(run))


@router.post("/sessions/{session_id}/release")
async def release(
    request: Request, session_id: str, body: Release, agent: StaffUser, chat: Chat
) -> JSONResponse:
    """Hand the conversation back: ``resolved``, or ``back_to_bot`` to let the bot answer."""
    sid = _session_id(session_id)
    doc = await run_in_threadpool(chat.handoffs.release, sid, agent, body.outcome)
    return ok(request, _handoff(chat, doc))


@router.get("/agents")
async def agents(
    request: Request,
    _: StaffUser,
    chat: Chat,
    auth: Annotated[AuthService, Depends(get_auth)],
) -> JSONResponse:
    """Support agents and admins, and who is online now (for transfers)."""

    def run() -> list[dict[str, Any]]:
        online = chat.bus.online()
        cursor = auth.users.users.find(
            {"role": {"$in": list(STAFF_ROLES)}, "status": "active"},
            {"_id": 0, "user_id": 1, "full_name": 1, "email": 1, "role": 1},
        ).limit(500)
        return [
            {
                "user_id": u["user_id"],
                "name": display_name(u),
                "role": u["role"],
                "online": u["user_id"] in online,
            }
            for u in cursor
        ]

    return ok(request, {"agents": await run_in_threadpool(run)})


@router.get("/events", response_model=None)
async def agent_events(request: Request, agent: StaffUser, chat: Chat) -> StreamingResponse:
    """SSE for agents: queue changes, customer and agent messages, notes. While it is open
    the agent counts as online (the heartbeat refreshes presence)."""
    agent_id = str(agent["user_id"])
    chat.bus.touch(agent_id)
    return event_stream(request, chat.bus, "agents", on_beat=lambda: chat.bus.touch(agent_id))
