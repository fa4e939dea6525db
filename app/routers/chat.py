"""Chat sessions REST API (seed: Chat Management APIs); streams with Accept: text/event-stream."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from app.auth.access import owned_active_session, owned_session, readable_session
from app.auth.deps import CurrentUser, authenticated_user, is_admin, is_staff
from app.auth.errors import Forbidden
from app.envelope import ok
from app.routers.chat_turns import held_payload, single_final, stream_turn, turn_payload
from chains.analytics.events import feedback_data
from chains.chat import ChatService
from chains.handoff.state import is_held
from chains.sessions import MESSAGES, now
from loaders.errors import InvalidInput, ServiceUnavailable

# Router-level auth as well as per-route callers: a route added later is protected too.
router = APIRouter(
    prefix="/api/v1/chat/sessions", tags=["chat"], dependencies=[Depends(authenticated_user)]
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_MESSAGE_CHARS = 4000


class InitializeRequest(BaseModel):
    user_id: str | None = Field(
        default=None, description="Ignored: a session belongs to the authenticated caller."
    )
    channel: Literal["web", "mobile", "api"] = "web"
    metadata: dict[str, str] = Field(default_factory=dict)


class MessageRequest(BaseModel):
    message: str
    message_type: Literal["text"] = "text"
    metadata: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Per-request settings: model, temperature, top_k, prompt_version...",
    )


class Feedback(BaseModel):
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)
    resolved: bool | None = None


class EndRequest(BaseModel):
    feedback: Feedback | None = None


def chat_service(request: Request) -> ChatService:
    svc = getattr(request.app.state, "chat", None)
    if svc is None:
        raise ServiceUnavailable("The chat service is still starting; retry in a few seconds.")
    return svc  # type: ignore[no-any-return]


def _session_id(value: str) -> str:
    if not _UUID.match(value):
        raise InvalidInput("The session id is not a valid UUID.", code="INVALID_SESSION_ID")
    return value


ALLOWED_CONFIG = {
    "model",
    "temperature",
    "max_tokens",
    "top_k",
    "min_relevance_score",
    "filters",
    "prompt_version",
    "fallback_model",
}


def _message(body: MessageRequest) -> str:
    text = body.message.strip()
    if not text:
        raise InvalidInput("The message is empty.", code="EMPTY_MESSAGE")
    if len(body.message) > MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"The message is longer than {MAX_MESSAGE_CHARS} characters.", code="MESSAGE_TOO_LONG"
        )
    unknown = set(body.config) - ALLOWED_CONFIG
    if unknown:
        raise InvalidInput(
            f"Unknown config keys: {', '.join(sorted(unknown))}.", code="INVALID_CONFIG"
        )
    return body.message


@router.post("/initialize")
def initialize(
    request: Request,
    body: InitializeRequest,
    user: CurrentUser,
    chat: ChatService = Depends(chat_service),
) -> JSONResponse:
    doc = chat.sessions.create(user["user_id"], body.channel, body.metadata)
    return ok(
        request,
        {k: doc[k] for k in ("session_id", "user_id", "status", "expires_at")}
        | {
            "created_at": doc["started_at"],
            "context": {"conversation_count": 0, "last_activity": doc["started_at"]},
        },
    )


SessionFilter = Literal["escalated", "active", "ended", "abandoned"]


@router.get("")
def list_sessions(
    request: Request,
    user: CurrentUser,
    status: SessionFilter | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
    chat: ChatService = Depends(chat_service),
) -> JSONResponse:
    """Support agents and admins see every session (``status=escalated`` is their queue);
    other callers see only their own."""
    query: dict[str, Any] = {}
    if status == "escalated":
        query["metadata.escalated"] = True
    elif status:
        query["status"] = status
    if not is_staff(user):
        query["user_id"] = user["user_id"]
    col = chat.sessions.col
    total = col.count_documents(query)
    cursor = (
        col.find(query, {"_id": 0})
        .sort([("started_at", -1)])  # set once on insert: one type on every server
        .skip((page - 1) * page_size)
        .limit(page_size)
    )
    sessions = [
        {
            "session_id": d["session_id"],
            "user_id": d.get("user_id"),
            "channel": d.get("channel"),
            "status": d.get("status"),
            "started_at": d.get("started_at"),
            "last_message_at": d.get("last_message_at"),
            "conversation_count": (d.get("context") or {}).get("conversation_count", 0),
            "escalated": bool((d.get("metadata") or {}).get("escalated")),
            "escalation": (d.get("metadata") or {}).get("escalation"),
        }
        for d in cursor
    ]
    pagination = {
        "page": page,
        "page_size": page_size,
        "total_pages": math.ceil(total / page_size),
        "total_sessions": total,
    }
    return ok(request, {"sessions": sessions, "pagination": pagination})


@router.post("/{session_id}/messages", response_model=None)
async def send_message(
    request: Request,
    session_id: str,
    body: MessageRequest,
    user: CurrentUser,
    chat: ChatService = Depends(chat_service),
) -> JSONResponse | StreamingResponse:
    sid = _session_id(session_id)
    text = _message(body)
    if body.config and not is_admin(user):
        raise Forbidden(
            "Per-request settings (config) are for admins; send the message without them.",
            code="CONFIG_NOT_ALLOWED",
        )
    user_id = str(user["user_id"])
    if "text/event-stream" in request.headers.get("accept", ""):
        doc = await run_in_threadpool(owned_active_session, chat.sessions, sid, user)
        if is_held(doc):  # a person has the conversation: one ``final`` event, no bot turn
            held = await run_in_threadpool(held_payload, chat, doc, text)
            return StreamingResponse(single_final(request, held), media_type="text/event-stream")
        return StreamingResponse(
            stream_turn(request, chat, sid, text, user_id, body.config),
            media_type="text/event-stream",
        )

    def turn() -> dict[str, Any]:  # one thread-pool hop for the whole turn
        doc = owned_active_session(chat.sessions, sid, user)
        if is_held(doc):
            return held_payload(chat, doc, text)
        out = chat.ask(sid, text, user_id=user_id, configurable=body.config, unless_held=True)
        if out is None:  # a person took the conversation while this turn waited its turn
            return held_payload(chat, chat.sessions.get(sid), text)
        return turn_payload(chat, sid, out)

    return ok(request, await run_in_threadpool(turn))


@router.get("/{session_id}/messages")
def history(
    request: Request,
    session_id: str,
    user: CurrentUser,
    page: int = Query(1, ge=1),
    page_size: int = Query(20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
    chat: ChatService = Depends(chat_service),
) -> JSONResponse:
    sid = _session_id(session_id)
    readable_session(chat.sessions, sid, user)
    col = chat.db[MESSAGES]
    total = col.count_documents({"session_id": sid})
    direction = 1 if order == "asc" else -1
    cursor = (
        col.find({"session_id": sid}, {"_id": 0})
        .sort([("seq", direction)])
        .skip((page - 1) * page_size)
        .limit(page_size)
    )
    messages = [history_message(m) for m in cursor]
    return ok(
        request,
        {
            "session_id": sid,
            "messages": messages,
            "pagination": {
                "page": page,
                "page_size": page_size,
                "total_pages": math.ceil(total / page_size),
                "total_messages": total,
            },
        },
    )


def history_message(m: dict[str, Any]) -> dict[str, Any]:
    """One ``chat_messages`` record as the customer's history shows it (REST and widget)."""
    extra = {k: m[k] for k in ("ai_metadata", "context_used", "guardrails") if k in m}
    return {
        "message_id": m["message_id"],
        "role": m["role"],
        "content": m["content"],
        "timestamp": m["timestamp"],
        "metadata": extra | (m.get("metadata") or {}),
    }


