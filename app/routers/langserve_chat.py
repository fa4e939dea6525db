"""The chat graph on LangServe at ``/chat``: invoke, batch, stream, stream_events, playground.

A thin layer (LangServe is in maintenance upstream): the server, never the client, decides the
session and user in ``config["configurable"]``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from langserve import add_routes

from app.routers.chat import _session_id
from chains.chat import complete_configurable, history_factory, with_history


def mount_langserve(app: FastAPI) -> None:
    add_routes(
        app,
        with_history(history_factory(lambda: app.state.chat)),
        path="/chat",
        per_req_config_modifier=bind_session,
        enable_feedback_endpoint=False,
        playground_type="default",
    )


def bind_session(config: dict[str, Any], request: Request) -> dict[str, Any]:
    """Server-side session binding: a new session when none is given, 404/410 otherwise."""
    chat = request.app.state.chat
    configurable = dict(config.get("configurable") or {})
    user = getattr(request.state, "user", None) or {}
    user_id = str(user.get("user_id") or "")
    sid = str(configurable.get("session_id") or "")
    if sid:
        chat.sessions.get_active(_session_id(sid))
    else:
        sid = chat.sessions.create(user_id or None, "api")["session_id"]
    configurable.update(session_id=sid, user_id=user_id)
    return {**config, "configurable": complete_configurable(configurable)}
