"""One chat turn's REST and SSE payloads, and the turn of a session a person holds.

While a session is ``waiting`` or ``with_agent`` the bot does not answer: the customer's
message is stored, relayed to the agents, and the response carries ``bot_response: null`` with
the handoff state (a stream sends that as its one ``final`` event).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from app.envelope import jsonable, meta
from chains.chat import ChatService, complete_configurable
from chains.handoff import state as rules
from chains.handoff.state import is_held
from chains.sessions import MESSAGES


def turn_payload(chat: ChatService, session_id: str, out: dict[str, Any]) -> dict[str, Any]:
    """The seed's send-message response, with ids read back from ``chat_messages``."""
    last = list(
        chat.db[MESSAGES].find({"session_id": session_id}, {"_id": 0}).sort([("seq", -1)]).limit(2)
    )
    bot = next((m for m in last if m["role"] == "assistant"), {})
    user = next((m for m in last if m["role"] == "user"), {})
    return {
        "message_id": bot.get("message_id"),
        "session_id": session_id,
        "user_message": {
            "content": user.get("content"),
            "timestamp": user.get("timestamp"),
            "message_id": user.get("message_id"),
        },
        "bot_response": {
            "content": out["answer"],
            "timestamp": bot.get("timestamp"),
            "message_id": bot.get("message_id"),
            "confidence_score": out["confidence_score"],
            "sources": out["sources"],
        },
        "context_used": {
            "retrieved_documents": len(out["sources"]),
            "conversation_history_length": (bot.get("context_used") or {}).get(
                "conversation_history_length", 0
            ),
        },
        "guardrails": out["guardrails"],
        "escalation": out.get("escalation"),
        "handoff": rules.view(chat.sessions.get(session_id)),
        "usage": out["usage"],
        "timings": out["timings"],
    }


async def stream_turn(
    request: Request,
    chat: ChatService,
    sid: str,
    text: str,
    user_id: str | None,
    config: dict[str, Any],
) -> AsyncIterator[str]:
    """SSE: ``token`` events while the answer is drafted, then ``final`` with the validated turn
    (which replaces the draft when a guardrail rewrote it), or ``error``."""
    configurable = complete_configurable({**config, "session_id": sid, "user_id": user_id or ""})
    final: dict[str, Any] | None = None
    locked = False
    try:
        # Shielded: a client gone while we wait must not leave the lock taken with nobody to
        # release it (the thread would still acquire it after the cancellation).
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(chat.locks.acquire, sid)
        locked = True
        doc = await run_in_threadpool(chat.sessions.get, sid)
        if is_held(doc):  # a person took the conversation while this turn waited its turn
            payload = await run_in_threadpool(held_payload, chat, doc, text)
            yield _sse("final", {"success": True, "data": payload, "meta": meta(request)})
            return
        async for event in chat.runnable.astream_events(
            {"question": text}, {"configurable": configurable}, version="v2"
        ):
            kind = event["event"]
            if (
                kind == "on_chat_model_stream"
                and event.get("metadata", {}).get("langgraph_node") == "generate"
            ):
                token = getattr(event["data"].get("chunk"), "content", "")
                if token:
                    yield _sse("token", {"content": token})
            elif kind == "on_chain_end" and event.get("name") == "SupportChat":
                final = event["data"].get("output")
        if final is not None:
            payload = await run_in_threadpool(turn_payload, chat, sid, final)
            yield _sse("final", {"success": True, "data": payload, "meta": meta(request)})
    except Exception as exc:  # the stream has started: report in-band, never a broken pipe
        code = getattr(exc, "code", "INTERNAL_ERROR")
        status = int(getattr(exc, "status", 500))
        if status >= 500 and chat.sessions.events is not None:  # a 200 the 5xx count misses
            data = {"status": status, "code": code, "route": "stream", "source": "stream"}
            chat.sessions.events.emit("error", session_id=sid, user_id=user_id, data=data)
        yield _sse("error", {"code": code, "message": getattr(exc, "message", "Chat failed.")})
    finally:
        if locked:  # no await here: a cancelled stream would never get past it
            chat.locks.release(sid)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(jsonable(data))}\n\n"


def held_payload(chat: ChatService, doc: dict[str, Any], text: str) -> dict[str, Any]:
    """The customer's message while a person has the conversation: stored, no bot answer."""
    record = chat.conversations.customer_message(doc, text)
    return {
        "message_id": None,
        "session_id": doc["session_id"],
        "user_message": {
            "content": record["content"],
            "timestamp": record["timestamp"],
            "message_id": record["message_id"],
        },
        "bot_response": None,
        "handoff": rules.view(chat.sessions.get(str(doc["session_id"]))),
    }


async def single_final(request: Request, payload: dict[str, Any]) -> AsyncIterator[str]:
    yield _sse("final", {"success": True, "data": payload, "meta": meta(request)})