class FeedbackRequest(BaseModel):
    """LangServe-style feedback on one bot answer (stored in MongoDB, not LangSmith)."""

    session_id: str
    message_id: str | None = None
    run_id: str | None = None
    key: str = Field(default="user_score", max_length=64)
    score: float = Field(ge=0, le=5)
    comment: str | None = Field(default=None, max_length=2000)


feedback_router = APIRouter(tags=["chat"], dependencies=[Depends(authenticated_user)])


@feedback_router.post("/chat/feedback")
def feedback(
    request: Request,
    body: FeedbackRequest,
    user: CurrentUser,
    chat: ChatService = Depends(chat_service),
) -> JSONResponse:
    """Feedback for the playground and frontends (session owner only); LangServe's own needs
    LangSmith."""
    sid = _session_id(body.session_id)
    owned_session(chat.sessions, sid, user)
    if body.message_id and not chat.db[MESSAGES].find_one(
        {"session_id": sid, "message_id": body.message_id, "role": "assistant"}
    ):
        raise InvalidInput(
            "No bot message with that id in this session.", code="MESSAGE_NOT_FOUND", status=404
        )
    doc = body.model_dump() | {"user_id": user["user_id"], "created_at": now()}
    chat.db["chat_feedback"].insert_one(dict(doc))
    doc.pop("_id", None)
    if chat.sessions.events is not None:
        rating = body.score if body.key == "user_score" else None
        data = feedback_data(rating=rating, resolved=None, source="chat_feedback", key=body.key)
        chat.sessions.events.emit("feedback", session_id=sid, user_id=user["user_id"], data=data)
    return ok(request, doc, status_code=201)


@router.post("/{session_id}/end")
def end(
    request: Request,
    session_id: str,
    user: CurrentUser,
    body: EndRequest | None = None,
    chat: ChatService = Depends(chat_service),
) -> JSONResponse:
    sid = _session_id(session_id)
    owned_session(chat.sessions, sid, user)
    feedback = body.feedback.model_dump(exclude_none=True) if body and body.feedback else None
    return ok(request, chat.sessions.end(sid, feedback))
